package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/store"
)

// inviteWorker works invite jobs: it skips identities already invited for
// the job's round, hands the rest to the batcher, records each outcome and
// maps it to River's verbs:
//
//   - invited, already registered, skipped: done.
//   - not found: retried with backoff while the event is younger than
//     Config.NotFoundWindow, then cancelled (dead letter) as failed.
//   - a configuration problem (inviter.IsConfigProblem): river.JobSnooze
//     for Config.ConfigProblemWait; reported by ConfigProblem and a metric.
//   - rate limited (inviter.RetryAfter): river.JobSnooze(Retry-After,
//     capped).
//   - permanent (inviter.IsPermanent): river.JobCancel (dead letter,
//     retryable by hand).
//   - anything else (transient): river.JobSnooze with capped, jittered
//     backoff.
//
// River decrements the attempt on a snooze (its job executor sets the
// snoozed state with Attempt-1) and records no error, so ISC's failures
// never use up MaxAttempts: a job keeps waiting until Config.GiveUpAfter
// from when it was due, then is cancelled as failed with a transient or
// config error kind, which reconcile picks up again.
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
	return jobInfo{
		ID: job.ID, Args: job.Args, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts,
		CreatedAt: job.CreatedAt, Snoozes: snoozesOf(job.Metadata),
	}
}

// snoozesOf reads how many times River snoozed a job from its metadata.
func snoozesOf(metadata []byte) int {
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &meta)
	return meta.Snoozes
}

// eventAt is when the not-found window starts: the event, or the job's
// creation when there was none.
func (j jobInfo) eventAt() time.Time {
	if !j.Args.EventAt.IsZero() {
		return j.Args.EventAt
	}
	return j.CreatedAt
}

// dueAt is when the job was first due to run: GiveUpAfter counts from it.
func (j jobInfo) dueAt() time.Time {
	if j.Args.DueAt.After(j.CreatedAt) {
		return j.Args.DueAt
	}
	return j.CreatedAt
}

// failures is how many times this job has run, snoozes included: the
// exponent of its backoff.
func (j jobInfo) failures() int { return max(1, j.Attempt+j.Snoozes) }

func (j jobInfo) key() outcomeKey { return outcomeKey{id: j.Args.IdentityID, round: j.Args.Round} }

// NextRetry backs off exponentially from Config.RetryBackoff to
// Config.RetryBackoffMax, jittered.
func (w *inviteWorker) NextRetry(job *river.Job[InviteArgs]) time.Time {
	return time.Now().Add(jitter(backoff(job.Attempt, w.q.cfg.RetryBackoff, w.q.cfg.RetryBackoffMax)))
}

// Timeout is Config.JobTimeout.
func (w *inviteWorker) Timeout(*river.Job[InviteArgs]) time.Duration { return w.q.cfg.JobTimeout }

// Work invites the job's identity.
func (w *inviteWorker) Work(ctx context.Context, job *river.Job[InviteArgs]) error {
	q := w.q
	q.works.Add(1)
	defer q.works.Done()
	j := newJobInfo(job)

	// ISC accepted this identity's invitation in an earlier run whose
	// outcome the database did not take: record it, never send again.
	if d, ok := q.unrecorded.get(j.key()); ok {
		d.Reason = joinReason(d.Reason, "recorded late, from memory")
		return q.recordAccepted(ctx, j, d)
	}

	ident, err := q.identity(ctx, j.Args.IdentityID)
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
		dec, err := q.cfg.Recheck(ctx, j.Args.IdentityID)
		if err != nil {
			err = fmt.Errorf("reading %s before its invite: %w", j.Args.IdentityID, err)
			if !inviter.IsTransient(err) && !inviter.IsConfigProblem(err) {
				return err
			}
			d, verdict := q.decide(j, inviter.Result{IdentityID: j.Args.IdentityID, Outcome: inviter.OutcomeFailed,
				Reason: err.Error(), Err: err}, "", q.now())
			return q.record(ctx, j, d, verdict)
		}
		switch dec.Verdict {
		case admission.Now:
		case admission.Later:
			// The start date is further away than when the job was made:
			// the job waits for it, and looks again then.
			q.logger.InfoContext(ctx, "invite put off", "identity_id", j.Args.IdentityID, "job_id", j.ID, "at", dec.At, "reason", dec.Reason)
			return river.JobSnooze(max(time.Second, dec.At.Sub(q.now())))
		default:
			d := q.baseDecision(j, inviter.Result{IdentityID: j.Args.IdentityID, API: q.cfg.API})
			d.Outcome, d.Reason, d.State = inviter.OutcomeSkipped, dec.Reason, inviter.StateSkipped
			return q.record(ctx, j, d, nil)
		}
	}

	res, batchID, err := q.batcher.submit(ctx, &request{id: j.Args.IdentityID, job: j})
	if err != nil {
		return err // withdrawn before it was sent: River retries (or hands it back on stop)
	}
	d, verdict := q.decide(j, res, batchID, q.now())
	if d.State == inviter.StateInvited {
		return q.recordAccepted(ctx, j, d)
	}
	return q.record(ctx, j, d, verdict)
}

// recordedRetries says which failed runs of a job still retrying are
// written to the audit trail: the first eight, then one in twelve (hourly
// at the 5-minute backoff cap), so that a week-long outage costs each
// identity some 180 rows, not 2,000. Every run is counted and logged.
func recordedRetries(failures int) bool { return failures <= 8 || failures%12 == 0 }

// record stores d and counts it, then returns verdict, the error River
// acts on. A retry the audit trail does not need (recordedRetries) is
// counted and logged only. If storing fails the job fails too (and is retried), unless
// River was told to cancel or snooze it anyway. Accepted invitations go
// through recordAccepted instead.
func (q *Queue) record(ctx context.Context, j jobInfo, d store.Decision, verdict error) error {
	if d.State == "" && d.ErrorKind != "" && !recordedRetries(j.failures()) {
		q.logDecision(ctx, j, d)
		return verdict
	}
	if err := q.write(ctx, d); err != nil {
		q.logger.ErrorContext(ctx, "record invite outcome", "identity_id", d.IdentityID, "job_id", j.ID, "error", err)
		if verdict == nil {
			return fmt.Errorf("record outcome %s: %w", d.Outcome, err)
		}
	}
	q.logDecision(ctx, j, d)
	return verdict
}

// recordAccepted stores an invitation ISC accepted. The invitation must
// never be sent again, so a write that fails is retried here, with
// backoff, for as long as the job may run; after that the outcome is held
// in memory and the job snoozed: its next run (or Stop) writes it instead
// of calling ISC.
func (q *Queue) recordAccepted(ctx context.Context, j jobInfo, d store.Decision) error {
	wait := q.cfg.RetryBackoff
	for n := 1; ; n++ {
		err := q.write(ctx, d)
		if err == nil {
			if q.unrecorded.remove(j.key()) {
				q.m.UnrecordedOutcomes.Set(float64(q.unrecorded.len()))
				q.logger.InfoContext(ctx, "invite outcome recorded late", "identity_id", d.IdentityID, "job_id", j.ID)
			}
			q.logDecision(ctx, j, d)
			return nil
		}
		if q.unrecorded.put(j.key(), d) {
			q.m.UnrecordedOutcomes.Set(float64(q.unrecorded.len()))
		}
		if n == 1 {
			q.logger.ErrorContext(ctx, "ISC accepted an invitation but its outcome cannot be recorded; held in memory and retried, never sent again",
				"identity_id", d.IdentityID, "job_id", j.ID, "task_id", d.TaskID, "error", err)
		}
		t := time.NewTimer(jitter(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return river.JobSnooze(q.cfg.RetryBackoff)
		case <-t.C:
		}
		wait = min(2*wait, q.cfg.RetryBackoffMax)
	}
}

// write stores d through the group commit.
func (q *Queue) write(ctx context.Context, d store.Decision) error {
	req := &recordReq{ctx: ctx, d: d}
	q.records.Submit(req)
	return req.err
}

func (q *Queue) logDecision(ctx context.Context, j jobInfo, d store.Decision) {
	q.count(j, d)
	q.logger.Log(ctx, decisionLevel(d), "invite decision", "identity_id", d.IdentityID, "job_id", j.ID,
		"outcome", string(d.Outcome), "reason", d.Reason, "attempt", j.Attempt, "batch_id", d.BatchID, "source", d.Source,
		"task_id", d.TaskID, "completion_status", d.CompletionStatus)
}

// decisionLevel is the log level an outcome deserves: WARN for an invite
// that failed, DEBUG for an expected retry (ISC does not show the identity
// yet, a transient error), INFO for the rest.
func decisionLevel(d store.Decision) slog.Level {
	switch {
	case d.State == inviter.StateFailed || (d.Outcome == inviter.OutcomeFailed && d.State != ""):
		return slog.LevelWarn
	case d.State == "" && (d.Outcome == inviter.OutcomeNotFound || d.Outcome == inviter.OutcomeFailed || d.Outcome == inviter.OutcomeRetrying):
		return slog.LevelDebug
	}
	return slog.LevelInfo
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
		IdentityID:       j.Args.IdentityID,
		At:               time.Now(),
		Outcome:          res.Outcome,
		Reason:           res.Reason,
		API:              api,
		CCID:             res.CCID,
		TaskID:           res.TaskID,
		CompletionStatus: res.CompletionStatus,
		Attempt:          j.Attempt,
		Source:           j.Args.Source,
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
		q.configOK()
		d.State = inviter.StateInvited
		return d, nil
	case inviter.OutcomeAlreadyRegistered, inviter.OutcomeSkipped:
		q.configOK()
		d.State = inviter.StateSkipped
		return d, nil
	case inviter.OutcomeNotFound:
		q.configOK()
		err := errOr(res, "identity not found")
		age := now.Sub(j.eventAt())
		if age < q.cfg.NotFoundWindow && j.Attempt < j.MaxAttempts {
			d.ErrorKind = store.ErrorKindTransient
			d.Reason = joinReason(res.Reason, fmt.Sprintf("not visible yet %s after the event; retrying", age.Round(time.Millisecond)))
			return d, fmt.Errorf("identity %s not found yet: %w", j.Args.IdentityID, err)
		}
		// ISC does not know the identity: trying again now changes
		// nothing, but reconcile enqueues it again once ISC lists it.
		d.State = inviter.StateFailed
		d.ErrorKind = store.ErrorKindNotFound
		d.Reason = joinReason(res.Reason, fmt.Sprintf("still not found %s after the event; giving up", age.Round(time.Second)))
		return d, river.JobCancel(fmt.Errorf("identity %s not found: %w", j.Args.IdentityID, err))
	}

	// OutcomeFailed, or an outcome this worker does not know.
	if res.Outcome != inviter.OutcomeFailed {
		d.Outcome = inviter.OutcomeFailed
		d.Reason = joinReason(res.Reason, fmt.Sprintf("unknown outcome %q", res.Outcome))
	}
	err := errOr(res, "invite failed")
	var wait time.Duration
	switch ra, rateLimited := inviter.RetryAfter(err); {
	case inviter.IsConfigProblem(err):
		q.setConfigProblem(err)
		q.m.ConfigProblemJobs.Inc()
		d.ErrorKind = store.ErrorKindConfig
		wait = q.cfg.ConfigProblemWait
		d.Reason = fmt.Sprintf("configuration problem, retry in %s: %v", wait, err)
	case rateLimited:
		d.ErrorKind = store.ErrorKindTransient
		wait = ra
		if wait <= 0 {
			wait = q.cfg.RateLimitWait
		}
		asked := max(wait, inviter.RequestedRetryAfter(err))
		wait = min(wait, q.cfg.MaxRateLimitWait)
		d.Reason = fmt.Sprintf("rate limited, retry in %s", wait)
		if asked > wait {
			d.Reason += fmt.Sprintf(" (ISC asked for %s)", asked)
		}
	case inviter.IsPermanent(err):
		q.configOK()
		d.State = inviter.StateFailed
		d.ErrorKind = store.ErrorKindPermanent
		d.Reason = joinReason(res.Reason, err.Error())
		return d, river.JobCancel(err)
	default:
		d.ErrorKind = store.ErrorKindTransient
		wait = jitter(backoff(j.failures(), q.cfg.RetryBackoff, q.cfg.RetryBackoffMax))
		d.Reason = fmt.Sprintf("%v; retry in %s", err, wait.Round(time.Millisecond))
	}
	if age := now.Sub(j.dueAt()); age+wait > q.cfg.GiveUpAfter {
		d.State = inviter.StateFailed
		d.Reason = fmt.Sprintf("giving up after %s of failures (limit %s): %v", age.Round(time.Second), q.cfg.GiveUpAfter, err)
		return d, river.JobCancel(err)
	}
	d.Outcome = inviter.OutcomeRetrying // not given up: "failed" is kept for that
	return d, river.JobSnooze(wait)
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
// fsync on SQLite for a whole ISC batch; the queue's grouper stores each in
// its own if that fails). The writes outlive the jobs' contexts (a job
// stopped by shutdown still records what ISC did), bounded on their own.
func (q *Queue) commitRecords(batch []*recordReq) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), 30*time.Second)
	defer cancel()
	return q.db.InTx(ctx, func(tx *store.Tx) error {
		ds := make([]store.Decision, len(batch))
		for i, r := range batch {
			if err := q.testRecordHook(r.d); err != nil {
				return err
			}
			ds[i] = r.d
		}
		return tx.RecordMany(ctx, ds)
	})
}

// failRecord records the error of an outcome stored alone.
func failRecord(r *recordReq, err error) { r.err = err }

func (q *Queue) testRecordHook(d store.Decision) error {
	if q.testRecord == nil {
		return nil
	}
	return q.testRecord(d)
}
