package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "\uFEFF# Who gets invited\n"+
		"\n"+
		"cloudLifecycleState in (active, prehire)   # joiners only\n"+
		"   # an indented comment\n"+
		"department != Contractors\r\n"+
		`email ~ "@example\.com$"`+"\n"+
		"\n"+
		"start-date-attribute: startDate  # HR start date\n"+
		"Invite-Days-Before: 5\n"+
		"timezone: \"Europe/Berlin\"\n")
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	wantRules := []string{
		"cloudLifecycleState in (active, prehire)   # joiners only",
		"department != Contractors",
		`email ~ "@example\.com$"`,
	}
	if strings.Join(cfg.Rules, "\n") != strings.Join(wantRules, "\n") {
		t.Errorf("Rules = %q\nwant %q", cfg.Rules, wantRules)
	}
	if cfg.StartDateAttribute != "startDate" || cfg.InviteDaysBefore != 5 || cfg.Location == nil || cfg.Location.String() != "Europe/Berlin" {
		t.Errorf("settings = %q, %d, %v", cfg.StartDateAttribute, cfg.InviteDaysBefore, cfg.Location)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Decide(map[string]any{"cloudLifecycleState": "prehire", "department": "Sales", "email": "a@example.com", "startDate": "2025-07-01"}, now)
	if want := time.Date(2025, 6, 26, 7, 0, 0, 0, time.UTC); !d.At.Equal(want) {
		t.Errorf("Decide: %+v, want At %v", d, want)
	}
}

func TestLoadZeroDaysMeansOnStartDate(t *testing.T) {
	t.Parallel()
	cfg, err := Load(writeFile(t, "start-date-attribute: startDate\ninvite-days-before: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InviteDaysBefore != OnStartDate {
		t.Errorf("InviteDaysBefore = %d, want OnStartDate", cfg.InviteDaysBefore)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	t.Parallel()
	cfg, err := Load(writeFile(t, "# nothing yet\n"))
	if err != nil || len(cfg.Rules) != 0 || cfg.StartDateAttribute != "" {
		t.Errorf("Load = %+v, %v; want the zero Config", cfg, err)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, want string
	}{
		{"bad rule", "email present\ncloudLifecycleState in (active\n",
			`policy.conf:2:24: policy rule "cloudLifecycleState in (active": missing ")" to close the list`},
		{"unknown setting", "start-date: startDate\n", `policy.conf:1: unknown setting "start-date" (known: start-date-attribute, invite-days-before, timezone)`},
		{"bad days", "start-date-attribute: startDate\ninvite-days-before: seven\n", `policy.conf:2: invite-days-before: "seven" is not a whole number of days`},
		{"negative days", "start-date-attribute: startDate\ninvite-days-before: -1\n", `policy.conf:2: invite-days-before: "-1" is not a whole number`},
		{"days without attribute", "invite-days-before: 3\n", "policy.conf:1: invite-days-before needs start-date-attribute"},
		{"bad zone", "timezone: Mars/Olympus\n", `policy.conf:1: timezone: unknown time zone "Mars/Olympus"`},
		{"duplicate", "timezone: UTC\ntimezone: UTC\n", "policy.conf:2: timezone is already set on line 1"},
		{"empty setting", "start-date-attribute:\n", "policy.conf:1: start-date-attribute: missing value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.text)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load: no error")
			}
			if got := strings.TrimPrefix(err.Error(), filepath.Dir(path)+string(filepath.Separator)); !strings.HasPrefix(got, tt.want) {
				t.Errorf("Load: %s\nwant %s", got, tt.want)
			}
		})
	}
	t.Run("rule error type", func(t *testing.T) {
		t.Parallel()
		_, err := Load(writeFile(t, "\n\nemail bogus\n"))
		re, ok := errors.AsType[*RuleError](err)
		if !ok || re.Line != 3 || re.Column != 7 || re.Rule != "email bogus" {
			t.Errorf("Load: %#v, want a *RuleError on line 3, column 7", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		if _, err := Load(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load: %v, want os.ErrNotExist", err)
		}
	})
}
