package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/store"
)

// KindTestCheck is the River job kind of TestCheckArgs.
const KindTestCheck = "test-delivery-check"

// Audit reasons of a delivery that carries one of ISC's sample identities.
const (
	// TestDeliveryReason: ISC's test payload ("Test subscription"): the
	// tenant does not know its identity.
	TestDeliveryReason = "test delivery (ISC's sample identity, not in this tenant)"
	// TestDeliveryCheckReason is written at intake, while the check runs.
	TestDeliveryCheckReason = "test delivery? ISC's sample identity: checking whether this tenant knows it"
)

// TestCheckArgs are the arguments of the job that decides a delivery
// stored as ISC's test payload (AcceptOptions.Test): a sample identity id
// alone does not decide, since a tenant may hold a real identity with it.
type TestCheckArgs struct {
	DeliveryID int64               `json:"delivery_id" river:"unique"`
	Identity   inviter.IdentityRef `json:"identity"`
	Source     inviter.Source      `json:"source"`
	ReceivedAt time.Time           `json:"received_at"`
	Payload    []byte              `json:"payload"`
}

// Kind returns KindTestCheck.
func (TestCheckArgs) Kind() string { return KindTestCheck }

// InsertOpts makes one check per delivery.
func (TestCheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// TestDelivery is a delivery of one of ISC's sample identities, as
// Config.CheckTestDelivery sees it.
type TestDelivery struct {
	DeliveryID int64
	Identity   inviter.IdentityRef
	Source     inviter.Source // inviter.SourceEvent or inviter.SourceAttributes
	Payload    []byte         // the body as received
	ReceivedAt time.Time
}

// testCheckWorker works KindTestCheck jobs: it asks Config.CheckTestDelivery
// whether the tenant knows the identity. Not known: the delivery stays a
// test delivery; it is looked at again (every RetryBackoffMax at most)
// until Config.NotFoundWindow has passed since it arrived, since a real
// joiner may not be visible at once, and then the audit says it was a
// test. Known: it is a real joiner's delivery, admitted as any other.
type testCheckWorker struct {
	river.WorkerDefaults[TestCheckArgs]
	q *Queue
}

// Work checks the delivery.
func (w *testCheckWorker) Work(ctx context.Context, job *river.Job[TestCheckArgs]) error {
	q, a := w.q, job.Args
	if q.cfg.CheckTestDelivery == nil {
		return q.concludeTest(ctx, a)
	}
	known, opts, err := q.cfg.CheckTestDelivery(ctx, TestDelivery{DeliveryID: a.DeliveryID, Identity: a.Identity,
		Source: a.Source, Payload: a.Payload, ReceivedAt: a.ReceivedAt})
	switch {
	case err != nil && inviter.IsConfigProblem(err):
		q.setConfigProblem(err)
		return river.JobSnooze(q.cfg.ConfigProblemWait)
	case err != nil:
		return fmt.Errorf("checking whether ISC knows %s: %w", a.Identity.ID, err)
	case !known:
		if wait := q.cfg.NotFoundWindow - q.now().Sub(a.ReceivedAt); wait > 0 {
			return river.JobSnooze(min(wait, q.cfg.RetryBackoffMax))
		}
		return q.concludeTest(ctx, a)
	}
	q.configOK()
	if opts.Source == "" {
		opts.Source = a.Source
	}
	err = q.db.InTx(ctx, func(tx *store.Tx) error { return q.admitTx(ctx, tx, a, opts) })
	if err != nil {
		return fmt.Errorf("admitting %s: %w", a.Identity.ID, err)
	}
	q.logger.InfoContext(ctx, "a delivery of ISC's sample identity is a real joiner's: ISC knows the identity", "identity_id", a.Identity.ID, "delivery_id", a.DeliveryID)
	return nil
}

// concludeTest records that the delivery was ISC's test payload.
func (q *Queue) concludeTest(ctx context.Context, a TestCheckArgs) error {
	return q.db.AppendAudit(ctx, store.AuditEntry{IdentityID: a.Identity.ID, Outcome: inviter.OutcomeSkipped,
		Reason: TestDeliveryReason, API: q.cfg.API, Source: a.Source})
}

// admitTx stores what a real joiner's delivery leads to, as
// acceptGroupTx does for any delivery: the identity, a policy skip or the
// invite job.
func (q *Queue) admitTx(ctx context.Context, tx *store.Tx, a TestCheckArgs, opts AcceptOptions) error {
	if err := tx.SetDeliveryKind(ctx, a.DeliveryID, store.DeliveryEvent); err != nil {
		return err
	}
	id := a.Identity.ID
	if opts.NoJob {
		return nil
	}
	ident, _, err := tx.EnsureIdentity(ctx, id, a.ReceivedAt.UTC(), a.ReceivedAt)
	if err != nil {
		return err
	}
	switch {
	case opts.SkipReason != "":
		if ident.InviteCount > 0 {
			return nil
		}
		return tx.Record(ctx, store.Decision{
			AuditEntry: store.AuditEntry{IdentityID: id, At: a.ReceivedAt, Outcome: inviter.OutcomeSkipped,
				Reason: opts.SkipReason, API: q.cfg.API, Source: opts.Source},
			State: inviter.StateSkipped,
		})
	case ident.InviteCount > 0:
		return nil
	}
	args := InviteArgs{IdentityID: id, DeliveryID: a.DeliveryID, Source: opts.Source, EventAt: a.ReceivedAt.UTC(), Recheck: opts.Recheck}
	insertOpts := args.InsertOpts()
	if !opts.ScheduledAt.IsZero() {
		insertOpts.ScheduledAt = opts.ScheduledAt
		args.Recheck = true
		args.DueAt = opts.ScheduledAt.UTC()
	}
	res, err := q.be.insertTx(ctx, tx, args, &insertOpts)
	if err != nil {
		return fmt.Errorf("insert invite job: %w", err)
	}
	return tx.SetDeliveryJob(ctx, a.DeliveryID, res.Job.ID)
}
