package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter/store"
)

// unfinishedStates are the River states of jobs that still have work to
// do; running ones exist only if the source daemon was killed.
var unfinishedStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateScheduled,
	rivertype.JobStateRetryable, rivertype.JobStateRunning,
}

// LeaderError is returned by CheckNoLeader when a River client holds an
// unexpired leadership of the database: a daemon is running on it, or was
// killed less than a leader TTL (15 s) ago.
type LeaderError struct {
	// LeaderID is the River client id of the leader.
	LeaderID string
	// Until is when the leadership expires, in UTC, as the database
	// stores it.
	Until string
}

func (e *LeaderError) Error() string {
	return fmt.Sprintf("River leader %s until %s UTC", e.LeaderID, e.Until)
}

// CheckNoLeader returns a *LeaderError when a River client holds an
// unexpired leadership of the SQLite database db at now, nil when none
// does, and another error when it cannot tell.
func CheckNoLeader(ctx context.Context, db *store.DB, now time.Time) error {
	sqlDB := db.SQLDB()
	if sqlDB == nil {
		return fmt.Errorf("checking for a running daemon: %s is not a SQLite database", db.Backend())
	}
	var leader, expires string
	err := sqlDB.QueryRowContext(ctx, `SELECT leader_id, CAST(expires_at AS TEXT) FROM river_leader
		WHERE expires_at >= $1`, now.UTC().Format("2006-01-02 15:04:05.000")).Scan(&leader, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking for a running daemon: %w", err)
	}
	return &LeaderError{LeaderID: leader, Until: expires}
}

// CopyResult counts what Copy wrote.
type CopyResult struct {
	// CopyResult counts inviter's tables; its Jobs the invite jobs
	// re-enqueued.
	store.CopyResult
	// JobsByState counts the re-enqueued invite jobs by their state in the
	// source: available, scheduled, retryable, running.
	JobsByState map[rivertype.JobState]int
	// AlreadyQueued is how many of the re-enqueued jobs the destination
	// already had (River's unique jobs skipped them as duplicates).
	AlreadyQueued int
	// AlreadyInvited is how many unfinished jobs were left out because the
	// destination had invited their identity for the job's round.
	AlreadyInvited int
	// OtherKinds is how many unfinished jobs of other kinds were left out
	// (periodic jobs, which the daemon re-creates).
	OtherKinds int
}

// Copy copies src's inviter tables into dst (store.Copy, see there for
// the merge rules) and, in the same transaction of dst, re-enqueues src's
// unfinished invite jobs (available, scheduled, retryable, and running ones
// a killed daemon left) with the same arguments (the delivery id mapped),
// queue, priority, tags and attempts allowed; scheduled and retryable jobs
// keep their time when it is after now. Finished jobs are not copied. Both
// databases must be migrated (Migrate); nothing may write to src meanwhile.
// logger receives River's logs; nil discards them.
func Copy(ctx context.Context, dst, src *store.DB, now time.Time, logger *slog.Logger) (CopyResult, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	jobs, others, err := unfinishedJobs(ctx, src, logger)
	if err != nil {
		return CopyResult{}, err
	}
	r, err := riverFor(dst)
	if err != nil {
		return CopyResult{}, err
	}
	dstRiver, err := r.client(&river.Config{Logger: logger})
	if err != nil {
		return CopyResult{}, fmt.Errorf("river client for the destination: %w", err)
	}
	var out CopyResult
	res, err := store.Copy(ctx, dst, src, store.CopyOptions{
		Jobs: func(ctx context.Context, tx *store.Tx, deliveryID func(int64) int64) (map[int64]int64, error) {
			out = CopyResult{JobsByState: map[rivertype.JobState]int{}, OtherKinds: others}
			params, rows, n, err := insertParams(ctx, tx, jobs, deliveryID, now)
			if err != nil {
				return nil, err
			}
			out.AlreadyInvited = n
			ids := make(map[int64]int64, len(params))
			if len(params) == 0 {
				return ids, nil
			}
			inserted, err := dstRiver.insertManyTx(ctx, tx, params)
			if err != nil {
				return nil, err
			}
			for i, r := range inserted {
				ids[rows[i].ID] = r.Job.ID
				out.JobsByState[rows[i].State]++
				if r.UniqueSkippedAsDuplicate {
					out.AlreadyQueued++
				}
			}
			return ids, nil
		},
	})
	if err != nil {
		return CopyResult{}, err
	}
	out.CopyResult = res
	return out, nil
}

// unfinishedJobs returns src's unfinished invite jobs, oldest first, and
// how many unfinished jobs of other kinds it leaves.
func unfinishedJobs(ctx context.Context, src *store.DB, logger *slog.Logger) ([]*rivertype.JobRow, int, error) {
	r, err := riverFor(src)
	if err != nil {
		return nil, 0, err
	}
	client, err := r.client(&river.Config{Logger: logger})
	if err != nil {
		return nil, 0, fmt.Errorf("river client for the source: %w", err)
	}
	var (
		out     []*rivertype.JobRow
		skipped int
	)
	params := river.NewJobListParams().States(unfinishedStates...).
		OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(1000)
	for {
		page, err := client.jobList(ctx, params)
		if err != nil {
			return nil, 0, fmt.Errorf("listing the jobs of the source: %w", err)
		}
		for _, j := range page.Jobs {
			if j.Kind == KindInvite {
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
		var args InviteArgs
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
