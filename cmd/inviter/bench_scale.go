package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
)

// scaleCell is one measurement of the scale scenario: one invite path, one
// tenant size, one wave.
type scaleCell struct {
	api        inviter.API
	users      int
	wave       int
	skipped    string // why the cell did not run; "" when it ran
	estimate   time.Duration
	invited    int
	duplicates int
	lost       int // deliveries the daemon did not answer 200
	calls      int
	floor      time.Duration // least time the rate limit allows for the calls
	wall       time.Duration // first event to last first invitation
	peakRSS    int64         // bytes; VmHWM of the measured process
	cpu        time.Duration // the child daemon's CPU time during the wave; 0 in-process
	dbBytes    int64         // database files after the run
	p50, p99   time.Duration // event to invitation
}

func (c scaleCell) callsPerJoiner() float64 { return float64(c.calls) / float64(max(c.wave, 1)) }

func (c scaleCell) floorRatio() float64 {
	if c.floor <= 0 {
		return 0
	}
	return c.wall.Seconds() / c.floor.Seconds()
}

// scaleInFlight is the most events the fake tenant has in flight to the
// daemon at once during a wave: ISC delivers a large aggregation's events
// over time, not all in the same instant, and the fake gives each event one
// attempt with a 10 s timeout, which an unbounded burst of 100,000 would
// exceed on a small machine. It is the same concurrency as a busy tenant's
// event fan-out, far above the 16 senders of the ingest scenario.
const scaleInFlight = 256

// parseSizes reads a comma-separated list of positive counts.
func parseSizes(flag, s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n <= 0 {
			return nil, usagef("%s: %q is not a positive count", flag, f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, usagef("%s must list at least one count", flag)
	}
	return out, nil
}

// estimateCell guesses how long a cell takes here: the wave's intake at
// ingestRate deliveries a second or the rate-limit floor of its calls,
// whichever is longer, plus building the tenant and the fake tenant's own
// work, which grows with its size: it scans every identity for each
// lookup of the public path (about 0.5 µs an identity here, beside the
// intake) and for each page of the /cc user list (about 40 ns an identity).
func (o *benchOptions) estimateCell(api inviter.API, users, wave int, ingestRate float64) time.Duration {
	perCall := o.rate.per.Seconds() / float64(o.rate.n)
	batches := float64(wave) / float64(o.batchSize)
	calls := batches // invite calls; lookups are on another API version
	fake := batches * float64(users+wave) * 5e-7
	if api == inviter.APICC {
		pages := float64(users+wave) / float64(isc.CCPageSize)
		calls += pages
		fake = pages * float64(users+wave) * 4e-8
	}
	sec := max(float64(wave)/ingestRate, calls*perCall) + fake
	sec += float64(users)/400_000 + 3
	return time.Duration(sec * float64(time.Second))
}

// runScale runs the scale scenario: every tenant size × wave × path that
// fits the cell budget.
func (o *benchOptions) runScale(ctx context.Context, apis []inviter.API, out io.Writer) ([]scaleCell, error) {
	users, err := parseSizes("--scale-users", o.scaleUsers)
	if err != nil {
		return nil, err
	}
	waves, err := parseSizes("--scale-waves", o.scaleWaves)
	if err != nil {
		return nil, err
	}
	ingestRate := 800.0 // deliveries a second, until a cell measured it
	var cells []scaleCell
	for _, u := range users {
		for _, w := range waves {
			for _, api := range apis {
				cell := scaleCell{api: api, users: u, wave: w}
				if est := o.estimateCell(api, u, w, ingestRate); est > o.cellBudget {
					cell.estimate = est
					cell.skipped = fmt.Sprintf("estimated %s > --cell-budget %s", est.Round(time.Second), o.cellBudget)
					fmt.Fprintf(out, "scale %s users=%d wave=%d: skipped, %s\n", api, u, w, cell.skipped)
					cells = append(cells, cell)
					continue
				}
				fmt.Fprintf(out, "scale %s users=%d wave=%d…\n", api, u, w)
				cell, err := o.runScaleCell(ctx, cell, out)
				if err != nil {
					return cells, fmt.Errorf("scale %s users=%d wave=%d: %w", api, u, w, err)
				}
				if cell.wall > 0 && cell.wave >= 1000 {
					ingestRate = max(100, float64(cell.wave)/cell.wall.Seconds())
				}
				cells = append(cells, cell)
			}
		}
	}
	return cells, nil
}

// runScaleCell measures one cell: a tenant of cell.users identities, the
// daemon subscribed to its Identity Created trigger, and a wave of
// cell.wave new identities.
func (o *benchOptions) runScaleCell(ctx context.Context, cell scaleCell, progress io.Writer) (scaleCell, error) {
	t0 := time.Now()
	tenant := o.newTenant(cell.users)
	defer tenant.Close()
	fmt.Fprintf(progress, "  tenant of %d users built in %.1fs\n", cell.users, time.Since(t0).Seconds())
	dir, err := os.MkdirTemp("", "inviter-bench-scale-")
	if err != nil {
		return cell, err
	}
	defer os.RemoveAll(dir)
	dsn := filepath.Join(dir, "inviter.db")

	d, err := o.startScaleDaemon(ctx, tenant, dsn, cell.api)
	if err != nil {
		return cell, err
	}
	defer d.stop()

	admin, err := isc.New(ctx, o.clientConfig(tenant))
	if err != nil {
		return cell, err
	}
	_, err = admin.CreateSubscription(ctx, isc.Subscription{
		Name: "inviter bench scale", TriggerID: isc.TriggerIdentityCreated, Type: "HTTP", Enabled: true,
		HTTPConfig: &isc.HTTPConfig{
			URL: "http://" + d.addr + "/hooks/identity-created", HTTPDispatchMode: "SYNC",
			HTTPAuthenticationType: "BEARER_TOKEN", BearerTokenAuthConfig: &isc.BearerConfig{BearerToken: d.token},
		},
	})
	if err != nil {
		return cell, fmt.Errorf("subscribing the daemon: %w", err)
	}
	o.setFaults(tenant)
	tenant.ResetCalls()
	if err := d.resetPeak(); err != nil {
		return cell, err
	}
	base := len(tenant.Deliveries())
	cpu0, _ := d.cpuTime()

	// The wave: identities created one after another, at most
	// scaleInFlight of their events unanswered at a time.
	created := make(map[string]time.Time, cell.wave)
	start := time.Now()
	for i := range cell.wave {
		if i >= scaleInFlight {
			if err := tenant.WaitDeliveries(ctx, base+i-scaleInFlight+1); err != nil {
				return cell, err
			}
		}
		id := tenant.CreateIdentity(isctest.NewIdentity{Department: "Engineering", VisibleAfter: o.lateVisibility})
		created[id.ID] = id.Created
	}
	if err := tenant.WaitDeliveries(ctx, base+cell.wave); err != nil {
		return cell, err
	}
	for _, dl := range tenant.Deliveries()[base:] {
		if dl.Status != http.StatusOK {
			cell.lost++
		}
	}
	if cell.lost > 0 {
		return cell, fmt.Errorf("%d of %d deliveries were not answered 200 (the fake tenant does not deliver again)", cell.lost, cell.wave)
	}
	fmt.Fprintf(progress, "  %5.1fs all %d events acknowledged\n", time.Since(start).Seconds(), cell.wave)

	last, err := waitWaveInvited(ctx, tenant, created, o.timeout, d.errc, func(n int) {
		fmt.Fprintf(progress, "  %5.1fs invited %d/%d, calls %d\n", time.Since(start).Seconds(), n, cell.wave, tenant.CallCount(""))
	})
	if err != nil {
		return cell, err
	}
	cell.wall = last.Sub(start)
	cell.peakRSS, err = d.peak()
	if err != nil {
		return cell, err
	}
	if cpu, err := d.cpuTime(); err == nil {
		cell.cpu = cpu - cpu0
	}
	if err := d.stop(); err != nil {
		return cell, fmt.Errorf("the daemon stopped with an error: %w", err)
	}
	cell.dbBytes = filesSize(dsn, dsn+"-wal", dsn+"-shm")

	first := map[string]time.Time{}
	count := map[string]int{}
	for _, inv := range tenant.Invites() {
		if _, ok := created[inv.IdentityID]; !ok {
			continue
		}
		count[inv.IdentityID]++
		if at, ok := first[inv.IdentityID]; !ok || inv.At.Before(at) {
			first[inv.IdentityID] = inv.At
		}
	}
	lat := make([]time.Duration, 0, len(first))
	for id, at := range first {
		cell.invited++
		if count[id] > 1 {
			cell.duplicates++
		}
		lat = append(lat, at.Sub(created[id]))
	}
	cell.p50, cell.p99 = percentile(lat, 50), percentile(lat, 99)
	calls := tenant.Calls()
	cell.calls = len(calls)
	cell.floor = rateFloor(calls, o.rate.n, o.rate.per)
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

// scaleDaemon is the daemon of one scale cell: inviter serve as a child
// process (its peak RSS is its own), or in this process with --daemon
// in-process (the peak then includes the fake tenant and the bench).
type scaleDaemon struct {
	addr  string
	token string
	errc  <-chan error
	stop  func() error
	// pid is the process measured: the child's, or 0 for this process.
	pid int
}

// resetPeak restarts the measured process's peak RSS (VmHWM) from its
// current RSS, so that the peak is the wave's.
func (d *scaleDaemon) resetPeak() error {
	p := "/proc/self/clear_refs"
	if d.pid != 0 {
		p = fmt.Sprintf("/proc/%d/clear_refs", d.pid)
	}
	if err := os.WriteFile(p, []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak RSS: %w", err)
	}
	return nil
}

// peak reads the measured process's peak RSS since resetPeak.
func (d *scaleDaemon) peak() (int64, error) {
	p := "/proc/self/status"
	if d.pid != 0 {
		p = fmt.Sprintf("/proc/%d/status", d.pid)
	}
	return vmHWM(p)
}

// cpuTime is the child daemon's user + system CPU time so far; an error
// in-process.
func (d *scaleDaemon) cpuTime() (time.Duration, error) {
	if d.pid == 0 {
		return 0, errors.New("in-process daemon: no CPU time of its own")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command's closing parenthesis: state is the 3rd
	// field of stat, utime and stime the 14th and 15th.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	if !ok {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// vmHWM reads VmHWM (the peak resident set) from a /proc status file.
func vmHWM(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: VmHWM %q: %w", path, rest, err)
			}
			return kb * 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s has no VmHWM line", path)
}

// startScaleDaemon starts the daemon of a scale cell as --daemon says. The
// child's port is picked free and then handed to it, so another process
// may take it in between: the start is tried again on a new port then.
func (o *benchOptions) startScaleDaemon(ctx context.Context, tenant *isctest.Server, dsn string, api inviter.API) (*scaleDaemon, error) {
	for attempt := 1; ; attempt++ {
		d, err := o.startScaleDaemonOnce(ctx, tenant, dsn, api)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return d, err
		}
	}
}

func (o *benchOptions) startScaleDaemonOnce(ctx context.Context, tenant *isctest.Server, dsn string, api inviter.API) (*scaleDaemon, error) {
	if o.daemonMode == "in-process" {
		bd, err := o.startDaemon(ctx, tenant, dsn, api, nil)
		if err != nil {
			return nil, err
		}
		return &scaleDaemon{addr: bd.addr, token: bd.token, errc: bd.errc, stop: bd.stop}, nil
	}
	bin := o.serveBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the inviter binary to run serve: %w", err)
		}
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	d := &scaleDaemon{addr: addr, token: randomToken()}
	args := []string{"serve", "--listen", addr, "--admin-listen", "off", "--db", dsn, "--api", string(api),
		"--batch-size", strconv.Itoa(o.batchSize), "--batch-window", o.batchWindow.String(),
		"--directory-refresh", o.dirRefresh.String(), "--rate-limit", o.rate.String(),
		"--shutdown-wait", "10s", "--log-level", "warn"}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"SAIL_BASE_URL="+tenant.URL(), "SAIL_CLIENT_ID="+tenant.ClientID(), "SAIL_CLIENT_SECRET="+tenant.ClientSecret(),
		"INVITER_WEBHOOK_TOKEN="+d.token)
	logs := &tailBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s serve: %w", bin, err)
	}
	d.pid = cmd.Process.Pid
	errc := make(chan error, 1)
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
		if waitErr != nil {
			errc <- fmt.Errorf("inviter serve exited: %v\n%s", waitErr, logs.String())
		} else {
			errc <- errors.New("inviter serve exited")
		}
	}()
	d.errc = errc
	var once sync.Once
	var stopErr error
	d.stop = func() error {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
				stopErr = errors.New("inviter serve did not stop within 30 s of SIGTERM; killed")
				return
			}
			var ee *exec.ExitError
			if waitErr != nil && !(errors.As(waitErr, &ee) && ee.ExitCode() == 0) {
				stopErr = fmt.Errorf("inviter serve: %v\n%s", waitErr, logs.String())
			}
		})
		return stopErr
	}
	// Ready once /healthz answers.
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("inviter serve exited at start: %v\n%s", waitErr, logs.String())
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("inviter serve did not answer /healthz within 60 s\n%s", logs.String())
		}
	}
}

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = slices.Clone(b.buf[len(b.buf)-b.max:])
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.Clone(b.buf))
}

// printScale prints the scale table and its notes.
func (o *benchOptions) printScale(w io.Writer, cells []scaleCell) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scale\tusers\twave\tinvited\tdup\tcalls\tcalls/joiner\twall s\tfloor s\twall/floor\tdaemon CPU s\tpeak RSS MB\tDB B/delivery\tp50 ms\tp99 ms\t")
	for _, c := range cells {
		if c.skipped != "" {
			fmt.Fprintf(tw, "%s\t%d\t%d\tskipped: %s\t\t\t\t\t\t\t\t\t\t\t\t\n", c.api, c.users, c.wave, c.skipped)
			continue
		}
		cpu := "-"
		if c.cpu > 0 {
			cpu = fmt.Sprintf("%.1f", c.cpu.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.4f\t%.1f\t%.1f\t%.2f\t%s\t%.0f\t%d\t%d\t%d\t\n",
			c.api, c.users, c.wave, c.invited, c.duplicates, c.calls, c.callsPerJoiner(), c.wall.Seconds(), c.floor.Seconds(),
			c.floorRatio(), cpu, float64(c.peakRSS)/(1<<20), c.dbBytes/int64(max(c.wave, 1)), c.p50.Milliseconds(), c.p99.Milliseconds())
	}
	tw.Flush()
	measured := "VmHWM of the inviter serve child process, reset before each wave"
	if o.daemonMode == "in-process" {
		measured = "VmHWM of this process (daemon, fake tenant and bench together), reset before each wave"
	}
	fmt.Fprintf(w, "rate %s per API version (client and tenant); floor = the most calls on one API version ÷ that rate (token calls are not limited)\n", o.rate.String())
	fmt.Fprintf(w, "daemon CPU: user+system seconds of the serve child during the wave (the fake tenant and the bench use the rest of the machine)\n")
	fmt.Fprintf(w, "peak RSS: %s; DB: SQLite file + WAL after the daemon stopped, ÷ wave; wall: first event to last first invitation; %d events in flight at most\n", measured, scaleInFlight)
	fmt.Fprintln(w)
}
