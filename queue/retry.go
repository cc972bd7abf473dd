package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/riverqueue/river/rivertype"
)

// StateFailed is the state inviter shows for a job that gave up: River's
// cancelled and discarded.
const StateFailed = "failed"

// ErrJobRunning is returned by Retry for a job that is running: it is left
// alone.
var ErrJobRunning = errors.New("job is running")

// Failed reports whether River state s is one of a job that gave up
// (cancelled or discarded).
func Failed(s string) bool {
	return s == string(rivertype.JobStateCancelled) || s == string(rivertype.JobStateDiscarded)
}

// Retried is a job made available again, with the state it was in.
type Retried struct {
	Job
	PreviousState string // River's state before the retry
}

// Retry makes job id available to run again now (RetryJob). The error
// wraps rivertype.ErrNotFound when there is no such job, and is
// ErrJobRunning for a running job.
func (q *Queue) Retry(ctx context.Context, id int64) (Retried, error) {
	before, err := q.Job(ctx, id)
	if err != nil {
		return Retried{}, err
	}
	if before.State == string(rivertype.JobStateRunning) {
		return Retried{}, fmt.Errorf("job %d: %w", id, ErrJobRunning)
	}
	after, err := q.RetryJob(ctx, id)
	if err != nil {
		return Retried{}, err
	}
	return Retried{Job: after, PreviousState: before.State}, nil
}

// RetryFailed makes every invite job that gave up (cancelled or discarded)
// available again, and returns those it retried, also when it stops at an
// error.
func (q *Queue) RetryFailed(ctx context.Context) ([]Retried, error) {
	const page = 1000
	var out []Retried
	for _, state := range []rivertype.JobState{rivertype.JobStateCancelled, rivertype.JobStateDiscarded} {
		for {
			jobs, err := q.ListJobs(ctx, string(state), page)
			if err != nil {
				return out, err
			}
			n := 0
			for _, j := range jobs {
				if j.Kind != KindInvite {
					continue
				}
				after, err := q.RetryJob(ctx, j.ID)
				if err != nil {
					return out, err
				}
				out = append(out, Retried{Job: after, PreviousState: j.State})
				n++
			}
			// Retried jobs leave the state, so the next page is new ones;
			// stop when a page was short or held nothing to retry.
			if len(jobs) < page || n == 0 {
				break
			}
		}
	}
	return out, nil
}

// ListFailed returns the jobs that gave up (cancelled and discarded),
// newest first, at most limit (100 when limit <= 0, at most 10000).
func (q *Queue) ListFailed(ctx context.Context, limit int) ([]Job, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	var out []Job
	for _, s := range []rivertype.JobState{rivertype.JobStateCancelled, rivertype.JobStateDiscarded} {
		jobs, err := q.ListJobs(ctx, string(s), limit)
		if err != nil {
			return nil, err
		}
		out = append(out, jobs...)
	}
	slices.SortFunc(out, func(a, b Job) int { return cmp.Compare(b.ID, a.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
