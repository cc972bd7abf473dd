package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

// ScaleCell is one measurement of the scale scenario: one invite path, one
// tenant size, one wave.
type ScaleCell struct {
	API   inviter.API
	Users int
	Wave  int
	// Skipped says why the cell did not run; "" when it ran. Estimate is
	// then how long it was estimated to take.
	Skipped  string
	Estimate time.Duration
	// Invited is the wave's identities mailed; Duplicates those mailed
	// more than once.
	Invited, Duplicates int
	// Calls is every call the tenant received during the wave.
	Calls int
	// Floor is the least time the rate limit allows for the calls.
	Floor time.Duration
	// Wall is the time from the first event to the last first invitation.
	Wall time.Duration
	// PeakRSS is the measured process's VmHWM during the wave, in bytes.
	PeakRSS int64
	// CPU is the child daemon's CPU time during the wave; 0 in-process.
	CPU time.Duration
	// DBBytes is the size of the database files after the run.
	DBBytes int64
	// P50 and P99 are the times from event to invitation.
	P50, P99 time.Duration
}

// CallsPerJoiner is the calls per identity of the wave.
func (c ScaleCell) CallsPerJoiner() float64 { return float64(c.Calls) / float64(max(c.Wave, 1)) }

// FloorRatio is the wall time ÷ the rate-limit floor; 0 without a floor.
func (c ScaleCell) FloorRatio() float64 {
	if c.Floor <= 0 {
		return 0
	}
	return c.Wall.Seconds() / c.Floor.Seconds()
}

// scaleInFlight is the most events the fake tenant has in flight to the
// daemon at once during a wave: ISC delivers a large aggregation's events
// over time, not all in the same instant, and the fake gives each event one
// attempt with a 10 s timeout, which an unbounded burst of 100,000 would
// exceed on a small machine. It is the same concurrency as a busy tenant's
// event fan-out, far above the 16 senders of the ingest scenario.
const scaleInFlight = 256

// estimateCell guesses how long a cell takes here: the wave's intake at
// ingestRate deliveries a second or the rate-limit floor of its calls,
// whichever is longer, plus building the tenant and the fake tenant's own
// work. The fake answers a lookup by id from its id index (about 1 ms a
// batch of the public path) and a page of the /cc user list from a kept
// ordered list (about 0.35 ms a page), which it rebuilds after each
// addition (about 40 ns an identity): a rebuild for each page read while
// the wave still arrives, as many as the rate limit and the rebuilds
// themselves let through in that time.
func (c Config) estimateCell(api inviter.API, users, wave int, ingestRate float64) time.Duration {
	perCall := c.RateWindow.Seconds() / float64(c.RateLimit)
	batches := float64(wave) / float64(c.BatchSize)
	calls := batches // invite calls; lookups are on another API version
	fake := batches * 1e-3
	if api == inviter.APICC {
		pages := float64(users+wave) / float64(isc.CCPageSize)
		calls += pages
		rebuild := float64(users+wave) * 4e-8
		arriving := float64(wave) / ingestRate
		rebuilt := min(pages, arriving/perCall, arriving/rebuild)
		fake = pages*0.35e-3 + rebuilt*rebuild
	}
	sec := max(float64(wave)/ingestRate, calls*perCall) + fake
	sec += float64(users)/400_000 + 3
	return time.Duration(sec * float64(time.Second))
}

// Scale runs the scale scenario: every tenant size × wave × path of cfg
// that fits the cell budget; the others are returned skipped. Progress
// lines go to progress. On an error it returns the cells done so far.
func Scale(ctx context.Context, cfg Config, progress io.Writer) ([]ScaleCell, error) {
	ingestRate := 800.0 // deliveries a second, until a cell measured it
	var cells []ScaleCell
	for _, u := range cfg.ScaleUsers {
		for _, w := range cfg.ScaleWaves {
			for _, api := range cfg.APIs {
				cell := ScaleCell{API: api, Users: u, Wave: w}
				if est := cfg.estimateCell(api, u, w, ingestRate); est > cfg.CellBudget {
					cell.Estimate = est
					cell.Skipped = fmt.Sprintf("estimated %s > --cell-budget %s", est.Round(time.Second), cfg.CellBudget)
					fmt.Fprintf(progress, "scale %s users=%d wave=%d: skipped, %s\n", api, u, w, cell.Skipped)
					cells = append(cells, cell)
					continue
				}
				fmt.Fprintf(progress, "scale %s users=%d wave=%d…\n", api, u, w)
				cell, err := scaleCell(ctx, cfg, cell, progress)
				if err != nil {
					return cells, fmt.Errorf("scale %s users=%d wave=%d: %w", api, u, w, err)
				}
				if cell.Wall > 0 && cell.Wave >= 1000 {
					ingestRate = max(100, float64(cell.Wave)/cell.Wall.Seconds())
				}
				cells = append(cells, cell)
			}
		}
	}
	return cells, nil
}

// scaleCell measures one cell: a tenant of cell.Users identities, the
// daemon subscribed to its Identity Created trigger, and a wave of
// cell.Wave new identities.
func scaleCell(ctx context.Context, cfg Config, cell ScaleCell, progress io.Writer) (ScaleCell, error) {
	t0 := time.Now()
	o := cfg.rigOptions(cell.API, cell.Users)
	o.DB, o.TempPrefix = "", "inviter-bench-scale-" // a fresh SQLite file, measured after the run
	tenant := harness.NewTenant(o)
	defer tenant.Close()
	fmt.Fprintf(progress, "  tenant of %d users built in %.1fs\n", cell.Users, time.Since(t0).Seconds())
	o.Tenant = tenant
	var measured *measuredProcess // the child; nil in-process
	if cfg.Daemon != DaemonInProcess {
		o.Launch = func(ctx context.Context, tenant *isctest.Server, o harness.Options) (harness.Daemon, error) {
			d, err := startServe(ctx, cfg, tenant, o)
			if err == nil {
				measured = &d.measuredProcess
			}
			return d, err
		}
	} else {
		measured = &measuredProcess{} // this process
	}
	r, err := harness.Start(ctx, o)
	if err != nil {
		return cell, err
	}
	defer r.Close()
	if _, err := r.Subscribe(ctx, "inviter bench scale"); err != nil {
		return cell, err
	}
	if cfg.Faults {
		tenant.SetFaults(harness.StandardFaults())
	}
	tenant.ResetCalls()
	if err := measured.resetPeak(); err != nil {
		return cell, err
	}
	cpu0, _ := measured.cpuTime()

	// The wave: identities created one after another, at most
	// scaleInFlight of their events unanswered at a time.
	w, err := r.CreateWave(ctx, harness.WaveOptions{Size: cell.Wave, InFlight: scaleInFlight, Identity: func(int) isctest.NewIdentity {
		return isctest.NewIdentity{Department: "Engineering", VisibleAfter: cfg.LateVisibility}
	}})
	if err != nil {
		return cell, err
	}
	lost, err := r.WaitDelivered(ctx, w)
	if err != nil {
		return cell, err
	}
	if lost > 0 {
		return cell, fmt.Errorf("%d of %d deliveries were not answered 200 (the fake tenant does not deliver again)", lost, cell.Wave)
	}
	fmt.Fprintf(progress, "  %5.1fs all %d events acknowledged\n", time.Since(w.Start).Seconds(), cell.Wave)

	last, err := r.WaitInvited(ctx, w, harness.WaitOptions{Timeout: cfg.Timeout, Progress: func(n int) {
		fmt.Fprintf(progress, "  %5.1fs invited %d/%d, calls %d\n", time.Since(w.Start).Seconds(), n, cell.Wave, tenant.CallCount(""))
	}})
	if err != nil {
		return cell, err
	}
	cell.Wall = last.Sub(w.Start)
	if cell.PeakRSS, err = measured.peak(); err != nil {
		return cell, err
	}
	if cpu, err := measured.cpuTime(); err == nil {
		cell.CPU = cpu - cpu0
	}
	if err := r.Stop(); err != nil {
		return cell, fmt.Errorf("the daemon stopped with an error: %w", err)
	}
	dsn := r.DB()
	cell.DBBytes = filesSize(dsn, dsn+"-wal", dsn+"-shm")

	t := r.Tally(w)
	cell.Invited, cell.Duplicates = t.Invited, t.Duplicates
	cell.P50, cell.P99 = t.Percentile(50), t.Percentile(99)
	calls := tenant.Calls()
	cell.Calls = len(calls)
	cell.Floor = rateFloor(calls, cfg.RateLimit, cfg.RateWindow)
	return cell, nil
}

// rateFloor is the least time ISC's rate limit of n calls per window for
// each API version allows for calls: the largest count on one version at
// the sustained rate. Token calls are not limited. A sliding window lets
// the first n calls through at once, so a small wave can beat it.
func rateFloor(calls []isctest.Call, n int, window time.Duration) time.Duration {
	byVersion := map[string]int{}
	for _, c := range calls {
		if c.Path == "/oauth/token" {
			continue
		}
		v, _, _ := strings.Cut(strings.TrimPrefix(c.Path, "/"), "/")
		byVersion[v]++
	}
	most := 0
	for _, k := range byVersion {
		most = max(most, k)
	}
	return time.Duration(float64(most) * float64(window) / float64(n))
}

// filesSize is the total size of the files that exist among paths.
func filesSize(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
