package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/web"
)

type demoOptions struct {
	users      int
	identities int
	api        apiFlag
	visibility time.Duration
	faults     bool
	keep       bool
	listen     string
	db         string
	timeout    time.Duration
}

func newDemoCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &demoOptions{api: apiFlag{inviter.APIPublic}}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See the whole flow against a built-in fake tenant, with no setup",
		Long: `Run everything in one process: a fake ISC tenant with a few thousand users,
a temporary SQLite database and the daemon, subscribed to the tenant's
Identity Created trigger. A wave of new identities is created (some slow to
show in lists, some API faults on); the demo prints what happens and a
summary, then exits, or keeps serving with --keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.users, "users", 3000, "identities the fake tenant has at start")
	fs.IntVar(&o.identities, "new", 300, "new identities in the wave")
	fs.Var(&o.api, "api", "invite path: public or cc")
	fs.DurationVar(&o.visibility, "visibility-delay", 1500*time.Millisecond, "how long a new identity takes to show in the tenant's lists (a third of the wave)")
	fs.BoolVar(&o.faults, "faults", true, "switch on API faults (5 % 5xx, 2 % resets)")
	fs.BoolVar(&o.keep, "keep", false, "keep serving after the summary (Ctrl-C to stop)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address of the daemon")
	fs.StringVar(&o.db, "db", "", "SQLite file to use (default: a temporary file, removed at the end)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up waiting for the invitations after this long")
	return cmd
}

func (o *demoOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	if o.users < 0 || o.identities <= 0 {
		return usagef("--users must not be negative and --new must be positive")
	}
	start := time.Now()
	out := &lockedWriter{w: stdout}

	tenant := isctest.NewServer(isctest.Options{Users: o.users})
	defer tenant.Close()
	dbPath := o.db
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "inviter-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "inviter.db")
	}
	token := randomToken()

	var delivered, invited atomic.Int64
	var mu sync.Mutex
	deliveredAt := map[string]time.Time{}
	var latencies []time.Duration
	var shownEvents, shownResults atomic.Int64
	const showFirst = 5

	ready := make(chan string, 1)
	daemonCtx, stopDaemon := context.WithCancel(ctx)
	defer stopDaemon()
	daemonErr := make(chan error, 1)
	adminAddr := make(chan string, 1)
	cfg := app.Config{
		ISC: isc.Config{
			BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(),
			UserAgent: "inviter/" + version, Retries: 3,
		},
		DB: dbPath, Listen: o.listen, Auth: web.Auth{BearerToken: token}, API: o.api.api,
		BatchSize: 100, BatchWindow: 250 * time.Millisecond, VisibilityDelay: time.Minute,
		DirectoryRefresh: time.Second, JobTimeout: time.Minute, RescueAfter: 2 * time.Minute,
		ShutdownWait: 10 * time.Second,
		Logger:       newLogger(io.Discard, false),
		Ready:        func(addr string) { ready <- addr },
		AdminListen:  "127.0.0.1:0",
		AdminReady:   func(addr string) { adminAddr <- addr },
		OnDelivery: func(ev inviter.IdentityCreated, dup bool) {
			delivered.Add(1)
			mu.Lock()
			deliveredAt[ev.Identity.ID] = time.Now()
			mu.Unlock()
			if shownEvents.Add(1) <= showFirst {
				fmt.Fprintf(out, "%6.2fs  event     %s  %s\n", time.Since(start).Seconds(), ev.Identity.ID, ev.Identity.Name)
				if shownEvents.Load() == showFirst {
					fmt.Fprintln(out, "         …")
				}
			}
		},
		OnResult: func(r inviter.Result) {
			if r.Outcome == inviter.OutcomeInvited {
				invited.Add(1)
				mu.Lock()
				if at, ok := deliveredAt[r.IdentityID]; ok {
					latencies = append(latencies, time.Since(at))
				}
				mu.Unlock()
			}
			if shownResults.Add(1) <= showFirst || r.Outcome != inviter.OutcomeInvited && r.Outcome != inviter.OutcomeNotFound {
				fmt.Fprintf(out, "%6.2fs  %-9s %s  %s\n", time.Since(start).Seconds(), r.Outcome, r.IdentityID, isc.Describe(r))
				if shownResults.Load() == showFirst {
					fmt.Fprintln(out, "         …")
				}
			}
		},
	}
	go func() { daemonErr <- runApp(daemonCtx, cfg) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-daemonErr:
		return fmt.Errorf("starting the daemon: %w", err)
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(out, "fake tenant %s with %d users; daemon on http://%s (SQLite %s, %s API)\n", tenant.URL(), o.users, addr, dbPath, o.api.api)

	// Subscribe the daemon to the tenant's trigger, as an admin would.
	admin, err := isc.New(ctx, isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), Retries: 3})
	if err != nil {
		return err
	}
	sub, err := admin.CreateSubscription(ctx, isc.Subscription{
		Name: "inviter demo", TriggerID: isc.TriggerIdentityCreated, Type: "HTTP", Enabled: true,
		HTTPConfig: &isc.HTTPConfig{
			URL: "http://" + addr + "/hooks/identity-created", HTTPDispatchMode: "SYNC",
			HTTPAuthenticationType: "BEARER_TOKEN", BearerTokenAuthConfig: &isc.BearerConfig{BearerToken: token},
		},
	})
	if err != nil {
		return fmt.Errorf("subscribing the daemon: %w", err)
	}
	fmt.Fprintf(out, "subscribed to %s (subscription %s)\n", isc.TriggerIdentityCreated, sub.ID)
	if o.faults {
		tenant.SetFaults(isctest.Faults{ErrorRate: 0.05, ResetRate: 0.02, Seed: 1})
		fmt.Fprintln(out, "faults on: 5 % of API calls answer 5xx, 2 % are reset")
	}
	tenant.ResetCalls()

	// The wave: a third of the identities show in lists only after a delay.
	fmt.Fprintf(out, "creating %d new identities…\n", o.identities)
	var wave []isctest.Identity
	for i := range o.identities {
		n := isctest.NewIdentity{Department: []string{"Sales", "Engineering", "Finance"}[i%3]}
		if i%3 == 0 {
			n.VisibleAfter = o.visibility
		}
		wave = append(wave, tenant.CreateIdentity(n))
		if i%50 == 49 {
			time.Sleep(100 * time.Millisecond) // an aggregation creates identities in bursts
		}
	}

	// Wait until the tenant has mailed every identity of the wave.
	deadline := time.After(o.timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	done := func() bool {
		for _, id := range wave {
			if tenant.InviteCount(id.ID) == 0 {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case <-tick.C:
			fmt.Fprintf(out, "%6.2fs  delivered %d/%d, invited %d, ISC calls %d, 429s %d\n",
				time.Since(start).Seconds(), delivered.Load(), len(wave), invited.Load(), tenant.CallCount(""), tenant.RateLimited())
		case <-deadline:
			return errors.New("timed out waiting for the invitations; see the status above")
		case <-ctx.Done():
			return ctx.Err()
		case err := <-daemonErr:
			return fmt.Errorf("the daemon stopped: %w", err)
		}
	}
	wall := time.Since(start)

	once, twice := 0, 0
	for _, id := range wave {
		switch tenant.InviteCount(id.ID) {
		case 1:
			once++
		default:
			twice++
		}
	}
	calls := tenant.CallCount("")
	inviteCalls := 0
	for _, c := range tenant.Calls() {
		if strings.HasSuffix(c.Endpoint, "/identities/invite") || c.Endpoint == "POST /cc/api/user/invite" {
			inviteCalls++
		}
	}
	mu.Lock()
	slices.Sort(latencies)
	p50 := time.Duration(0)
	if len(latencies) > 0 {
		p50 = latencies[len(latencies)/2]
	}
	mu.Unlock()
	fmt.Fprintf(out, `
summary
  new identities        %d
  events delivered      %d
  invited exactly once  %d   (more than once: %d)
  ISC API calls         %d   (invite calls %d, %.3f calls per invited identity)
  429s from the tenant  %d
  event to invite p50   %s
  time                  %s
`, len(wave), delivered.Load(), once, twice, calls, inviteCalls, float64(calls)/float64(max(once, 1)),
		tenant.RateLimited(), p50.Round(time.Millisecond), wall.Round(time.Millisecond))

	if o.keep {
		select {
		case a := <-adminAddr:
			fmt.Fprintf(out, "\nstill serving: webhook http://%s/hooks/identity-created, status page http://%s/ , metrics http://%s/metrics (Ctrl-C to stop)\n", addr, a, a)
		case <-ctx.Done():
		}
		<-ctx.Done()
	}
	stopDaemon()
	if err := <-daemonErr; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if twice > 0 {
		return fmt.Errorf("%d identities were invited more than once", twice)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
