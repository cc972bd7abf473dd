package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/store"
)

// level is how a doctor check came out.
type level string

const (
	levelOK   level = "ok"
	levelWarn level = "warn"
	levelFail level = "fail"
	levelSkip level = "skip"
)

// checkResult is one line of inviter doctor.
type checkResult struct {
	Level  level  `json:"level"`
	Check  string `json:"check"`
	Detail string `json:"detail"`
	// Fix says what to do; empty for a check that passed.
	Fix string `json:"fix,omitempty"`
}

type doctorOptions struct {
	tenant tenantSettings
	api    apiFlag
	policy policySettings
	db     dbSettings
	url    string
	wait   time.Duration
	output outputFlag
}

func newDoctorCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &doctorOptions{api: apiFlag{inviter.APIPublic}, output: newOutputFlag("text", "json")}
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
	o.output.register(cmd)
	return cmd
}

func (o *doctorOptions) run(ctx context.Context, flags *pflag.FlagSet, stdout, stderr io.Writer) error {
	cfg, err := o.tenant.clientConfig(nil, 1)
	if err != nil {
		return err
	}
	pol, err := o.policy.build()
	if err != nil {
		return err
	}
	var targets []subscriptionTarget
	if o.url != "" {
		if targets, err = hookTargets(o.url, pol.HasRules()); err != nil {
			return err
		}
	}
	logger, _ := o.tenant.logger(stderr)
	cfg.Logger = logger
	o.tenant.logCalls(&cfg, logger)
	d := &doctor{
		api: string(o.api.api), changes: pol.HasRules(), targets: targets, wait: o.wait,
		cfg: cfg, emit: o.printer(stdout),
	}
	if d.client, err = isc.New(ctx, cfg); err != nil {
		return &usageError{err}
	}
	if db, err := openDoctorDB(ctx, flags, o.db.dsn); err != nil {
		d.add(levelWarn, "daemon", err.Error(), "point --db at the database of the running inviter serve")
	} else if db != nil {
		defer db.Close()
		d.db = db
	}
	d.run(ctx)
	if o.output.format == "json" {
		if err := writeJSON(stdout, d.results); err != nil {
			return err
		}
	}
	if n := d.count(levelFail); n > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d checks failed", n, len(d.results))}
	}
	return nil
}

// printer prints each result as it comes (text), or nothing (JSON is
// written at the end).
func (o *doctorOptions) printer(w io.Writer) func(checkResult) {
	if o.output.format == "json" {
		return func(checkResult) {}
	}
	return func(r checkResult) {
		line := fmt.Sprintf("%-4s  %-31s %s", r.Level, r.Check, r.Detail)
		if r.Fix != "" {
			line += " -> " + r.Fix
		}
		fmt.Fprintln(w, line)
	}
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
	return openExisting(ctx, dsn)
}

// doctor runs the checks in order; a check that needs what an earlier one
// found missing is skipped.
type doctor struct {
	api     string
	changes bool // the policy makes Identity Attributes Changed worth having
	targets []subscriptionTarget
	wait    time.Duration
	cfg     isc.Config
	client  *isc.Client
	db      *store.DB
	emit    func(checkResult)
	results []checkResult
}

func (d *doctor) add(l level, check, detail, fix string) {
	r := checkResult{Level: l, Check: check, Detail: detail, Fix: fix}
	d.results = append(d.results, r)
	d.emit(r)
}

func (d *doctor) count(l level) int {
	n := 0
	for _, r := range d.results {
		if r.Level == l {
			n++
		}
	}
	return n
}

func (d *doctor) run(ctx context.Context) {
	p := isc.ProbeToken(ctx, d.cfg, d.cfg.Timeout)
	if !d.checkReach(p) || !d.checkToken(p) {
		for _, c := range []string{"rights", "subscriptions", "shared emails", "test event"} {
			d.add(levelSkip, c, "needs a token", "")
		}
		return
	}
	d.checkRights(ctx, p)
	if d.api == "cc" {
		d.checkCC(ctx)
	}
	subsOK := d.checkSubscriptions(ctx)
	d.checkSharedEmails(ctx)
	d.checkTestEvent(ctx, subsOK)
}

func (d *doctor) checkReach(p isc.TokenProbe) bool {
	base := redact.URL(d.cfg.BaseURL)
	if !p.Reached {
		d.add(levelFail, "tenant answers", p.Err.Error(), "check SAIL_BASE_URL (https://TENANT.api.identitynow.com), DNS and the proxy or firewall")
		return false
	}
	d.add(levelOK, "tenant answers", fmt.Sprintf("%s answered POST /oauth/token (%d)", base, p.Status), "")
	return true
}

func (d *doctor) checkToken(p isc.TokenProbe) bool {
	switch {
	case p.Refused:
		d.add(levelFail, "credentials", p.Err.Error(), "check SAIL_CLIENT_ID and SAIL_CLIENT_SECRET: the client id and secret of a personal access token of an ORG_ADMIN or HELPDESK user")
		return false
	case p.Err != nil:
		d.add(levelFail, "credentials", p.Err.Error(), "check SAIL_BASE_URL: it must be the tenant's API host")
		return false
	}
	d.add(levelOK, "credentials", fmt.Sprintf("token issued (scopes: %s)", dash(strings.Join(p.Scopes, " "))), "")
	return true
}
