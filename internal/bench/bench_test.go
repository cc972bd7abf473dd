package bench

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/store"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// smallConfig is a bench run of tiny sizes with inviter bench's defaults.
func smallConfig() Config {
	return Config{
		Users: 300, Events: 30, APIs: []inviter.API{inviter.APIPublic, inviter.APICC},
		RateLimit: 1000, RateWindow: time.Second, Scenario: ScenarioAll,
		BatchSize: 100, BatchWindow: 100 * time.Millisecond, DirectoryRefresh: 5 * time.Second,
		Deliveries: 100, Senders: 8, NaiveSample: 10, NaiveWorkers: 4, Timeout: 2 * time.Minute,
		CellBudget: 4 * time.Minute, Daemon: DaemonProcess, Version: "test",
	}
}

// serveBinary builds the inviter command for the scale cells that run it
// as a child process.
func serveBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "inviter")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/inviter/inviter/cmd/inviter").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBenchScale runs scale cells with tiny sizes and the daemon as a child
// process: each cell that runs invites its whole wave once and reports
// calls, the child's peak RSS and CPU time and database bytes; a cell too
// large for the budget is skipped and says so. It asserts no timing.
func TestBenchScale(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: it builds inviter and runs inviter serve twice")
	}
	t.Parallel()
	cfg := smallConfig()
	cfg.Scenario, cfg.ScaleUsers, cfg.ScaleWaves, cfg.ServeBinary = ScenarioScale, []int{300}, []int{40, 5_000_000}, serveBinary(t)
	cells, err := Scale(testContext(t), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 4 {
		t.Fatalf("%d cells, want 4: %+v", len(cells), cells)
	}
	for _, c := range cells {
		if c.Wave == 5_000_000 {
			if c.Skipped == "" || c.Estimate <= cfg.CellBudget {
				t.Errorf("%s: the 5,000,000 wave ran or was not estimated over the budget: %+v", c.API, c)
			}
			continue
		}
		if c.Skipped != "" || c.Invited != 40 || c.Duplicates != 0 || c.Users != 300 {
			t.Errorf("%s: %+v, want 40 of 300 users invited once", c.API, c)
		}
		if c.Calls <= 0 || c.PeakRSS <= 0 || c.DBBytes <= 0 || c.CPU <= 0 || c.Wall <= 0 {
			t.Errorf("%s: calls, peak RSS, CPU, database bytes or wall not measured: %+v", c.API, c)
		}
	}
	var out bytes.Buffer
	s := ScaleReport{Config: cfg, Cells: cells}
	s.Print(&out)
	if f := s.Failures(); len(f) > 0 {
		t.Errorf("failures %v", f)
	}
	for _, want := range []string{"skipped: estimated", "VmHWM of the inviter serve child process", "skipped=cell-budget", "daemon=process"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the scale output lacks %q:\n%s", want, out.String())
		}
	}
	if got := strings.Count(out.String(), "RESULT scenario=scale "); got != 4 {
		t.Errorf("%d RESULT lines, want 4:\n%s", got, out.String())
	}
}

// TestBenchScaleInProcess runs one cell with the daemon in this process: the
// peak RSS is this process's, and no CPU time is claimed for the daemon.
func TestBenchScaleInProcess(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.APIs, cfg.Daemon, cfg.ScaleUsers, cfg.ScaleWaves = []inviter.API{inviter.APICC}, DaemonInProcess, []int{200}, []int{25}
	cells, err := Scale(testContext(t), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 1 {
		t.Fatalf("cells %+v", cells)
	}
	c := cells[0]
	if c.Invited != 25 || c.Duplicates != 0 || c.PeakRSS <= 0 || c.CPU != 0 || c.DBBytes <= 0 {
		t.Fatalf("cell %+v", c)
	}
}

// TestBenchIngest measures the ingest scenario and River's reference on
// PostgreSQL (with INVITER_TEST_POSTGRES_URL) and on SQLite.
func TestBenchIngest(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{store.BackendSQLite, store.BackendPostgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			cfg := smallConfig()
			if backend == store.BackendPostgres {
				cfg.DB = storetest.PostgresDSN(t)
			}
			ctx := testContext(t)
			res, err := Ingest(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Backend != backend || res.Sent != 100 || res.Acked != 100 || res.Failed != 0 || res.Stored != 100 || res.Senders != 8 {
				t.Fatalf("ingest %+v", res)
			}
			ref, err := RiverInsertTx(ctx, cfg, res.Backend)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Backend != backend || ref.Acked != 100 || ref.Stored != 100 || ref.PerSecond() <= 0 {
				t.Fatalf("River reference %+v", ref)
			}
			res.Reference = &ref
			if res.ReferenceRatio() <= 0 {
				t.Fatalf("ratio %v", res.ReferenceRatio())
			}
		})
	}
}

// TestBenchInviteAndNaive: the daemon invites the burst once each with fewer
// calls than the naive public code's one a event, under faults.
func TestBenchInviteAndNaive(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.Faults = true
	ctx := testContext(t)
	res, err := Invite(ctx, cfg, inviter.APIPublic, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Invited != 30 || res.Duplicates != 0 || res.Calls.Invite == 0 || res.Calls.Token == 0 {
		t.Fatalf("invite %+v", res)
	}
	res.NaiveCalls, res.NaiveSampled, err = Naive(ctx, cfg, inviter.APIPublic)
	if err != nil {
		t.Fatal(err)
	}
	if res.NaiveSampled != 0 || res.NaiveCalls < 30 || res.Calls.Total >= res.NaiveCalls {
		t.Fatalf("calls %d, naive %d (sampled %d)", res.Calls.Total, res.NaiveCalls, res.NaiveSampled)
	}
	r := Report{Config: cfg, Invites: []InviteResult{res}}
	if f := r.Failures(); len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
}

func TestBenchReportFailures(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	r := Report{Config: cfg,
		Invites: []InviteResult{{API: inviter.APIPublic, Invited: 29}, {API: inviter.APICC, Invited: 30, Duplicates: 2}},
		Ingest:  &IngestResult{Sent: 100, Acked: 99, Stored: 99, Wall: time.Second},
	}
	got := strings.Join(r.Failures(), "; ")
	want := "public: 29 of 30 identities invited; cc: 2 identities invited more than once; ingest: 100 sent, 99 acknowledged, 99 stored"
	if got != want {
		t.Fatalf("failures %q, want %q", got, want)
	}
	var out bytes.Buffer
	r.Print(&out)
	for _, want := range []string{"RESULT scenario=invite api=public users=300 events=30 invited=29 ", "RESULT scenario=ingest backend= senders=0 deliveries=100 acked=99 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBenchEstimateCell: the fake tenant's id index and kept /cc list leave a
// 1,000,000-user tenant's smaller waves inside the default budget, while a
// wave of millions stays out.
func TestBenchEstimateCell(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	for _, c := range []struct {
		api         inviter.API
		users, wave int
		fits        bool
	}{
		{inviter.APIPublic, 1_000_000, 10_000, true},
		{inviter.APICC, 1_000_000, 10_000, true},
		{inviter.APIPublic, 1_000_000, 100_000, true},
		{inviter.APIPublic, 300, 5_000_000, false},
		{inviter.APICC, 300, 5_000_000, false},
	} {
		est := cfg.estimateCell(c.api, c.users, c.wave, 800)
		if fits := est <= cfg.CellBudget; fits != c.fits {
			t.Errorf("%s users=%d wave=%d: estimated %s, fits %t, want %t", c.api, c.users, c.wave, est, fits, c.fits)
		}
	}
}

func TestBenchRateFloor(t *testing.T) {
	t.Parallel()
	var calls []isctest.Call
	calls = append(calls, isctest.Call{Path: "/oauth/token"})
	for range 30 {
		calls = append(calls, isctest.Call{Path: "/beta/identities/invite"})
	}
	for range 10 {
		calls = append(calls, isctest.Call{Path: "/v2025/identities"})
	}
	if got := rateFloor(calls, 100, 10*time.Second); got != 3*time.Second {
		t.Fatalf("floor %s, want 3s (30 beta calls at 100 per 10 s)", got)
	}
}

func TestBenchVmHWM(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(p, []byte("Name:\tinviter\nVmPeak:\t  900 kB\nVmHWM:\t   1234 kB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := vmHWM(p); err != nil || got != 1234*1024 {
		t.Fatalf("vmHWM = %d, %v", got, err)
	}
	if err := os.WriteFile(p, []byte("Name:\tinviter\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := vmHWM(p); err == nil || !strings.Contains(err.Error(), "no VmHWM") {
		t.Fatalf("no VmHWM line: %v", err)
	}
	self, err := (&measuredProcess{}).peak()
	if err != nil || self <= 0 {
		t.Fatalf("this process's peak: %d, %v", self, err)
	}
}
