package main

// The operator commands: status, jobs and audit. They read the database the
// daemon writes (SQLite file or PostgreSQL, --db / INVITER_DB), print
// aligned tables for people and JSON or CSV for scripts, and never create or
// migrate a database: pointed at the wrong place they say so.

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/cliout"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/internal/report"
)

// statusErrors is how many recent errors inviter status shows.
const statusErrors = 5

func newStatusCommand(stdout io.Writer) *cobra.Command {
	var db dbSettings
	out := cliout.NewFormat("text", "json")
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show identities by state, jobs, reconcile's last run and the latest errors",
		Long: `Show what inviter has done, from its database: identities by invite state,
webhook deliveries, River jobs by state, when the database was initialised
(reconcile leaves identities created before then alone), when reconcile last
ran, and the latest failed or not-found outcomes with their reasons.
Works while inviter serve runs, on SQLite and PostgreSQL alike.`,
		Example: `  inviter status
  inviter status --db /var/lib/inviter/inviter.db -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, err := app.OpenExisting(ctx, db.dsn)
			if err != nil {
				return err
			}
			defer d.Close()
			st, err := app.ReadStatus(ctx, d, app.StatusQuery{Errors: statusErrors})
			if err != nil {
				return err
			}
			return report.Status(stdout, out.String(), st, redact.DSN(db.dsn), time.Now())
		},
	}
	db.register(cmd.Flags())
	out.Register(cmd)
	return cmd
}

func newAuditCommand(stdout io.Writer) *cobra.Command {
	var (
		db       dbSettings
		identity string
		limit    int
	)
	out := cliout.NewFormat("text", "json", "csv")
	cmd := &cobra.Command{
		Use:   "audit [--identity ID] [--limit N]",
		Short: "Show the audit trail of invite decisions, newest first",
		Long: `Show the audit trail: every decision inviter made about an identity (invited,
already registered, skipped, not found, failed) with the reason, the ISC API
used, the cc id, the ISC task id, the batch it went in, the job attempt and
what asked for the invite. Newest first.`,
		Example: `  inviter audit
  inviter audit --identity 2c91808568c529c60168cca6f90c1313
  inviter audit --limit 10000 -o csv > audit.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return usagef("--limit %d: want a positive number", limit)
			}
			ctx := cmd.Context()
			d, err := app.OpenExisting(ctx, db.dsn)
			if err != nil {
				return err
			}
			defer d.Close()
			entries, err := d.Audit(ctx, identity, limit)
			if err != nil {
				return err
			}
			return report.Audit(stdout, out.String(), entries, identity, time.Now())
		},
	}
	fs := cmd.Flags()
	db.register(fs)
	fs.StringVar(&identity, "identity", "", "only the decisions about this identity id")
	fs.IntVar(&limit, "limit", 50, "show at most N rows")
	out.Register(cmd)
	return cmd
}
