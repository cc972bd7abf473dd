package queue

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/inviter/inviter/store"
)

// RetentionEvery is how often the leader prunes what is past its retention.
const RetentionEvery = time.Hour

// RetentionArgs is the periodic job that prunes delivery payloads (personal
// data) and audit rows past their retention.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "retention" }

// RetentionWorker works RetentionArgs: it deletes deliveries received more
// than Deliveries ago and audit rows older than Audit. A zero duration keeps
// that table forever. Identities' state is never pruned: it is what stops a
// second invitation.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	DB         *store.DB
	Deliveries time.Duration
	Audit      time.Duration
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Work implements river.Worker.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	logger := w.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if w.Deliveries > 0 {
		n, err := w.DB.PruneDeliveries(ctx, now.Add(-w.Deliveries))
		if n > 0 {
			logger.InfoContext(ctx, "pruned deliveries past retention", "deleted", n, "retain", w.Deliveries)
		}
		if err != nil {
			return err
		}
	}
	if w.Audit > 0 {
		n, err := w.DB.PruneAudit(ctx, now.Add(-w.Audit))
		if n > 0 {
			logger.InfoContext(ctx, "pruned audit rows past retention", "deleted", n, "retain", w.Audit)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Timeout bounds one run, below River's default RescueStuckJobsAfter; a
// run cut short leaves the rest to the next (it deletes in batches).
func (w *RetentionWorker) Timeout(*river.Job[RetentionArgs]) time.Duration { return 4 * time.Minute }

// RetentionJob is the periodic job for RetentionWorker, run by the leader at
// its start and every RetentionEvery.
func RetentionJob() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(RetentionEvery),
		func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
