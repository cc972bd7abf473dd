package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
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
			return o.run(cmd.Context(), stdout)
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

func (o *demoOptions) run(ctx context.Context, stdout io.Writer) error {
	if o.users < 0 || o.identities <= 0 {
		return usagef("--users must not be negative and --new must be positive")
	}
	start := time.Now()
	out := harness.SyncWriter(stdout)
	var delivered, shownEvents, shownResults atomic.Int64
	const showFirst = 5
	show := func(shown *atomic.Int64, always bool, format string, args ...any) {
		if n := shown.Add(1); n <= showFirst || always {
			fmt.Fprintf(out, "%6.2fs  "+format+"\n", append([]any{time.Since(start).Seconds()}, args...)...)
			if n == showFirst {
				fmt.Fprintln(out, "         …")
			}
		}
	}
	r, err := harness.Start(ctx, harness.Options{
		Users: o.users, API: o.api.api, DB: o.db, TempPrefix: "inviter-demo-", Listen: o.listen, AdminListen: "127.0.0.1:0",
		VisibilityDelay: time.Minute, DirectoryRefresh: time.Second, JobTimeout: time.Minute, RescueAfter: 2 * time.Minute,
		UserAgent: "inviter/" + version, Version: version,
		OnDelivery: func(ev inviter.IdentityCreated, _ bool) {
			delivered.Add(1)
			show(&shownEvents, false, "event     %s  %s", ev.Identity.ID, ev.Identity.Name)
		},
		OnResult: func(res inviter.Result) {
			odd := res.Outcome != inviter.OutcomeInvited && res.Outcome != inviter.OutcomeNotFound
			show(&shownResults, odd, "%-9s %s  %s", res.Outcome, res.IdentityID, isc.Describe(res))
		},
	})
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Fprintf(out, "fake tenant %s with %d users; daemon on http://%s (SQLite %s, %s API)\n", r.Tenant.URL(), o.users, r.Addr(), r.DB(), o.api.api)

	// Subscribe the daemon to the tenant's trigger, as an admin would.
	sub, err := r.Subscribe(ctx, "inviter demo")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "subscribed to %s (subscription %s)\n", isc.TriggerIdentityCreated, sub.ID)
	if o.faults {
		r.Tenant.SetFaults(harness.StandardFaults())
		fmt.Fprintln(out, "faults on: 5 % of API calls answer 5xx, 2 % are reset")
	}
	r.Tenant.ResetCalls()

	// The wave, created in bursts as an aggregation does: a third of the
	// identities show in lists only after a delay.
	fmt.Fprintf(out, "creating %d new identities…\n", o.identities)
	w, err := r.CreateWave(ctx, harness.WaveOptions{Size: o.identities, Burst: 50, Pause: 100 * time.Millisecond,
		Identity: func(i int) isctest.NewIdentity {
			n := isctest.NewIdentity{Department: []string{"Sales", "Engineering", "Finance"}[i%3]}
			if i%3 == 0 {
				n.VisibleAfter = o.visibility
			}
			return n
		}})
	if err != nil {
		return err
	}
	_, err = r.WaitInvited(ctx, w, harness.WaitOptions{Timeout: o.timeout, ProgressEvery: time.Second, Progress: func(n int) {
		fmt.Fprintf(out, "%6.2fs  delivered %d/%d, invited %d, ISC calls %d, 429s %d\n",
			time.Since(start).Seconds(), delivered.Load(), len(w.IDs), n, r.Tenant.CallCount(""), r.Tenant.RateLimited())
	}})
	if errors.As(err, new(*harness.TimeoutError)) {
		return errors.New("timed out waiting for the invitations; see the status above")
	} else if err != nil {
		return err
	}
	wall := time.Since(start)
	t, calls := r.Tally(w), r.Calls()
	once := t.Invited - t.Duplicates
	fmt.Fprintf(out, `
summary
  new identities        %d
  events delivered      %d
  invited exactly once  %d   (more than once: %d)
  ISC API calls         %d   (invite calls %d, %.3f calls per invited identity)
  429s from the tenant  %d
  event to invite p50   %s
  time                  %s
`, len(w.IDs), delivered.Load(), once, t.Duplicates, calls.Total, calls.Invite, float64(calls.Total)/float64(max(once, 1)),
		r.Tenant.RateLimited(), t.Percentile(50).Round(time.Millisecond), wall.Round(time.Millisecond))

	if o.keep {
		a := r.AdminAddr()
		fmt.Fprintf(out, "\nstill serving: webhook http://%s/hooks/identity-created, status page http://%s/ , metrics http://%s/metrics (Ctrl-C to stop)\n", r.Addr(), a, a)
		<-ctx.Done()
	}
	if err := r.Stop(); err != nil {
		return err
	}
	if t.Duplicates > 0 {
		return fmt.Errorf("%d identities were invited more than once", t.Duplicates)
	}
	return nil
}
