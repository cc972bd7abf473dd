package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/store"
	"github.com/inviter/inviter/web"
)

// benchOptions are the settings of inviter bench.
type benchOptions struct {
	users          int
	events         int
	api            string // public, cc or both
	rate           rateFlag
	faults         bool
	lateVisibility time.Duration
	scenario       string // invite, ingest or all
	db             string
	batchSize      int
	batchWindow    time.Duration
	dirRefresh     time.Duration
	deliveries     int
	senders        int
	naiveSample    int
	naiveWorkers   int
	timeout        time.Duration
	cpuProfile     string
	scaleUsers     string // tenant sizes of the scale scenario
	scaleWaves     string // wave sizes of the scale scenario
	cellBudget     time.Duration
	daemonMode     string // process or in-process (scale scenario)
	serveBinary    string // inviter binary the scale scenario runs serve with
}

func newBenchCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &benchOptions{rate: rateFlag{n: 1000, per: time.Second}}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure API calls, latency and intake throughput against a built-in fake tenant",
		Long: `Run scenarios against an in-process fake ISC tenant with the real daemon
(HTTP on loopback, a real database) and print a table and one RESULT line
per scenario.

invite: the tenant has --users identities and subscribes the daemon to its
Identity Created trigger; --events new identities are created in a burst.
Counted at the tenant: every API call (token, lists, invites, lookups),
and the time from each identity's creation to the tenant sending its
invitation. The same run measures the naive algorithms on fresh tenants
of the same size: naive public (one invite call per event) and naive cc
(for each event, page /cc/api/user/list from offset 0 until externalId
matches, then invite that short id), counted at their tenants; naive cc
runs on an even sample of the events (--naive-sample) and is extrapolated,
which the output says. ratio is calls / naive_calls.

ingest: 16 concurrent senders (--senders) post valid Identity Created
payloads straight to the webhook; measured: 200 answers (each after its
commit) per second and the time to each answer. The same run measures
River's bare InsertTx on a fresh database of the same backend (one
transaction per job, same senders, no HTTP) and prints the ratio.

scale (only when asked for: it runs for minutes): cost against size, for
each tenant of --scale-users identities × wave of --scale-waves new
identities × path: calls, calls per joiner, wall time and its ratio to the
rate-limit floor at --rate, the daemon's CPU time and peak RSS (inviter
serve runs as a child process, VmHWM), database bytes per delivery and
p50/p99 from event to invitation. A cell estimated to take longer than
--cell-budget is skipped, and the table says so.`,
		Example: `  inviter bench
  inviter bench --api cc --faults --visibility-delay 1s
  inviter bench --scenario ingest --db postgres://localhost/inviter_bench
  inviter bench --scenario scale --scale-users 100000 --scale-waves 100000 --api public --rate 100/10s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.users, "users", 20000, "identities the fake tenant has before the burst")
	fs.IntVar(&o.events, "events", 2000, "new identities created in the burst (invite scenario)")
	fs.StringVar(&o.api, "api", "both", "invite path: public, cc or both")
	fs.Var(&o.rate, "rate", "rate limit of the tenant and of the client, per API version, as N/DURATION (calls do not depend on it)")
	fs.BoolVar(&o.faults, "faults", false, "switch on API faults (5 % 5xx, 2 % connection resets)")
	fs.DurationVar(&o.lateVisibility, "visibility-delay", 0, "new identities show in the tenant's lists only this long after their event")
	fs.StringVar(&o.scenario, "scenario", "all", "scenarios to run: invite, ingest, scale or all (all is invite and ingest; scale runs for minutes)")
	fs.StringVar(&o.db, "db", "", "database: a SQLite file or a postgres:// URL (default: a temporary SQLite file per scenario)")
	fs.IntVar(&o.batchSize, "batch-size", 100, "identities per invite call")
	fs.DurationVar(&o.batchWindow, "batch-window", 250*time.Millisecond, "how long the first identity of a batch waits for others")
	fs.DurationVar(&o.dirRefresh, "directory-refresh", 5*time.Second, "with --api cc: least time between two refreshes of the /cc user index")
	fs.IntVar(&o.deliveries, "deliveries", 5000, "deliveries posted in the ingest scenario")
	fs.IntVar(&o.senders, "senders", 16, "concurrent senders in the ingest scenario")
	fs.IntVar(&o.naiveSample, "naive-sample", 100, "events the naive cc baseline runs, extrapolated to --events (0: all)")
	fs.IntVar(&o.naiveWorkers, "naive-workers", 8, "concurrent workers of the naive baselines")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a scenario after this long")
	fs.StringVar(&o.scaleUsers, "scale-users", "10000,100000,1000000", "scale scenario: tenant sizes, comma-separated")
	fs.StringVar(&o.scaleWaves, "scale-waves", "1000,10000,100000", "scale scenario: wave sizes (new identities), comma-separated")
	fs.DurationVar(&o.cellBudget, "cell-budget", 4*time.Minute, "scale scenario: skip a cell estimated to take longer than this here (the output says so)")
	fs.StringVar(&o.daemonMode, "daemon", "process", "scale scenario: run the daemon as a child process (inviter serve; its own peak RSS is measured) or in-process")
	fs.StringVar(&o.serveBinary, "serve-binary", "", "scale scenario: the inviter binary to run serve with (default: this one)")
	_ = fs.MarkHidden("serve-binary")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (bench, fake tenant and in-process daemon) to this file")
	return cmd
}

func (o *benchOptions) validate() error {
	switch {
	case o.users < 0:
		return usagef("--users must not be negative")
	case o.events <= 0:
		return usagef("--events must be positive")
	case o.api != "public" && o.api != "cc" && o.api != "both":
		return usagef("--api must be public, cc or both, not %q", o.api)
	case o.scenario != "invite" && o.scenario != "ingest" && o.scenario != "scale" && o.scenario != "all":
		return usagef("--scenario must be invite, ingest, scale or all, not %q", o.scenario)
	case o.daemonMode != "process" && o.daemonMode != "in-process":
		return usagef("--daemon must be process or in-process, not %q", o.daemonMode)
	case o.cellBudget <= 0:
		return usagef("--cell-budget must be positive")
	case o.batchSize <= 0:
		return usagef("--batch-size must be positive")
	case o.batchWindow <= 0:
		return usagef("--batch-window must be positive")
	case o.dirRefresh <= 0:
		return usagef("--directory-refresh must be positive")
	case o.lateVisibility < 0:
		return usagef("--visibility-delay must not be negative")
	case o.deliveries <= 0 || o.senders <= 0:
		return usagef("--deliveries and --senders must be positive")
	case o.naiveSample < 0 || o.naiveWorkers <= 0:
		return usagef("--naive-sample must not be negative and --naive-workers must be positive")
	case o.timeout <= 0:
		return usagef("--timeout must be positive")
	}
	return nil
}

// inviteResult is what one invite scenario measured.
type inviteResult struct {
	api          inviter.API
	invited      int // wave identities the tenant mailed
	duplicates   int // wave identities mailed more than once
	calls        int // every call the tenant received, token calls included
	inviteCalls  int
	listCalls    int
	tokenCalls   int
	otherCalls   int
	rateLimited  int // 429 answers
	byEndpoint   map[string]int
	wall         time.Duration // first creation to last invitation
	p50, p99     time.Duration // creation to invitation
	naiveCalls   int
	naiveSampled int // 0: the naive baseline ran every event
}

func (r inviteResult) callsPerInvite() float64 { return float64(r.calls) / float64(max(r.invited, 1)) }

func (r inviteResult) ratio() float64 { return float64(r.calls) / float64(max(r.naiveCalls, 1)) }

// ingestResult is what the ingest scenario measured.
type ingestResult struct {
	backend  string
	senders  int
	sent     int
	acked    int // 200 answers
	failed   int // other answers and transport errors
	stored   int // deliveries the daemon's intake committed
	wall     time.Duration
	p50, p99 time.Duration
	// reference is River's bare InsertTx in the same run, when measured.
	reference *ingestResult
}

func (r ingestResult) perSecond() float64 { return float64(r.acked) / r.wall.Seconds() }

// referenceRatio is inviter's acknowledged deliveries a second ÷ River's
// bare inserts a second.
func (r ingestResult) referenceRatio() float64 {
	if r.reference == nil || r.reference.acked == 0 {
		return 0
	}
	return r.perSecond() / r.reference.perSecond()
}

func (o *benchOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	out := &lockedWriter{w: stdout}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var apis []inviter.API
	switch o.api {
	case "public":
		apis = []inviter.API{inviter.APIPublic}
	case "cc":
		apis = []inviter.API{inviter.APICC}
	default:
		apis = []inviter.API{inviter.APIPublic, inviter.APICC}
	}
	fmt.Fprintf(out, "bench: users=%d events=%d rate=%s faults=%t late_visibility=%s batch=%d/%s db=%s\n",
		o.users, o.events, o.rate.String(), o.faults, o.lateVisibility, o.batchSize, o.batchWindow, o.dbLabel())

	var invites []inviteResult
	if o.scenario == "invite" || o.scenario == "all" {
		for _, api := range apis {
			fmt.Fprintf(out, "invite %s: daemon…\n", api)
			r, err := o.runInvite(ctx, api, out)
			if err != nil {
				return fmt.Errorf("invite scenario (%s): %w", api, err)
			}
			fmt.Fprintf(out, "invite %s: naive baseline…\n", api)
			r.naiveCalls, r.naiveSampled, err = o.runNaive(ctx, api)
			if err != nil {
				return fmt.Errorf("naive %s baseline: %w", api, err)
			}
			invites = append(invites, r)
		}
	}
	if o.scenario == "scale" {
		if _, err := parseSizes("--scale-users", o.scaleUsers); err != nil {
			return err
		}
		if _, err := parseSizes("--scale-waves", o.scaleWaves); err != nil {
			return err
		}
		cells, err := o.runScale(ctx, apis, out)
		o.printScale(out, cells)
		var failures []string
		for _, c := range cells {
			if c.skipped != "" {
				fmt.Fprintf(out, "RESULT scenario=scale api=%s users=%d wave=%d skipped=cell-budget estimated_s=%.0f cell_budget=%s\n", c.api, c.users, c.wave, c.estimate.Seconds(), o.cellBudget)
				continue
			}
			fmt.Fprintf(out, "RESULT scenario=scale api=%s users=%d wave=%d invited=%d duplicates=%d calls=%d calls_per_joiner=%.4f wall_s=%.2f floor_s=%.2f wall_per_floor=%.3f rate=%s daemon_cpu_s=%.1f peak_rss_bytes=%d db_bytes_per_delivery=%d p50_ms=%d p99_ms=%d daemon=%s\n",
				c.api, c.users, c.wave, c.invited, c.duplicates, c.calls, c.callsPerJoiner(), c.wall.Seconds(), c.floor.Seconds(), c.floorRatio(),
				o.rate.String(), c.cpu.Seconds(), c.peakRSS, c.dbBytes/int64(max(c.wave, 1)), c.p50.Milliseconds(), c.p99.Milliseconds(), o.daemonMode)
			if c.invited != c.wave || c.duplicates > 0 {
				failures = append(failures, fmt.Sprintf("scale %s users=%d wave=%d: %d invited, %d more than once", c.api, c.users, c.wave, c.invited, c.duplicates))
			}
		}
		if err != nil {
			return err
		}
		if len(failures) > 0 {
			return errors.New(strings.Join(failures, "; "))
		}
		return nil
	}

	var ingest *ingestResult
	if o.scenario == "ingest" || o.scenario == "all" {
		fmt.Fprintf(out, "ingest: %d deliveries from %d senders…\n", o.deliveries, o.senders)
		r, err := o.runIngest(ctx)
		if err != nil {
			return fmt.Errorf("ingest scenario: %w", err)
		}
		fmt.Fprintf(out, "ingest: River's bare InsertTx, %d jobs from %d goroutines, one transaction each…\n", o.deliveries, o.senders)
		ref, err := o.runRiverReference(ctx, r.backend)
		if err != nil {
			return fmt.Errorf("ingest scenario, River reference: %w", err)
		}
		r.reference = &ref
		ingest = &r
	}

	o.printTables(out, invites, ingest)
	var failures []string
	for _, r := range invites {
		naive := fmt.Sprintf("naive_calls=%d", r.naiveCalls)
		if r.naiveSampled > 0 {
			naive = fmt.Sprintf("naive_calls≈%d (sampled %d events)", r.naiveCalls, r.naiveSampled)
		}
		fmt.Fprintf(out, "RESULT scenario=invite api=%s users=%d events=%d invited=%d duplicates=%d calls=%d invite_calls=%d list_calls=%d token_calls=%d other_calls=%d rate_limited=%d calls_per_invite=%.4f %s ratio=%.5f wall_s=%.2f p50_ms=%d p99_ms=%d faults=%t late_visibility=%s\n",
			r.api, o.users, o.events, r.invited, r.duplicates, r.calls, r.inviteCalls, r.listCalls, r.tokenCalls, r.otherCalls, r.rateLimited,
			r.callsPerInvite(), naive, r.ratio(), r.wall.Seconds(), r.p50.Milliseconds(), r.p99.Milliseconds(), o.faults, o.lateVisibility)
		if r.invited != o.events {
			failures = append(failures, fmt.Sprintf("%s: %d of %d identities invited", r.api, r.invited, o.events))
		}
		if r.duplicates > 0 {
			failures = append(failures, fmt.Sprintf("%s: %d identities invited more than once", r.api, r.duplicates))
		}
	}
	if ingest != nil {
		r := ingest
		ref := ""
		if rr := r.reference; rr != nil {
			ref = fmt.Sprintf(" river_inserttx_per_s=%.0f river_p50_ms=%.1f river_p99_ms=%.1f ratio_to_river=%.2f", rr.perSecond(), millis(rr.p50), millis(rr.p99), r.referenceRatio())
		}
		fmt.Fprintf(out, "RESULT scenario=ingest backend=%s senders=%d deliveries=%d acked=%d failed=%d stored=%d acked_per_s=%.0f wall_s=%.2f p50_ms=%.1f p99_ms=%.1f%s\n",
			r.backend, r.senders, r.sent, r.acked, r.failed, r.stored, r.perSecond(), r.wall.Seconds(),
			millis(r.p50), millis(r.p99), ref)
		if r.acked != r.sent || r.stored < r.acked {
			failures = append(failures, fmt.Sprintf("ingest: %d sent, %d acknowledged, %d stored", r.sent, r.acked, r.stored))
		}
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	return nil
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (o *benchOptions) printTables(w io.Writer, invites []inviteResult, ingest *ingestResult) {
	fmt.Fprintln(w)
	if len(invites) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "invite\tusers\tevents\tinvited\tdup\tcalls\tinvite\tlist\ttoken\tother\t429s\tcalls/invite\tnaive calls\tratio\twall s\tp50 ms\tp99 ms\t")
		for _, r := range invites {
			naive := fmt.Sprint(r.naiveCalls)
			if r.naiveSampled > 0 {
				naive = "≈" + naive + "*"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.4f\t%s\t%.5f\t%.2f\t%d\t%d\t\n",
				r.api, o.users, o.events, r.invited, r.duplicates, r.calls, r.inviteCalls, r.listCalls, r.tokenCalls, r.otherCalls,
				r.rateLimited, r.callsPerInvite(), naive, r.ratio(), r.wall.Seconds(), r.p50.Milliseconds(), r.p99.Milliseconds())
		}
		tw.Flush()
		for _, r := range invites {
			if r.naiveSampled > 0 {
				fmt.Fprintf(w, "* naive %s ran %d of %d events (evenly spread) and was extrapolated\n", r.api, r.naiveSampled, o.events)
			}
			var eps []string
			for _, ep := range slices.Sorted(maps.Keys(r.byEndpoint)) {
				eps = append(eps, fmt.Sprintf("%s=%d", ep, r.byEndpoint[ep]))
			}
			fmt.Fprintf(w, "  %s calls by endpoint: %s\n", r.api, strings.Join(eps, ", "))
		}
		fmt.Fprintln(w)
	}
	if ingest != nil {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ingest\tbackend\tsenders\tsent\tacked\tfailed\tstored\tacked/s\twall s\tp50 ms\tp99 ms\t")
		for _, r := range []*ingestResult{ingest, ingest.reference} {
			if r == nil {
				continue
			}
			name := "inviter"
			if r == ingest.reference {
				name = "River InsertTx"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t%.1f\t%.1f\t\n", name, r.backend, r.senders, r.sent, r.acked, r.failed, r.stored,
				r.perSecond(), r.wall.Seconds(), millis(r.p50), millis(r.p99))
		}
		tw.Flush()
		if ingest.reference != nil {
			fmt.Fprintf(w, "inviter ÷ River's bare InsertTx (one transaction per job, no HTTP, same driver and synchronous setting): %.2f\n", ingest.referenceRatio())
		}
		fmt.Fprintln(w)
	}
}

func (o *benchOptions) dbLabel() string {
	switch {
	case o.db == "":
		return "temporary SQLite"
	case store.IsPostgresDSN(o.db):
		return redact.DSN(o.db)
	}
	return o.db
}

// database returns the DSN one scenario uses and a function removing what
// it created.
func (o *benchOptions) database() (string, func(), error) {
	if o.db != "" {
		return o.db, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "inviter-bench-")
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, "inviter.db"), func() { os.RemoveAll(dir) }, nil
}

func (o *benchOptions) newTenant(users int) *isctest.Server {
	return isctest.NewServer(isctest.Options{Users: users, RateLimit: o.rate.n, RateWindow: o.rate.per})
}

// setFaults switches on the faults of --faults, as inviter demo does.
func (o *benchOptions) setFaults(t *isctest.Server) {
	if o.faults {
		t.SetFaults(isctest.Faults{ErrorRate: 0.05, ResetRate: 0.02, Seed: 1})
	}
}

func (o *benchOptions) clientConfig(tenant *isctest.Server) isc.Config {
	return isc.Config{
		BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(),
		UserAgent: "inviter-bench/" + version, RateLimit: o.rate.n, RateWindow: o.rate.per, Retries: 3,
	}
}

// benchDaemon is a daemon running for one scenario.
type benchDaemon struct {
	addr  string
	token string
	errc  chan error
	stop  func() error
}

// startDaemon runs runDaemon against tenant on a loopback port, as inviter
// serve would with its defaults and the bench's flags.
func (o *benchOptions) startDaemon(ctx context.Context, tenant *isctest.Server, dsn string, api inviter.API, onDelivery func(inviter.IdentityCreated, bool)) (*benchDaemon, error) {
	d := &benchDaemon{token: randomToken(), errc: make(chan error, 1)}
	ready := make(chan string, 1)
	dctx, cancel := context.WithCancel(ctx)
	cfg := app.Config{
		ISC: o.clientConfig(tenant),
		DB:  dsn, Listen: "127.0.0.1:0", Auth: web.Auth{BearerToken: d.token}, API: api,
		BatchSize: o.batchSize, BatchWindow: o.batchWindow, VisibilityDelay: 10 * time.Minute,
		DirectoryRefresh: o.dirRefresh, JobTimeout: 2 * time.Minute, RescueAfter: 5 * time.Minute,
		ShutdownWait: 10 * time.Second,
		Logger:       newLogger(io.Discard, false),
		Ready:        func(addr string) { ready <- addr },
		OnDelivery:   onDelivery,
	}
	go func() { d.errc <- runApp(dctx, cfg) }()
	var once sync.Once
	var stopErr error
	d.stop = func() error {
		once.Do(func() {
			cancel()
			if err := <-d.errc; err != nil && !errors.Is(err, context.Canceled) {
				stopErr = err
			}
		})
		return stopErr
	}
	select {
	case d.addr = <-ready:
		return d, nil
	case err := <-d.errc:
		cancel()
		return nil, fmt.Errorf("starting the daemon: %w", err)
	case <-ctx.Done():
		cancel()
		<-d.errc
		return nil, ctx.Err()
	}
}

// runInvite measures the daemon on one invite path.
func (o *benchOptions) runInvite(ctx context.Context, api inviter.API, progress io.Writer) (inviteResult, error) {
	res := inviteResult{api: api}
	tenant := o.newTenant(o.users)
	defer tenant.Close()
	dsn, cleanup, err := o.database()
	if err != nil {
		return res, err
	}
	defer cleanup()
	d, err := o.startDaemon(ctx, tenant, dsn, api, nil)
	if err != nil {
		return res, err
	}
	defer d.stop()

	// Subscribe the daemon to the tenant's trigger, as an admin would; the
	// calls of this setup are not counted.
	admin, err := isc.New(ctx, o.clientConfig(tenant))
	if err != nil {
		return res, err
	}
	_, err = admin.CreateSubscription(ctx, isc.Subscription{
		Name: "inviter bench", TriggerID: isc.TriggerIdentityCreated, Type: "HTTP", Enabled: true,
		HTTPConfig: &isc.HTTPConfig{
			URL: "http://" + d.addr + "/hooks/identity-created", HTTPDispatchMode: "SYNC",
			HTTPAuthenticationType: "BEARER_TOKEN", BearerTokenAuthConfig: &isc.BearerConfig{BearerToken: d.token},
		},
	})
	if err != nil {
		return res, fmt.Errorf("subscribing the daemon: %w", err)
	}
	o.setFaults(tenant)
	tenant.ResetCalls()

	// The burst: every identity created at once, each event delivered by
	// the tenant as it is created.
	created := make(map[string]time.Time, o.events)
	start := time.Now()
	for range o.events {
		id := tenant.CreateIdentity(isctest.NewIdentity{Department: "Engineering", VisibleAfter: o.lateVisibility})
		created[id.ID] = id.Created
	}

	last, err := waitWaveInvited(ctx, tenant, created, o.timeout, d.errc, func(n int) {
		fmt.Fprintf(progress, "  %5.1fs invited %d/%d, calls %d\n", time.Since(start).Seconds(), n, o.events, tenant.CallCount(""))
	})
	if err != nil {
		return res, err
	}
	res.wall = last.Sub(start)
	// Stop the daemon before counting, so that every call it makes is in.
	if err := d.stop(); err != nil {
		return res, fmt.Errorf("the daemon stopped with an error: %w", err)
	}

	var lat []time.Duration
	perID := map[string]int{}
	firstAt := map[string]time.Time{}
	for _, inv := range tenant.Invites() {
		if _, ok := created[inv.IdentityID]; !ok {
			continue
		}
		perID[inv.IdentityID]++
		if at, ok := firstAt[inv.IdentityID]; !ok || inv.At.Before(at) {
			firstAt[inv.IdentityID] = inv.At
		}
	}
	for id, n := range perID {
		res.invited++
		if n > 1 {
			res.duplicates++
		}
		lat = append(lat, firstAt[id].Sub(created[id]))
	}
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	res.byEndpoint = map[string]int{}
	for _, c := range tenant.Calls() {
		res.byEndpoint[c.Endpoint]++
		res.calls++
		switch classify(c.Endpoint) {
		case "invite":
			res.inviteCalls++
		case "list":
			res.listCalls++
		case "token":
			res.tokenCalls++
		default:
			res.otherCalls++
		}
	}
	res.rateLimited = tenant.RateLimited()
	return res, nil
}

// classify sorts an isctest endpoint into invite, list, token or other.
func classify(endpoint string) string {
	method, path, _ := strings.Cut(endpoint, " ")
	switch {
	case path == "/oauth/token":
		return "token"
	case method == "POST" && strings.HasSuffix(path, "/invite"):
		return "invite"
	case method == "GET" && (strings.HasSuffix(path, "/list") || strings.HasSuffix(path, "/identities")):
		return "list"
	}
	return "other"
}

// waitWaveInvited waits until the tenant has mailed every identity of created,
// and returns when the last of those first mails went out.
func waitWaveInvited(ctx context.Context, tenant *isctest.Server, created map[string]time.Time, timeout time.Duration, daemonErr <-chan error, progress func(int)) (last time.Time, err error) {
	deadline := time.After(timeout)
	// Each look copies the tenant's invitations: look less often at large
	// waves, so that the bench does not take the daemon's CPU.
	every := max(20*time.Millisecond, time.Duration(len(created))*10*time.Microsecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastReport := time.Now()
	for {
		seen := map[string]bool{}
		last = time.Time{}
		for _, inv := range tenant.Invites() {
			if _, ok := created[inv.IdentityID]; !ok || seen[inv.IdentityID] {
				continue
			}
			seen[inv.IdentityID] = true
			if inv.At.After(last) {
				last = inv.At
			}
		}
		if len(seen) == len(created) {
			return last, nil
		}
		if time.Since(lastReport) >= 5*time.Second {
			lastReport = time.Now()
			progress(len(seen))
		}
		select {
		case <-tick.C:
		case <-deadline:
			return last, fmt.Errorf("timed out after %s: %d of %d identities invited", timeout, len(seen), len(created))
		case err := <-daemonErr:
			return last, fmt.Errorf("the daemon stopped: %v", err)
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
}

// percentile returns the p-th percentile (nearest rank) of d; it sorts d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// runNaive measures a naive baseline on a fresh tenant with the same users
// and events as the scenario, and returns its calls (extrapolated from
// the sample, which it returns too, for a sampled run; 0 means all events
// ran). The naive code starts once every new identity is visible, which
// spares it the retries a late identity would cost it: the baseline is
// counted in its favour.
func (o *benchOptions) runNaive(ctx context.Context, api inviter.API) (calls, sampled int, err error) {
	tenant := o.newTenant(o.users)
	defer tenant.Close()
	o.setFaults(tenant)
	wave := tenant.CreateIdentities(o.events, func(int) isctest.NewIdentity {
		return isctest.NewIdentity{Department: "Engineering", VisibleAfter: o.lateVisibility}
	})
	if o.lateVisibility > 0 {
		select {
		case <-time.After(o.lateVisibility):
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
	ids := make([]string, len(wave))
	for i, w := range wave {
		ids[i] = w.ID
	}
	if api == inviter.APICC && o.naiveSample > 0 && o.naiveSample < len(ids) {
		sampled = o.naiveSample
		sample := make([]string, sampled)
		for i := range sample {
			sample[i] = ids[i*len(ids)/sampled]
		}
		ids = sample
	}
	tenant.ResetCalls()
	cctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	c, err := isc.New(cctx, o.clientConfig(tenant))
	if err != nil {
		return 0, 0, err
	}
	if api == inviter.APICC {
		err = naiveCC(cctx, c, ids, o.naiveWorkers)
	} else {
		err = naivePublic(cctx, c, ids, o.naiveWorkers)
	}
	if err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		if tenant.InviteCount(id) == 0 {
			return 0, 0, fmt.Errorf("the naive %s code did not invite %s", api, id)
		}
	}
	calls = tenant.CallCount("")
	if sampled > 0 {
		tokens := tenant.CallCount("POST /oauth/token")
		calls = tokens + int(math.Round(float64(calls-tokens)*float64(o.events)/float64(sampled)))
	}
	return calls, sampled, nil
}

// naiveAttempts is how many times the naive code sends one call again after
// an error the client's own retries did not cure.
const naiveAttempts = 5

// naivePublic is the obvious public-API integration: one invite call per
// event, from a few workers.
func naivePublic(ctx context.Context, c *isc.Client, ids []string, workers int) error {
	return forEachID(ctx, ids, workers, func(id string) error {
		return retryNaive(ctx, func() error {
			_, err := c.InviteIdentities(ctx, []string{id})
			return err
		})
	})
}

// naiveCC is the forum answer's algorithm: for each event, page
// /cc/api/user/list from offset 0 until an item's externalId is the
// event's identity id, then invite that item's short id.
func naiveCC(ctx context.Context, c *isc.Client, ids []string, workers int) error {
	return forEachID(ctx, ids, workers, func(id string) error {
		for start := 0; ; start += isc.CCPageSize {
			var page isc.CCUserPage
			err := retryNaive(ctx, func() error {
				var err error
				page, err = c.ListCCUsers(ctx, start, isc.CCPageSize)
				return err
			})
			if err != nil {
				return err
			}
			for _, u := range page.Items {
				if u.ExternalID == id {
					return retryNaive(ctx, func() error { return c.InviteCC(ctx, []string{u.ID}) })
				}
			}
			if len(page.Items) == 0 || start+len(page.Items) >= page.Total {
				return fmt.Errorf("identity %s is not in /cc/api/user/list", id)
			}
		}
	})
}

func retryNaive(ctx context.Context, f func() error) error {
	var err error
	for range naiveAttempts {
		if err = f(); err == nil || isc.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// forEachID calls f for every id from workers goroutines and returns the
// first error.
func forEachID(ctx context.Context, ids []string, workers int, f func(string) error) error {
	next := make(chan string)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	for range workers {
		wg.Go(func() {
			for id := range next {
				if err := f(id); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
feed:
	for _, id := range ids {
		select {
		case next <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// runIngest posts valid Identity Created payloads straight to the webhook
// of a running daemon from o.senders goroutines and times each answer.
// The daemon works the invite jobs meanwhile, as it would in production.
func (o *benchOptions) runIngest(ctx context.Context) (ingestResult, error) {
	res := ingestResult{senders: o.senders, sent: o.deliveries}
	tenant := o.newTenant(0)
	defer tenant.Close()
	o.setFaults(tenant)
	dsn, cleanup, err := o.database()
	if err != nil {
		return res, err
	}
	defer cleanup()
	res.backend = store.BackendSQLite
	if store.IsPostgresDSN(dsn) {
		res.backend = store.BackendPostgres
	}
	// Identities the tenant knows (no subscription: no events from it), so
	// the daemon's invites succeed.
	idents := tenant.CreateIdentities(o.deliveries, nil)
	payloads := make([][]byte, len(idents))
	for i, id := range idents {
		payloads[i], err = json.Marshal(map[string]any{
			"identity":   map[string]string{"type": "IDENTITY", "id": id.ID, "name": id.Name},
			"attributes": id.Attributes,
		})
		if err != nil {
			return res, err
		}
	}
	var stored atomic.Int64
	d, err := o.startDaemon(ctx, tenant, dsn, inviter.APIPublic, func(inviter.IdentityCreated, bool) { stored.Add(1) })
	if err != nil {
		return res, err
	}
	defer d.stop()

	tr := &http.Transport{MaxIdleConnsPerHost: o.senders, MaxConnsPerHost: o.senders}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := "http://" + d.addr + "/hooks/identity-created"
	lat := make([]time.Duration, len(payloads))
	ok := make([]bool, len(payloads))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range o.senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(payloads) || ctx.Err() != nil {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payloads[i]))
				if err != nil {
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+d.token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				ok[i] = resp.StatusCode == http.StatusOK
			}
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	var acked []time.Duration
	for i := range ok {
		if ok[i] {
			acked = append(acked, lat[i])
		}
	}
	res.acked = len(acked)
	res.failed = res.sent - res.acked
	res.stored = int(stored.Load())
	res.p50, res.p99 = percentile(acked, 50), percentile(acked, 99)
	if err := d.stop(); err != nil {
		return res, fmt.Errorf("the daemon stopped with an error: %w", err)
	}
	return res, nil
}
