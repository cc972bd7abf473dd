package main

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/bench"
)

// benchOptions are the settings of inviter bench: bench.Config's, with the
// flags that need parsing kept as written.
type benchOptions struct {
	bench.Config
	api        string // public, cc or both
	rate       rateFlag
	scaleUsers string // tenant sizes of the scale scenario
	scaleWaves string // wave sizes of the scale scenario
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
			return o.run(cmd.Context(), stdout)
		},
	}
	fs := cmd.Flags()
	c := &o.Config
	fs.IntVar(&c.Users, "users", 20000, "identities the fake tenant has before the burst")
	fs.IntVar(&c.Events, "events", 2000, "new identities created in the burst (invite scenario)")
	fs.StringVar(&o.api, "api", "both", "invite path: public, cc or both")
	fs.Var(&o.rate, "rate", "rate limit of the tenant and of the client, per API version, as N/DURATION (calls do not depend on it)")
	fs.BoolVar(&c.Faults, "faults", false, "switch on API faults (5 % 5xx, 2 % connection resets)")
	fs.DurationVar(&c.LateVisibility, "visibility-delay", 0, "new identities show in the tenant's lists only this long after their event")
	fs.StringVar(&c.Scenario, "scenario", "all", "scenarios to run: invite, ingest, scale or all (all is invite and ingest; scale runs for minutes)")
	fs.StringVar(&c.DB, "db", "", "database: a SQLite file or a postgres:// URL (default: a temporary SQLite file per scenario)")
	fs.IntVar(&c.BatchSize, "batch-size", 100, "identities per invite call")
	fs.DurationVar(&c.BatchWindow, "batch-window", 250*time.Millisecond, "how long the first identity of a batch waits for others")
	fs.DurationVar(&c.DirectoryRefresh, "directory-refresh", 5*time.Second, "with --api cc: least time between two refreshes of the /cc user index")
	fs.IntVar(&c.Deliveries, "deliveries", 5000, "deliveries posted in the ingest scenario")
	fs.IntVar(&c.Senders, "senders", 16, "concurrent senders in the ingest scenario")
	fs.IntVar(&c.NaiveSample, "naive-sample", 100, "events the naive cc baseline runs, extrapolated to --events (0: all)")
	fs.IntVar(&c.NaiveWorkers, "naive-workers", 8, "concurrent workers of the naive baselines")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Minute, "give up on a scenario after this long")
	fs.StringVar(&o.scaleUsers, "scale-users", "10000,100000,1000000", "scale scenario: tenant sizes, comma-separated")
	fs.StringVar(&o.scaleWaves, "scale-waves", "1000,10000,100000", "scale scenario: wave sizes (new identities), comma-separated")
	fs.DurationVar(&c.CellBudget, "cell-budget", 4*time.Minute, "scale scenario: skip a cell estimated to take longer than this here (the output says so)")
	fs.StringVar(&c.Daemon, "daemon", bench.DaemonProcess, "scale scenario: run the daemon as a child process (inviter serve; its own peak RSS is measured) or in-process")
	fs.StringVar(&c.ServeBinary, "serve-binary", "", "scale scenario: the inviter binary to run serve with (default: this one)")
	_ = fs.MarkHidden("serve-binary")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run (bench, fake tenant and in-process daemon) to this file")
	return cmd
}

func (o *benchOptions) run(ctx context.Context, stdout io.Writer) error {
	// --api is checked after --users and --events, before the rest.
	if o.Users >= 0 && o.Events > 0 && o.api != "public" && o.api != "cc" && o.api != "both" {
		return usagef("--api must be public, cc or both, not %q", o.api)
	}
	cfg := o.Config
	cfg.RateLimit, cfg.RateWindow, cfg.Version = o.rate.n, o.rate.per, version
	cfg.APIs = []inviter.API{inviter.APIPublic, inviter.APICC}
	if o.api != "both" {
		cfg.APIs = []inviter.API{inviter.API(o.api)}
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{err}
	}
	if cfg.Scenario == bench.ScenarioScale {
		var err error
		cfg.ScaleUsers, err = bench.ParseSizes("--scale-users", o.scaleUsers)
		if err == nil {
			cfg.ScaleWaves, err = bench.ParseSizes("--scale-waves", o.scaleWaves)
		}
		if err != nil { // a bad size is reported after the run's header line
			bench.PrintHeader(stdout, cfg)
			return &usageError{err}
		}
	}
	return bench.Run(ctx, cfg, stdout)
}
