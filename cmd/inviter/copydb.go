package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/spf13/cobra"

	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/internal/report"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// copyDBOptions are the settings of inviter copy-db.
type copyDBOptions struct {
	from  string
	to    string
	force bool
}

func newCopyDBCommand(stdout, stderr io.Writer) *cobra.Command {
	o := &copyDBOptions{}
	cmd := &cobra.Command{
		Use:   "copy-db --from inviter.db --to postgres://…",
		Short: "Move a SQLite database to PostgreSQL, queued invites included (daemon stopped)",
		Long: `Move inviter from its SQLite file to PostgreSQL, to run several replicas.

Stop the daemon (inviter serve) on the SQLite file first, and keep it
stopped until the copy is done: copy-db reads the file without a lock, and
refuses while a daemon on it holds River's leadership.

copy-db migrates the PostgreSQL database, then in one transaction copies
inviter's tables (inviter_meta with the reconciliation cut-off
initialised_at, inviter_identities, inviter_deliveries, inviter_audit) and
re-enqueues every unfinished invite job (available, scheduled, retryable,
and running ones a killed daemon left) with the same arguments and, for
scheduled and retryable jobs, the same time. Finished jobs are not copied:
the audit trail keeps their outcome. The SQLite file is not changed; keep
it as an archive.

It refuses a target that already holds inviter data unless --force, which
merges: rows are appended, an identity keeps its more advanced state, and
the earlier cut-off wins.`,
		Example: `  systemctl stop inviter
  inviter copy-db --from /var/lib/inviter/inviter.db --to 'postgres://inviter@db/inviter?sslmode=verify-full'
  INVITER_DB=postgres://… inviter serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return o.run(cmd.Context(), stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.from, "from", "inviter.db", "the SQLite file to copy from (the daemon must be stopped)")
	bindEnv(fs, "from", "INVITER_DB")
	fs.StringVar(&o.to, "to", "", "the postgres:// URL to copy to; migrated first")
	fs.BoolVar(&o.force, "force", false, "copy into a database that already holds inviter data, merging")
	return cmd
}

func (o *copyDBOptions) validate() error {
	switch {
	case o.from == "":
		return usagef("--from (INVITER_DB) is empty")
	case store.IsPostgresDSN(o.from):
		return usagef("--from must be a SQLite file, not a postgres:// URL: copy-db moves a SQLite database to PostgreSQL")
	case o.to == "":
		return usagef("--to is required: the postgres:// URL of the database to copy to")
	case !store.IsPostgresDSN(o.to):
		return usagef("--to must be a postgres:// or postgresql:// URL, not %q: copy-db moves a SQLite database to PostgreSQL", o.to)
	}
	return nil
}

func (o *copyDBOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	src, err := app.OpenExisting(ctx, o.from)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := queue.CheckNoLeader(ctx, src, time.Now()); err != nil {
		if le, ok := errors.AsType[*queue.LeaderError](err); ok {
			return fmt.Errorf("a daemon is running on --from (River leader %s until %s UTC): stop it first; if it was killed, run copy-db again after that time", le.LeaderID, le.Until)
		}
		return err
	}

	dst, err := store.Open(ctx, o.to, newLogger(stderr, false))
	if err != nil {
		return fmt.Errorf("opening --to: %w", err)
	}
	defer dst.Close()
	if err := queue.Migrate(ctx, dst); err != nil {
		return fmt.Errorf("migrating --to: %w", err)
	}
	has, err := dst.HasData(ctx)
	if err != nil {
		return err
	}
	if has && !o.force {
		return fmt.Errorf("%s already holds inviter data (deliveries, identities, audit rows or jobs); copy-db into it again only with --force, which merges", redact.DSN(o.to))
	}
	res, err := queue.Copy(ctx, dst, src, time.Now(), newLogger(io.Discard, false))
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx) // the copy is committed: report it even when interrupted now
	cutoff, err := dst.InitialisedAt(ctx)
	if err != nil {
		return err
	}
	c, err := src.Counts(ctx)
	if err != nil {
		return err
	}
	return report.Copied(stdout, report.Copy{From: o.from, To: redact.DSN(o.to), CutOff: cutoff,
		FailedJobs: c.Jobs[string(rivertype.JobStateCancelled)] + c.Jobs[string(rivertype.JobStateDiscarded)], Result: res})
}
