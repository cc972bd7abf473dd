package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/internal/doctor"
	"github.com/inviter/inviter/internal/report"
	"github.com/inviter/inviter/internal/subscription"
	"github.com/inviter/inviter/store"
)

type doctorOptions struct {
	tenant tenantSettings
	api    apiFlag
	policy policySettings
	db     dbSettings
	url    string
	wait   time.Duration
	output cliout.Format
}

func newDoctorCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &doctorOptions{api: apiFlag{inviter.APIPublic}, output: cliout.NewFormat("text", "json")}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the settings, the tenant, the token's rights and the subscriptions, one line per check",
		Long: `Check what inviter needs, one line per check (ok, warn or fail, with what to do):
the tenant answers at SAIL_BASE_URL; the credentials get a token; the token's
rights cover every feature in use (its scopes, and harmless read calls); the
/cc API answers (with --api cc); the trigger subscriptions exist, are enabled
and point at --url; how many unregistered identities share an email address
(ISC mails only the first of them); and, with the database of a running
daemon (--db), that a test event ISC sends arrives there.
Exits 1 when a check fails, 2 for a bad setting. Reads and tests only: it
never invites anyone.`,
		Example: `  inviter doctor
  inviter doctor --url https://inviter.example.com/hooks/identity-created --db /var/lib/inviter/inviter.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.Flags(), stdout, stderr)
		},
	}
	fs := cmd.Flags()
	o.tenant.register(fs)
	fs.Var(&o.api, "api", "invite path in use: public or cc")
	bindEnv(fs, "api", "INVITER_API")
	o.policy.register(fs)
	o.db.register(fs)
	fs.StringVar(&o.url, "url", "", "the daemon's public webhook URL the subscriptions must point at")
	bindEnv(fs, "url", "INVITER_PUBLIC_URL")
	fs.DurationVar(&o.wait, "wait", 20*time.Second, "how long to wait for ISC's test event to reach the daemon")
	o.output.Register(cmd)
	return cmd
}

func (o *doctorOptions) run(ctx context.Context, flags *pflag.FlagSet, stdout, stderr io.Writer) error {
	cfg, client, err := tenantClient(ctx, &o.tenant, 1, stderr)
	if err != nil {
		return err
	}
	pol, err := o.policy.build()
	if err != nil {
		return err
	}
	var targets []subscription.Target
	if o.url != "" {
		if targets, err = hookTargets(o.url, pol.HasRules()); err != nil {
			return err
		}
	}
	dc := doctor.Config{ISC: cfg, Client: client, API: o.api.api, Changes: pol.HasRules(), Targets: targets, Wait: o.wait, Emit: o.printer(stdout)}
	if db, err := openDoctorDB(ctx, flags, o.db.dsn); err != nil {
		dc.DBErr = err
	} else if db != nil {
		defer db.Close()
		dc.DB = db
	}
	results := doctor.Run(ctx, dc)
	if o.output.Is("json") {
		if err := cliout.JSON(stdout, results); err != nil {
			return err
		}
	}
	if n := doctor.Count(results, doctor.Fail); n > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d checks failed", n, len(results))}
	}
	return nil
}

// printer prints each result as it comes (text), or nothing (JSON is
// written at the end).
func (o *doctorOptions) printer(w io.Writer) func(doctor.Result) {
	if o.output.Is("json") {
		return func(doctor.Result) {}
	}
	return func(r doctor.Result) { report.Check(w, r) }
}

// openDoctorDB opens the daemon's database when --db names one or the
// default file exists; it never creates one.
func openDoctorDB(ctx context.Context, flags *pflag.FlagSet, dsn string) (*store.DB, error) {
	f := flags.Lookup("db")
	if !f.Changed && f.Value.String() == f.DefValue {
		if _, err := os.Stat(dsn); err != nil {
			return nil, nil
		}
	}
	return app.OpenExisting(ctx, dsn)
}
