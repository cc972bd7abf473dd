package app

import (
	"errors"
	"testing"
	"time"

	"github.com/inviter/inviter"
)

// TestNewKeepsWhatItIsGiven: New fills in only the defaults its fields
// document; a zero ShutdownWait stays zero (serve --shutdown-wait 0 hands
// running jobs back at once), and the job timeout and rescue follow the
// batch window and the client's timeout and retries.
func TestNewKeepsWhatItIsGiven(t *testing.T) {
	cfg := Config{DB: "inviter.db", BatchSize: 100, BatchWindow: 250 * time.Millisecond, API: inviter.APIPublic}
	cfg.ISC.Timeout, cfg.ISC.Retries = 30*time.Second, 3
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.ShutdownWait != 0 {
		t.Errorf("ShutdownWait = %s, want 0 as given", a.cfg.ShutdownWait)
	}
	if want := JobTimeoutFor(cfg.BatchWindow, cfg.ISC.Timeout, cfg.ISC.Retries); a.cfg.JobTimeout != want || a.cfg.RescueAfter != want+time.Minute {
		t.Errorf("JobTimeout %s, RescueAfter %s, want %s and a minute more", a.cfg.JobTimeout, a.cfg.RescueAfter, want)
	}
	if a.cfg.RetryCommand != RetryCommand(cfg.DB) || a.cfg.Version != "dev" || a.cfg.Logger == nil {
		t.Errorf("defaults: retry %q, version %q, logger %v", a.cfg.RetryCommand, a.cfg.Version, a.cfg.Logger)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.DB = "" },
		func(c *Config) { c.BatchSize = 0 },
		func(c *Config) { c.BatchWindow = 0 },
		func(c *Config) { c.API = "soap" },
		func(c *Config) { c.JobTimeout, c.RescueAfter = time.Minute, time.Minute },
	} {
		c := cfg
		bad(&c)
		var se *SettingError
		if _, err := New(c); !errors.As(err, &se) {
			t.Errorf("New(%+v) = %v, want a *SettingError", c, err)
		}
	}
}
