package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/report"
)

// reconcileSettings are the settings of reconciliation and re-invites.
type reconcileSettings struct {
	every         time.Duration
	backfillSince string
	maxReinvites  int
}

func (r *reconcileSettings) register(fs *pflag.FlagSet) {
	fs.DurationVar(&r.every, "reconcile-every", time.Hour, "how often the fleet's leader reconciles and re-invites (0: never)")
	bindEnv(fs, "reconcile-every", "INVITER_RECONCILE_EVERY")
	fs.StringVar(&r.backfillSince, "created-after", "", "reconcile identities created after DATE, instead of after the database's first start (widens the cut-off on purpose)")
	bindEnv(fs, "created-after", "INVITER_CREATED_AFTER", "INVITER_BACKFILL_SINCE")
	fs.IntVar(&r.maxReinvites, "max-reinvites", 2, "invite an identity still unregistered when its 7-day invitation expired at most N more times")
	bindEnv(fs, "max-reinvites", "INVITER_MAX_REINVITES")
}

func (r *reconcileSettings) since() (time.Time, error) {
	if r.backfillSince == "" {
		return time.Time{}, nil
	}
	t, err := parseDate(r.backfillSince)
	if err != nil {
		return t, usagef("--created-after (INVITER_CREATED_AFTER): %v", err)
	}
	return t, nil
}

func newReconcileCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		tenant tenantSettings
		db     dbSettings
		pol    policySettings
		rec    reconcileSettings
		output string
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Find unregistered identities inviter missed, and expired invitations, once",
		Long: `Reconcile once: list the tenant's unregistered identities and enqueue those
created after the cut-off (the database's first start, or --created-after)
that inviter never handled, as the policy decides; then enqueue re-invites of
identities whose invitation expired unused. The running daemon (inviter serve,
same database) sends them. serve does this on its own every --reconcile-every.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usagef("--output %q: want text or json", output)
			}
			ctx := cmd.Context()
			if err := checkDB(settingName(cmd.Flags(), "db"), db.dsn); err != nil {
				return err
			}
			cfg, err := tenant.clientConfig(nil, 5)
			if err != nil {
				return err
			}
			logger, _ := tenant.logger(stderr)
			cfg.Logger = logger
			tenant.logCalls(&cfg, logger)
			p, err := pol.build()
			if err != nil {
				return err
			}
			since, err := rec.since()
			if err != nil {
				return err
			}
			res, err := app.ReconcileOnce(ctx, app.ReconcileConfig{ISC: cfg, DB: db.dsn, Policy: p, Since: since, MaxReinvites: rec.maxReinvites, Logger: logger})
			if err != nil {
				return err
			}
			return report.Reconcile(stdout, output, res)
		},
	}
	fs := cmd.Flags()
	tenant.register(fs)
	db.register(fs)
	pol.register(fs)
	fs.StringVar(&rec.backfillSince, "created-after", "", "reconcile identities created after DATE instead of after the database's first start")
	bindEnv(fs, "created-after", "INVITER_CREATED_AFTER", "INVITER_BACKFILL_SINCE")
	fs.IntVar(&rec.maxReinvites, "max-reinvites", 2, "invite an identity still unregistered when its invitation expired at most N more times")
	bindEnv(fs, "max-reinvites", "INVITER_MAX_REINVITES")
	fs.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
