package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/store"
)

// KindInvite is the River job kind of InviteArgs.
const KindInvite = "invite"

// InviteArgs are the arguments of an invite job: invite one identity. Jobs
// are unique by IdentityID and Round while one is queued or running
// (inviteUniqueStates), so a second event for the same identity adds no
// second job. A completed job does not count: inviter_identities says
// whether the identity was invited, and an identity whose job skipped it
// (the policy said no) can be enqueued again when an event or reconcile
// finds it eligible.
type InviteArgs struct {
	// IdentityID is the ISC identity id to invite.
	IdentityID string `json:"identity_id" river:"unique"`
	// DeliveryID is the webhook delivery that asked for the invite; 0 when
	// none did.
	DeliveryID int64 `json:"delivery_id,omitempty"`
	// Source says what asked for the invite: inviter.SourceEvent, inviter.SourceReconcile,
	// inviter.SourceCLI or inviter.SourceReinvite.
	Source inviter.Source `json:"source"`
	// EventAt is when the identity's event arrived (zero when none did); the
	// not-found window and the event-to-invite latency count from it.
	EventAt time.Time `json:"event_at,omitzero"`
	// Round is how many invitations the identity must already have had for
	// this job to send one: 0 for a first invite, n for the n-th re-invite.
	// The job skips the identity when inviter_identities records more than
	// Round accepted invitations, so a replayed job never mails twice.
	Round int `json:"round" river:"unique"`
	// Recheck asks the worker to look at the identity again before it
	// invites (Config.Recheck): set for invites scheduled long in advance,
	// whose identity may have changed (an offer withdrawn) or registered.
	Recheck bool `json:"recheck,omitempty"`
	// DueAt is when a scheduled invite was due (zero: when the job was
	// created); Config.GiveUpAfter counts from it.
	DueAt time.Time `json:"due_at,omitzero"`
}

// Kind returns KindInvite.
func (InviteArgs) Kind() string { return KindInvite }

// InsertOpts makes invite jobs unique by their river:"unique" fields while
// queued or running.
func (InviteArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: inviteUniqueStates()}}
}

// inviteUniqueStates are the job states in which an invite job blocks a
// second one for the same identity and round: River's defaults without
// completed.
func inviteUniqueStates() []rivertype.JobState {
	return []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}
}

// AcceptResult is what AcceptDelivery did.
type AcceptResult struct {
	// DeliveryID is the id of the stored delivery row.
	DeliveryID int64
	// JobID is the invite job for the identity: a new one, the existing one
	// when Duplicate, or 0 when the identity was already invited.
	JobID int64
	// Duplicate reports whether the identity already had an invite job or had
	// been invited, so this delivery added no work.
	Duplicate bool
}

// AcceptDelivery stores a webhook delivery and enqueues the invite it asks
// for, in one transaction: it inserts the delivery row (raw is the body as
// received), adds the identity as pending unless already known, and inserts
// the invite job (unique per identity) unless the identity was already
// invited. When it returns nil everything is committed and durable; when it
// returns an error nothing was stored. It is AcceptDeliveryWith with the
// zero AcceptOptions.
func (q *Queue) AcceptDelivery(ctx context.Context, ev inviter.IdentityCreated, raw []byte, receivedAt time.Time) (AcceptResult, error) {
	return q.AcceptDeliveryWith(ctx, ev.Identity, raw, receivedAt, AcceptOptions{})
}

// AcceptOptions say what a delivery leads to, as the caller's policy
// decided.
type AcceptOptions struct {
	// Source is the job's source; default inviter.SourceEvent.
	Source inviter.Source
	// ScheduledAt delays the invite (e.g. N days before a start date);
	// zero invites now.
	ScheduledAt time.Time
	// SkipReason, when set, enqueues nothing: the identity is recorded as
	// skipped with this reason in the audit trail (a policy said no).
	SkipReason string
	// NoJob stores the delivery only (e.g. an attribute change that does
	// not make the identity eligible): no identity row is added, so
	// reconcile still finds an identity inviter never handled. The result
	// reports Duplicate.
	NoJob bool
	// Recheck makes the worker look at the identity (Config.Recheck, one
	// GET) before it invites: set when the delivery did not carry every
	// attribute the policy reads (an attribute change).
	Recheck bool
	// Test stores a delivery of one of ISC's sample identities (the "Test
	// subscription" payload) as a test delivery (store.DeliveryTest): no
	// identity row and no invite job, an audit row, and a check job
	// (TestCheckArgs) that asks Config.CheckTestDelivery whether the tenant
	// knows the identity after all. The result reports Duplicate.
	Test bool
}

// AcceptDeliveryWith is AcceptDelivery for any event about identity, with
// the options the caller's policy chose. Everything it stores is written in
// one transaction.
func (q *Queue) AcceptDeliveryWith(ctx context.Context, identity inviter.IdentityRef, raw []byte, receivedAt time.Time, opts AcceptOptions) (AcceptResult, error) {
	id := strings.TrimSpace(identity.ID)
	if id == "" {
		return AcceptResult{}, fmt.Errorf("accept delivery: %w: identity.id is missing", inviter.ErrInvalidEvent)
	}
	if opts.Source == "" {
		opts.Source = inviter.SourceEvent
	}
	if !opts.Source.Valid() {
		return AcceptResult{}, fmt.Errorf("accept delivery for %s: %w %q", id, ErrInvalidSource, opts.Source)
	}
	if receivedAt.IsZero() {
		receivedAt = time.Now()
	}
	req := &acceptReq{ctx: ctx, id: id, identity: identity, raw: raw, receivedAt: receivedAt, opts: opts}
	q.accepts.Submit(req)
	if req.err != nil {
		return AcceptResult{}, fmt.Errorf("accept delivery for %s: %w", id, req.err)
	}
	if opts.Test {
		q.m.TestDeliveries.Inc()
	}
	return req.res, nil
}

// acceptReq is one delivery waiting to be stored by a group commit.
type acceptReq struct {
	ctx        context.Context
	id         string
	identity   inviter.IdentityRef
	raw        []byte
	receivedAt time.Time
	opts       AcceptOptions

	res AcceptResult
	err error
}

// maxGroup is the most deliveries (or outcomes) one group commit stores.
const maxGroup = 128

// commitGroup stores batch in one transaction (the queue's grouper tries
// each delivery of a failed group in its own, so that one bad delivery
// does not fail the others).
func (q *Queue) commitGroup(batch []*acceptReq) error {
	ctx, cancel := groupContext(batch[0].ctx, len(batch), 10*time.Second)
	defer cancel()
	return q.db.InTx(ctx, func(tx *store.Tx) error { return q.acceptGroupTx(ctx, tx, batch) })
}

// failAccept records the error of a delivery stored alone.
func failAccept(r *acceptReq, err error) { r.res, r.err = AcceptResult{}, err }

// groupContext is the context of a group of n callers' work, the first's
// ctx: the group outlives any one caller's deadline, so a group of several
// is bounded on its own, by limit.
func groupContext(first context.Context, n int, limit time.Duration) (context.Context, context.CancelFunc) {
	if n == 1 {
		return first, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(first), limit)
}

// acceptGroupTx stores the deliveries of batch in tx: the delivery rows in
// one insert, the identities in one more (both in one round trip on
// PostgreSQL), policy skips, the invite jobs in one River insert and the
// deliveries' links to their jobs in one update. Two deliveries of one
// identity in a batch share its job.
func (q *Queue) acceptGroupTx(ctx context.Context, tx *store.Tx, batch []*acceptReq) error {
	deliveries := make([]store.Delivery, len(batch))
	seen := make([]store.IdentitySeen, 0, len(batch))
	for i, r := range batch {
		r.res = AcceptResult{}
		kind := store.DeliveryEvent
		if r.opts.Test {
			kind = store.DeliveryTest
		}
		deliveries[i] = store.Delivery{IdentityID: r.id, IdentityName: r.identity.Name, Payload: r.raw, ReceivedAt: r.receivedAt, Kind: kind}
		if !r.opts.Test && !r.opts.NoJob {
			seen = append(seen, store.IdentitySeen{IdentityID: r.id, EventAt: r.receivedAt.UTC(), Now: r.receivedAt})
		}
	}
	deliveryIDs, idents, err := tx.InsertDeliveriesAndIdentities(ctx, deliveries, seen)
	if err != nil {
		return err
	}
	type pendingJob struct {
		reqs []*acceptReq
	}
	var (
		params []river.InsertManyParams
		jobs   []*pendingJob
		byKey  = map[string]*pendingJob{}
	)
	for i, r := range batch {
		id, opts, receivedAt := r.id, r.opts, r.receivedAt
		deliveryID := deliveryIDs[i]
		r.res.DeliveryID = deliveryID
		if opts.Test {
			r.res.Duplicate = true
			if err := tx.AppendAudit(ctx, store.AuditEntry{IdentityID: id, At: receivedAt, Outcome: inviter.OutcomeSkipped,
				Reason: TestDeliveryCheckReason, API: q.cfg.API, Source: opts.Source}); err != nil {
				return err
			}
			check := TestCheckArgs{DeliveryID: deliveryID, Identity: r.identity, Source: opts.Source, ReceivedAt: receivedAt.UTC(), Payload: r.raw}
			checkOpts := check.InsertOpts()
			if _, err := q.be.insertManyTx(ctx, tx, []river.InsertManyParams{{Args: check, InsertOpts: &checkOpts}}); err != nil {
				return fmt.Errorf("insert test delivery check: %w", err)
			}
			continue
		}
		if opts.NoJob {
			r.res.Duplicate = true
			continue
		}
		ident := idents[id]
		switch {
		case opts.SkipReason != "":
			r.res.Duplicate = true
			if ident.InviteCount > 0 {
				continue // invited before: the policy's word changes nothing
			}
			if err := tx.Record(ctx, store.Decision{
				AuditEntry: store.AuditEntry{IdentityID: id, At: receivedAt, Outcome: inviter.OutcomeSkipped,
					Reason: opts.SkipReason, API: q.cfg.API, Source: opts.Source},
				State: inviter.StateSkipped,
			}); err != nil {
				return err
			}
			continue
		case ident.InviteCount > 0:
			r.res.Duplicate = true // already invited (round 0)
			continue
		}
		if pj, ok := byKey[id]; ok {
			pj.reqs = append(pj.reqs, r)
			continue
		}
		args := InviteArgs{IdentityID: id, DeliveryID: deliveryID, Source: opts.Source, EventAt: receivedAt.UTC(), Recheck: opts.Recheck}
		insertOpts := args.InsertOpts()
		if !opts.ScheduledAt.IsZero() {
			insertOpts.ScheduledAt = opts.ScheduledAt
			args.Recheck = true
			args.DueAt = opts.ScheduledAt.UTC()
		}
		pj := &pendingJob{reqs: []*acceptReq{r}}
		byKey[id] = pj
		jobs = append(jobs, pj)
		params = append(params, river.InsertManyParams{Args: args, InsertOpts: &insertOpts})
	}
	if len(params) > 0 {
		results, err := q.be.insertManyTx(ctx, tx, params)
		if err != nil {
			return fmt.Errorf("insert invite jobs: %w", err)
		}
		links := make([]store.DeliveryJob, 0, len(batch))
		for i, res := range results {
			for k, r := range jobs[i].reqs {
				r.res.JobID = res.Job.ID
				r.res.Duplicate = res.UniqueSkippedAsDuplicate || k > 0
				links = append(links, store.DeliveryJob{DeliveryID: r.res.DeliveryID, JobID: res.Job.ID})
			}
		}
		if err := tx.SetDeliveryJobs(ctx, links); err != nil {
			return err
		}
	}
	if q.testAfterInsert != nil {
		return q.testAfterInsert()
	}
	return nil
}

// enqueueTx adds the identity (pending) if unknown and inserts its invite
// job unless it already had Round+1 invitations. It returns the job id (0
// when no job is needed) and whether nothing new was enqueued.
func (q *Queue) enqueueTx(ctx context.Context, tx *store.Tx, args InviteArgs, now time.Time, opts *river.InsertOpts) (int64, bool, error) {
	ident, _, err := tx.EnsureIdentity(ctx, args.IdentityID, args.EventAt, now)
	if err != nil {
		return 0, false, err
	}
	if ident.InviteCount > args.Round {
		return 0, true, nil
	}
	ins, err := q.be.insertTx(ctx, tx, args, opts)
	if err != nil {
		return 0, false, fmt.Errorf("insert invite job: %w", err)
	}
	return ins.Job.ID, ins.UniqueSkippedAsDuplicate, nil
}

// EnqueueOpts are options for Enqueue; the zero value enqueues a first
// invite to run now.
type EnqueueOpts struct {
	// Round is InviteArgs.Round: 0 for a first invite, the identity's
	// invite count for a re-invite.
	Round int
	// EventAt is InviteArgs.EventAt; zero when no event is known.
	EventAt time.Time
	// ScheduledAt delays the job until then (e.g. before a start date);
	// zero runs it now.
	ScheduledAt time.Time
}

// EnqueueResult is what Enqueue did.
type EnqueueResult struct {
	// JobID is the new or existing invite job; 0 when the identity already
	// had the invitations Round asks for.
	JobID int64
	// Duplicate reports whether nothing new was enqueued.
	Duplicate bool
}

// ErrInvalidSource is wrapped by Enqueue's error for an unknown source.
var ErrInvalidSource = errors.New("invalid source")

// Enqueue asks for identityID to be invited, for the CLI and periodic jobs:
// in one transaction it adds the identity as pending unless known and
// inserts its invite job (unique by identity and round) unless the identity
// already had more than opts.Round invitations. source is one of
// inviter.SourceReconcile, inviter.SourceCLI, inviter.SourceReinvite or inviter.SourceEvent. opts may be nil.
func (q *Queue) Enqueue(ctx context.Context, identityID string, source inviter.Source, opts *EnqueueOpts) (EnqueueResult, error) {
	identityID = strings.TrimSpace(identityID)
	if identityID == "" {
		return EnqueueResult{}, errors.New("enqueue: empty identity id")
	}
	if !source.Valid() {
		return EnqueueResult{}, fmt.Errorf("enqueue %s: %w %q", identityID, ErrInvalidSource, source)
	}
	if opts == nil {
		opts = &EnqueueOpts{}
	}
	if opts.Round < 0 {
		return EnqueueResult{}, fmt.Errorf("enqueue %s: negative round %d", identityID, opts.Round)
	}
	args := InviteArgs{IdentityID: identityID, Source: source, Round: opts.Round}
	if !opts.EventAt.IsZero() {
		args.EventAt = opts.EventAt.UTC()
	}
	var insertOpts *river.InsertOpts
	if !opts.ScheduledAt.IsZero() {
		args.Recheck = true
		args.DueAt = opts.ScheduledAt.UTC()
		insertOpts = &river.InsertOpts{ScheduledAt: opts.ScheduledAt, UniqueOpts: args.InsertOpts().UniqueOpts}
	}
	var res EnqueueResult
	err := q.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		res.JobID, res.Duplicate, err = q.enqueueTx(ctx, tx, args, time.Now(), insertOpts)
		return err
	})
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("enqueue %s: %w", identityID, err)
	}
	return res, nil
}
