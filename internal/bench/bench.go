// Package bench is inviter bench: scenarios that run the real daemon
// against a fake ISC tenant (package harness) and measure it. invite counts
// the API calls and the time from a new identity to its invitation, beside
// the naive algorithms; ingest measures the webhook's acknowledged
// deliveries a second beside River's bare InsertTx; scale measures cost
// against tenant and wave size. Each scenario returns its results as
// values, which print as tables and RESULT lines.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/store"
)

// Scenario names, as --scenario takes them.
const (
	ScenarioInvite = "invite"
	ScenarioIngest = "ingest"
	ScenarioScale  = "scale"
	// ScenarioAll is invite and ingest; scale runs only when named.
	ScenarioAll = "all"
)

// Daemon modes of the scale scenario, as --daemon takes them.
const (
	// DaemonProcess runs inviter serve as a child process, whose own peak
	// RSS and CPU time are measured.
	DaemonProcess = "process"
	// DaemonInProcess runs the daemon in this process.
	DaemonInProcess = "in-process"
)

// Config is a bench run's settings, inviter bench's flags. Run expects it
// to pass Validate.
type Config struct {
	// Users is the tenant's identities before the wave.
	Users int
	// Events is the wave of the invite scenario.
	Events int
	// APIs are the invite paths to measure, in order.
	APIs []inviter.API
	// RateLimit calls per RateWindow is the rate limit of the tenant and of
	// the daemon's client, per API version.
	RateLimit  int
	RateWindow time.Duration
	// Faults switches on harness.StandardFaults on every tenant.
	Faults bool
	// LateVisibility is how long new identities take to show in the
	// tenant's lists.
	LateVisibility time.Duration
	// Scenario is ScenarioInvite, ScenarioIngest, ScenarioScale or
	// ScenarioAll.
	Scenario string
	// DB is the database: a SQLite file or a postgres:// URL; "": a
	// temporary SQLite file per scenario.
	DB string
	// BatchSize, BatchWindow and DirectoryRefresh are the daemon's settings
	// of the same names.
	BatchSize        int
	BatchWindow      time.Duration
	DirectoryRefresh time.Duration
	// Deliveries and Senders are the ingest scenario's posts and
	// concurrent senders.
	Deliveries, Senders int
	// NaiveSample is the events the naive cc baseline runs, extrapolated
	// to Events; 0: all. NaiveWorkers are the baselines' concurrent
	// workers.
	NaiveSample, NaiveWorkers int
	// Timeout bounds each scenario's wait.
	Timeout time.Duration
	// ScaleUsers and ScaleWaves are the scale scenario's tenant and wave
	// sizes.
	ScaleUsers, ScaleWaves []int
	// CellBudget skips a scale cell estimated to take longer.
	CellBudget time.Duration
	// Daemon is DaemonProcess or DaemonInProcess (scale scenario).
	Daemon string
	// ServeBinary is the inviter binary the scale scenario runs serve with;
	// "": this process's executable.
	ServeBinary string
	// CPUProfile, when set, is the file a CPU profile of the whole run is
	// written to.
	CPUProfile string
	// Version goes into the daemon's User-Agent ("inviter-bench/VERSION").
	Version string
}

// Validate checks the settings a bench run needs; its errors name inviter
// bench's flags.
func (c Config) Validate() error {
	switch {
	case c.Users < 0:
		return errors.New("--users must not be negative")
	case c.Events <= 0:
		return errors.New("--events must be positive")
	case c.Scenario != ScenarioInvite && c.Scenario != ScenarioIngest && c.Scenario != ScenarioScale && c.Scenario != ScenarioAll:
		return fmt.Errorf("--scenario must be invite, ingest, scale or all, not %q", c.Scenario)
	case c.Daemon != DaemonProcess && c.Daemon != DaemonInProcess:
		return fmt.Errorf("--daemon must be process or in-process, not %q", c.Daemon)
	case c.CellBudget <= 0:
		return errors.New("--cell-budget must be positive")
	case c.BatchSize <= 0:
		return errors.New("--batch-size must be positive")
	case c.BatchWindow <= 0:
		return errors.New("--batch-window must be positive")
	case c.DirectoryRefresh <= 0:
		return errors.New("--directory-refresh must be positive")
	case c.LateVisibility < 0:
		return errors.New("--visibility-delay must not be negative")
	case c.Deliveries <= 0 || c.Senders <= 0:
		return errors.New("--deliveries and --senders must be positive")
	case c.NaiveSample < 0 || c.NaiveWorkers <= 0:
		return errors.New("--naive-sample must not be negative and --naive-workers must be positive")
	case c.Timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

// ParseSizes reads a comma-separated list of positive counts (an
// underscore may group digits); its errors name flag.
func ParseSizes(flag, s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive count", flag, f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s must list at least one count", flag)
	}
	return out, nil
}

// rate is the rate limit written N/DURATION, as --rate takes it.
func (c Config) rate() string { return fmt.Sprintf("%d/%s", c.RateLimit, c.RateWindow) }

func (c Config) runs(scenario string) bool {
	return c.Scenario == scenario || c.Scenario == ScenarioAll && scenario != ScenarioScale
}

// dbLabel names the database for the header, without a password.
func (c Config) dbLabel() string {
	switch {
	case c.DB == "":
		return "temporary SQLite"
	case store.IsPostgresDSN(c.DB):
		return redact.DSN(c.DB)
	}
	return c.DB
}

// rigOptions are the harness options of a scenario's daemon: inviter
// serve's defaults with the bench's settings.
func (c Config) rigOptions(api inviter.API, users int) harness.Options {
	return harness.Options{
		Users: users, API: api, DB: c.DB, RateLimit: c.RateLimit, RateWindow: c.RateWindow,
		BatchSize: c.BatchSize, BatchWindow: c.BatchWindow, DirectoryRefresh: c.DirectoryRefresh,
		VisibilityDelay: 10 * time.Minute, JobTimeout: 2 * time.Minute, RescueAfter: 5 * time.Minute,
		ShutdownWait: 10 * time.Second, UserAgent: "inviter-bench/" + c.Version, Version: c.Version, TempPrefix: "inviter-bench-",
	}
}

// Run runs the scenarios cfg names and prints their progress, tables and
// RESULT lines to out. It fails when a scenario fails or measures a wave
// not wholly invited, an identity invited twice or a delivery lost.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	out = harness.SyncWriter(out)
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	PrintHeader(out, cfg)

	var r Report
	r.Config = cfg
	if cfg.runs(ScenarioInvite) {
		for _, api := range cfg.APIs {
			fmt.Fprintf(out, "invite %s: daemon…\n", api)
			res, err := Invite(ctx, cfg, api, out)
			if err != nil {
				return fmt.Errorf("invite scenario (%s): %w", api, err)
			}
			fmt.Fprintf(out, "invite %s: naive baseline…\n", api)
			res.NaiveCalls, res.NaiveSampled, err = Naive(ctx, cfg, api)
			if err != nil {
				return fmt.Errorf("naive %s baseline: %w", api, err)
			}
			r.Invites = append(r.Invites, res)
		}
	}
	if cfg.runs(ScenarioScale) {
		cells, err := Scale(ctx, cfg, out)
		s := ScaleReport{Config: cfg, Cells: cells}
		s.Print(out)
		if err != nil {
			return err
		}
		return failed(s.Failures())
	}
	if cfg.runs(ScenarioIngest) {
		fmt.Fprintf(out, "ingest: %d deliveries from %d senders…\n", cfg.Deliveries, cfg.Senders)
		res, err := Ingest(ctx, cfg)
		if err != nil {
			return fmt.Errorf("ingest scenario: %w", err)
		}
		fmt.Fprintf(out, "ingest: River's bare InsertTx, %d jobs from %d goroutines, one transaction each…\n", cfg.Deliveries, cfg.Senders)
		ref, err := RiverInsertTx(ctx, cfg, res.Backend)
		if err != nil {
			return fmt.Errorf("ingest scenario, River reference: %w", err)
		}
		res.Reference = &ref
		r.Ingest = &res
	}
	r.Print(out)
	return failed(r.Failures())
}

// PrintHeader prints the line that begins a run's output: its settings.
func PrintHeader(w io.Writer, cfg Config) {
	fmt.Fprintf(w, "bench: users=%d events=%d rate=%s faults=%t late_visibility=%s batch=%d/%s db=%s\n",
		cfg.Users, cfg.Events, cfg.rate(), cfg.Faults, cfg.LateVisibility, cfg.BatchSize, cfg.BatchWindow, cfg.dbLabel())
}

func failed(failures []string) error {
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	return nil
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
