package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/spf13/cobra"

	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// copyDBOptions are the settings of inviter copy-db.
type copyDBOptions struct {
	from  string
	to    string
	force bool
}

// unfinishedStates are the River states of jobs that still have work to
// do; running ones exist only if the source daemon was killed.
var unfinishedStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateScheduled,
	rivertype.JobStateRetryable, rivertype.JobStateRunning,
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

// copyJobCounts counts the invite jobs copied by their source state.
type copyJobCounts map[rivertype.JobState]int

func (o *copyDBOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	src, err := openExisting(ctx, o.from)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := checkNoLeader(ctx, src.SQLDB(), time.Now()); err != nil {
		return err
	}

	dst, err := store.Open(ctx, o.to, newLogger(stderr, false))
	if err != nil {
		return fmt.Errorf("opening --to: %w", err)
	}
	defer dst.Close()
	if err := dst.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating --to: %w", err)
	}
	has, err := dst.HasData(ctx)
	if err != nil {
		return err
	}
	if has && !o.force {
		return fmt.Errorf("%s already holds inviter data (deliveries, identities, audit rows or jobs); copy-db into it again only with --force, which merges", redact.DSN(o.to))
	}

	jobs, skipped, err := unfinishedJobs(ctx, src)
	if err != nil {
		return err
	}
	dstRiver, err := river.NewClient(riverpgxv5.New(dst.PgxPool()), &river.Config{Logger: newLogger(io.Discard, false)})
	if err != nil {
		return fmt.Errorf("river client for --to: %w", err)
	}
	counts := copyJobCounts{}
	var already, dups int
	res, err := store.Copy(ctx, dst, src, store.CopyOptions{
		Jobs: func(ctx context.Context, tx *store.Tx, deliveryID func(int64) int64) (map[int64]int64, error) {
			clear(counts)
			already, dups = 0, 0
			params, rows, n, err := insertParams(ctx, tx, jobs, deliveryID, time.Now())
			if err != nil {
				return nil, err
			}
			already = n
			ids := make(map[int64]int64, len(params))
			if len(params) == 0 {
				return ids, nil
			}
			inserted, err := dstRiver.InsertManyTx(ctx, tx.PgxTx(), params)
			if err != nil {
				return nil, err
			}
			for i, r := range inserted {
				ids[rows[i].ID] = r.Job.ID
				counts[rows[i].State]++
				if r.UniqueSkippedAsDuplicate {
					dups++
				}
			}
			return ids, nil
		},
	})
	if err != nil {
		return err
	}
	return printCopy(stdout, o, src, dst, res, counts, already, dups, skipped)
}

// checkNoLeader fails when a River client on the SQLite database holds an
// unexpired leadership: a daemon is running on it (or was killed less than
// a leader TTL, 15 s, ago).
func checkNoLeader(ctx context.Context, db *sql.DB, now time.Time) error {
	var leader, expires string
	err := db.QueryRowContext(ctx, `SELECT leader_id, CAST(expires_at AS TEXT) FROM river_leader
		WHERE expires_at >= $1`, now.UTC().Format("2006-01-02 15:04:05.000")).Scan(&leader, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking for a running daemon: %w", err)
	}
	return fmt.Errorf("a daemon is running on --from (River leader %s until %s UTC): stop it first; if it was killed, run copy-db again after that time", leader, expires)
}

// unfinishedJobs returns the source's unfinished invite jobs, oldest first,
// and how many unfinished jobs of other kinds (periodic jobs, which the
// daemon re-creates) it leaves.
func unfinishedJobs(ctx context.Context, src *store.DB) ([]*rivertype.JobRow, int, error) {
	client, err := river.NewClient(riversqlite.New(src.SQLDB()), &river.Config{Logger: newLogger(io.Discard, false)})
	if err != nil {
		return nil, 0, fmt.Errorf("river client for --from: %w", err)
	}
	var (
		out     []*rivertype.JobRow
		skipped int
	)
	params := river.NewJobListParams().States(unfinishedStates...).
		OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(1000)
	for {
		page, err := client.JobList(ctx, params)
		if err != nil {
			return nil, 0, fmt.Errorf("listing the jobs of --from: %w", err)
		}
		for _, j := range page.Jobs {
			if j.Kind == queue.KindInvite {
				out = append(out, j)
			} else {
				skipped++
			}
		}
		if len(page.Jobs) < 1000 {
			return out, skipped, nil
		}
		params = params.After(page.LastCursor)
	}
}

// insertParams turns the source's jobs into River inserts for the target:
// the same arguments (the delivery id mapped), queue, priority, tags and
// attempts allowed; scheduled and retryable jobs keep their time. It leaves
// out identities the target already invited for the job's round, and
// returns how many it left out.
func insertParams(ctx context.Context, tx *store.Tx, jobs []*rivertype.JobRow, deliveryID func(int64) int64, now time.Time) ([]river.InsertManyParams, []*rivertype.JobRow, int, error) {
	var (
		params []river.InsertManyParams
		rows   []*rivertype.JobRow
		done   int
	)
	for _, j := range jobs {
		var args queue.InviteArgs
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
			return nil, nil, 0, fmt.Errorf("job %d: args: %w", j.ID, err)
		}
		ident, err := tx.Identity(ctx, args.IdentityID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, 0, err
		}
		if err == nil && ident.InviteCount > args.Round {
			done++
			continue
		}
		if args.DeliveryID != 0 {
			args.DeliveryID = deliveryID(args.DeliveryID)
		}
		opts := &river.InsertOpts{
			MaxAttempts: j.MaxAttempts,
			Priority:    j.Priority,
			Queue:       j.Queue,
			Tags:        j.Tags,
			UniqueOpts:  args.InsertOpts().UniqueOpts,
		}
		if (j.State == rivertype.JobStateScheduled || j.State == rivertype.JobStateRetryable) && j.ScheduledAt.After(now) {
			opts.ScheduledAt = j.ScheduledAt
		}
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: opts})
		rows = append(rows, j)
	}
	return params, rows, done, nil
}

func printCopy(w io.Writer, o *copyDBOptions, src, dst *store.DB, res store.CopyResult, counts copyJobCounts, already, dups, skipped int) error {
	ctx := context.Background()
	cutoff, err := dst.InitialisedAt(ctx)
	if err != nil {
		return err
	}
	c, err := src.Counts(ctx)
	if err != nil {
		return err
	}
	deadLetters := c.Jobs[string(rivertype.JobStateCancelled)] + c.Jobs[string(rivertype.JobStateDiscarded)]

	fmt.Fprintf(w, "copied %s (sqlite) to %s (postgres)\n", o.from, redact.DSN(o.to))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  inviter_meta\t%d keys\tcut-off initialised_at %s\n", res.Meta, cutoff.UTC().Format(time.RFC3339))
	kept := ""
	if res.IdentitiesKept > 0 {
		kept = fmt.Sprintf("%d kept as the target had them", res.IdentitiesKept)
	}
	fmt.Fprintf(tw, "  inviter_identities\t%d rows\t%s\n", res.Identities, kept)
	shift := ""
	if res.DeliveryIDOffset > 0 {
		shift = fmt.Sprintf("ids shifted by %d", res.DeliveryIDOffset)
	}
	fmt.Fprintf(tw, "  inviter_deliveries\t%d rows\t%s\n", res.Deliveries, shift)
	fmt.Fprintf(tw, "  inviter_audit\t%d rows\t\n", res.Audit)
	fmt.Fprintf(tw, "  invite jobs\t%d re-enqueued\tavailable %d, scheduled %d, retryable %d, running (daemon killed) %d\n",
		res.Jobs, counts[rivertype.JobStateAvailable], counts[rivertype.JobStateScheduled],
		counts[rivertype.JobStateRetryable], counts[rivertype.JobStateRunning])
	if err := tw.Flush(); err != nil {
		return err
	}
	if dups > 0 {
		fmt.Fprintf(w, "  %d of them were already queued in the target\n", dups)
	}
	if already > 0 {
		fmt.Fprintf(w, "  %d unfinished jobs left out: the target already invited their identity\n", already)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "  %d unfinished jobs of other kinds left out (periodic jobs: the daemon re-creates them)\n", skipped)
	}
	if deadLetters > 0 {
		fmt.Fprintf(w, "  %d failed invite jobs (River's cancelled or discarded) stay in %s; invite those identities again with inviter invite ID… if wanted\n", deadLetters, o.from)
	}
	_, err = fmt.Fprintf(w, "Next: start inviter serve with INVITER_DB set to the PostgreSQL URL; keep %s as an archive and do not start a daemon on it again.\n", o.from)
	return err
}
