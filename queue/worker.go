package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/store"
)

// inviteWorker works invite jobs: it skips identities already invited for
// the job's round, hands the rest to the batcher, records each outcome and
// maps it to River's verbs:
//
//   - invited, already registered, skipped: done.
//   - *isc.RateLimitedError: river.JobSnooze(Retry-After). River decrements
//     the attempt on a snooze (since v0.16.0; checked in v0.51.2 jobexecutor:
//     JobSetStateSnoozed with Attempt-1), so snoozes do not use up MaxAttempts;
//     River counts them in the job's metadata ("snoozes"), and after
//     Config.MaxSnoozes a 429 is retried as an ordinary failure instead, so a
//     job cannot snooze forever.
//   - not found: retried with backoff while the event is younger than
//     Config.NotFoundWindow, then cancelled (dead letter) as failed.
//   - *isc.PermanentError: river.JobCancel (dead letter, retryable by hand).
//   - anything else (transient): a plain error, retried after NextRetry;
//     after MaxAttempts River discards the job and the identity is failed.
type inviteWorker struct {
	river.WorkerDefaults[InviteArgs]
	q *Queue
}

// jobInfo is what deciding an outcome needs to know about the job.
type jobInfo struct {
	ID          int64
	Args        InviteArgs
	Attempt     int
	MaxAttempts int
	CreatedAt   time.Time
	Snoozes     int
}

func newJobInfo(job *river.Job[InviteArgs]) jobInfo {
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &meta)
	return jobInfo{
		ID: job.ID, Args: job.Args, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts,
		CreatedAt: job.CreatedAt, Snoozes: meta.Snoozes,
	}
}

// eventAt is when the not-found window starts: the event, or the job's
// creation when there was none.
func (j jobInfo) eventAt() time.Time {
	if !j.Args.EventAt.IsZero() {
		return j.Args.EventAt
	}
	return j.CreatedAt
}

// NextRetry backs off exponentially from Config.RetryBackoff to
// Config.RetryBackoffMax.
func (w *inviteWorker) NextRetry(job *river.Job[InviteArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt, w.q.cfg.RetryBackoff, w.q.cfg.RetryBackoffMax))
}

// Timeout is Config.JobTimeout.
func (w *inviteWorker) Timeout(*river.Job[InviteArgs]) time.Duration { return w.q.cfg.JobTimeout }

// Work invites the job's identity.
func (w *inviteWorker) Work(ctx context.Context, job *river.Job[InviteArgs]) error {
	q := w.q
	j := newJobInfo(job)
	ident, err := q.db.Identity(ctx, j.Args.IdentityID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && ident.InviteCount > j.Args.Round {
		d := q.baseDecision(j, inviter.Result{IdentityID: j.Args.IdentityID, API: ident.API})
		d.Outcome = inviter.OutcomeSkipped
		d.Reason = "already invited"
		if ident.InviteCount > 1 {
			d.Reason = fmt.Sprintf("already invited %d times", ident.InviteCount)
		}
		return q.record(ctx, j, d, nil)
	}

	if j.Args.Recheck && q.cfg.Recheck != nil {
		ok, reason, err := q.cfg.Recheck(ctx, j.Args.IdentityID)
		if err != nil {
			return fmt.Errorf("re-checking %s before its scheduled invite: %w", j.Args.IdentityID, err)
		}
		if !ok {
			d := q.baseDecision(j, inviter.Result{IdentityID: j.Args.IdentityID, API: q.cfg.API})
			d.Outcome, d.Reason, d.State = inviter.OutcomeSkipped, reason, store.StateSkipped
			return q.record(ctx, j, d, nil)
		}
	}

	res, batchID, err := q.batcher.submit(ctx, &request{id: j.Args.IdentityID, job: j})
	if err != nil {
		return err // the job's context ended: River retries (or hands it back on stop)
	}
	d, verdict := q.decide(j, res, batchID, time.Now())
	return q.record(ctx, j, d, verdict)
}

// record stores d and counts it, then returns verdict, the error River
// acts on. If storing fails the job fails too (and is retried), unless
// River was told to cancel or snooze it anyway.
func (q *Queue) record(ctx context.Context, j jobInfo, d store.Decision, verdict error) error {
	req := &recordReq{ctx: ctx, d: d}
	q.records.Submit(req)
	if err := req.err; err != nil {
		q.logger.ErrorContext(ctx, "record invite outcome", "identity_id", d.IdentityID, "job_id", j.ID, "error", err)
		if verdict == nil {
			return fmt.Errorf("record outcome %s: %w", d.Outcome, err)
		}
	}
	q.count(j, d)
	q.logger.InfoContext(ctx, "invite decision", "identity_id", d.IdentityID, "job_id", j.ID,
		"outcome", string(d.Outcome), "reason", d.Reason, "attempt", j.Attempt, "batch_id", d.BatchID, "source", d.Source)
	return verdict
}

// recordOrphan stores the Result of a job that stopped waiting for it after
// its id was sent, so that the job's retry sees an accepted invitation.
func (q *Queue) recordOrphan(r *request, res inviter.Result, batchID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(q.baseCtx), 10*time.Second)
	defer cancel()
	d, _ := q.decide(r.job, res, batchID, time.Now())
	if d.State != store.StateInvited && d.State != store.StateSkipped {
		d.State = "" // the job retries: leave the state pending
	}
	d.Reason = joinReason(d.Reason, "recorded after the job stopped waiting")
	_ = q.record(ctx, r.job, d, nil)
}

func (q *Queue) count(j jobInfo, d store.Decision) {
	q.m.Invites.WithLabelValues(string(d.Outcome), string(d.API)).Inc()
	if d.Outcome == inviter.OutcomeInvited && !j.Args.EventAt.IsZero() {
		q.m.EventToInvite.Observe(d.At.Sub(j.Args.EventAt).Seconds())
	}
}

func (q *Queue) baseDecision(j jobInfo, res inviter.Result) store.Decision {
	api := res.API
	if api == "" {
		api = q.cfg.API
	}
	return store.Decision{AuditEntry: store.AuditEntry{
		IdentityID: j.Args.IdentityID,
		At:         time.Now(),
		Outcome:    res.Outcome,
		Reason:     res.Reason,
		API:        api,
		CCID:       res.CCID,
		TaskID:     res.TaskID,
		Attempt:    j.Attempt,
		Source:     j.Args.Source,
	}}
}

// decide maps one Result to the decision to record and the error to return
// to River (nil: done).
func (q *Queue) decide(j jobInfo, res inviter.Result, batchID string, now time.Time) (store.Decision, error) {
	d := q.baseDecision(j, res)
	d.At = now
	d.BatchID = batchID
	switch res.Outcome {
	case inviter.OutcomeInvited:
		d.State = store.StateInvited
		return d, nil
	case inviter.OutcomeAlreadyRegistered, inviter.OutcomeSkipped:
		d.State = store.StateSkipped
		return d, nil
	case inviter.OutcomeNotFound:
		err := errOr(res, "identity not found")
		age := now.Sub(j.eventAt())
		if age < q.cfg.NotFoundWindow && j.Attempt < j.MaxAttempts {
			d.Reason = joinReason(res.Reason, fmt.Sprintf("not visible yet %s after the event; retrying", age.Round(time.Millisecond)))
			return d, fmt.Errorf("identity %s not found yet: %w", j.Args.IdentityID, err)
		}
		d.State = store.StateFailed
		d.Reason = joinReason(res.Reason, fmt.Sprintf("still not found %s after the event; giving up", age.Round(time.Second)))
		return d, river.JobCancel(fmt.Errorf("identity %s not found: %w", j.Args.IdentityID, err))
	}

	// OutcomeFailed, or an outcome this worker does not know.
	if res.Outcome != inviter.OutcomeFailed {
		d.Outcome = inviter.OutcomeFailed
		d.Reason = joinReason(res.Reason, fmt.Sprintf("unknown outcome %q", res.Outcome))
	}
	err := errOr(res, "invite failed")
	if wait, ok := isc.RetryAfter(err); ok && j.Snoozes < q.cfg.MaxSnoozes {
		if wait <= 0 {
			wait = q.cfg.RateLimitWait
		}
		d.Reason = fmt.Sprintf("rate limited; snoozed for %s (snooze %d)", wait, j.Snoozes+1)
		return d, river.JobSnooze(wait)
	}
	if isc.IsPermanent(err) {
		d.State = store.StateFailed
		d.Reason = joinReason(res.Reason, err.Error())
		return d, river.JobCancel(err)
	}
	if j.Attempt >= j.MaxAttempts {
		d.State = store.StateFailed
		d.Reason = fmt.Sprintf("giving up after %d attempts: %v", j.Attempt, err)
		return d, err
	}
	d.Reason = fmt.Sprintf("%v; retrying", err)
	return d, err
}

// errOr returns res.Err, or an error made of res.Reason or fallback.
func errOr(res inviter.Result, fallback string) error {
	if res.Err != nil {
		return res.Err
	}
	if res.Reason != "" {
		return errors.New(res.Reason)
	}
	return errors.New(fallback)
}

func joinReason(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// recordReq is one outcome waiting for a group commit.
type recordReq struct {
	ctx context.Context
	d   store.Decision
	err error
}

// commitRecords stores the outcomes of batch in one transaction (one
// fsync on SQLite for a whole ISC batch), or each in its own if that fails.
func (q *Queue) commitRecords(batch []*recordReq) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), 30*time.Second)
	defer cancel()
	err := q.db.InTx(ctx, func(tx *store.Tx) error {
		for _, r := range batch {
			if err := tx.Record(ctx, r.d); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		return
	}
	for _, r := range batch {
		r.err = q.db.Record(r.ctx, r.d)
	}
}
