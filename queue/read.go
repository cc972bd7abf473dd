package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/store"
)

// Stats are the totals a status page shows.
type Stats struct {
	// Identities counts identities by state; every inviter.InviteState is present.
	Identities map[inviter.InviteState]int64
	// Deliveries is the number of webhook deliveries stored.
	Deliveries int64
	// Jobs counts River jobs (all kinds) by River state: available,
	// scheduled, running, retryable, completed, cancelled, discarded.
	// Finished jobs leave after River's retention (24 h; discarded 7 days).
	Jobs map[string]int64
}

// Stats returns current totals, and sets the queue-depth gauge from them.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	c, err := q.db.Counts(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	q.setDepth(c.Jobs)
	return Stats{Identities: c.Identities, Deliveries: c.Deliveries, Jobs: c.Jobs}, nil
}

// RefreshDepth updates the queue depth gauge from the job counts alone
// (cheaper than Stats, for a periodic refresh).
func (q *Queue) RefreshDepth(ctx context.Context) error {
	jobs, err := q.db.CountJobs(ctx)
	if err != nil {
		return err
	}
	q.setDepth(jobs)
	return nil
}

// setDepth sets the queue depth gauge: the jobs not finished, by state.
func (q *Queue) setDepth(jobs map[string]int64) {
	for _, s := range []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled,
		rivertype.JobStateRunning, rivertype.JobStateRetryable} {
		q.m.QueueDepth.WithLabelValues(string(s)).Set(float64(jobs[string(s)]))
	}
}

// Job is a River job as the CLI and status page show it.
type Job struct {
	ID          int64
	Kind        string
	State       string // River's job state
	Attempt     int
	MaxAttempts int
	CreatedAt   time.Time
	ScheduledAt time.Time
	FinalizedAt time.Time // zero while not finished
	// IdentityID, Source and Round are the invite job's arguments (empty
	// for other kinds).
	IdentityID string
	Source     inviter.Source
	Round      int
	// LastError is the error of the latest failed attempt, if any.
	LastError string
}

func jobFromRow(r *rivertype.JobRow) Job {
	j := Job{
		ID: r.ID, Kind: r.Kind, State: string(r.State), Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		CreatedAt: r.CreatedAt, ScheduledAt: r.ScheduledAt,
	}
	if r.FinalizedAt != nil {
		j.FinalizedAt = *r.FinalizedAt
	}
	if r.Kind == KindInvite {
		var a InviteArgs
		if json.Unmarshal(r.EncodedArgs, &a) == nil {
			j.IdentityID, j.Source, j.Round = a.IdentityID, a.Source, a.Round
		}
	}
	if n := len(r.Errors); n > 0 {
		j.LastError = r.Errors[n-1].Error
	}
	return j
}

// ListJobs returns jobs in River state state (all states when empty), newest
// first, at most limit (100 when limit <= 0, at most 10000).
func (q *Queue) ListJobs(ctx context.Context, state string, limit int) ([]Job, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	params := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit)
	if state != "" {
		if !validJobState(state) {
			return nil, fmt.Errorf("list jobs: unknown state %q", state)
		}
		params = params.States(rivertype.JobState(state))
	}
	res, err := q.be.jobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]Job, 0, len(res.Jobs))
	for _, r := range res.Jobs {
		out = append(out, jobFromRow(r))
	}
	return out, nil
}

func validJobState(s string) bool {
	for _, st := range rivertype.JobStates() {
		if string(st) == s {
			return true
		}
	}
	return false
}

// Job returns the job with id; the error wraps river.ErrNotFound when there
// is none.
func (q *Queue) Job(ctx context.Context, id int64) (Job, error) {
	r, err := q.be.jobGet(ctx, id)
	if err != nil {
		return Job{}, fmt.Errorf("job %d: %w", id, err)
	}
	return jobFromRow(r), nil
}

// RetryJob makes job id available to run again now (River JobRetry): the
// way to replay a dead letter (cancelled or discarded). The attempt count is
// kept; a job that used all its attempts gets one more. A running job is not
// touched. The error wraps river.ErrNotFound when there is no such job.
func (q *Queue) RetryJob(ctx context.Context, id int64) (Job, error) {
	r, err := q.be.jobRetry(ctx, id)
	if err != nil {
		return Job{}, fmt.Errorf("retry job %d: %w", id, err)
	}
	return jobFromRow(r), nil
}

// CancelJob cancels job id (River JobCancel); a running job is cancelled
// when its worker returns.
func (q *Queue) CancelJob(ctx context.Context, id int64) (Job, error) {
	r, err := q.be.jobCancel(ctx, id)
	if err != nil {
		return Job{}, fmt.Errorf("cancel job %d: %w", id, err)
	}
	return jobFromRow(r), nil
}

// Audit returns the audit trail of identityID (all identities when empty),
// newest first, at most limit rows (100 when limit <= 0).
func (q *Queue) Audit(ctx context.Context, identityID string, limit int) ([]store.AuditEntry, error) {
	return q.db.Audit(ctx, identityID, limit)
}
