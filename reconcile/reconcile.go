// Package reconcile finds the identities inviter should have invited and
// did not, and the invitations that expired unused.
//
// ISC never resends an event trigger delivery, so an event lost to an
// outage is lost for good; the Reconciler finds unregistered identities and
// enqueues those created after a cut-off that inviter never saw. The
// cut-off defaults to the moment inviter's database was first initialised,
// so turning inviter on never mails the old backlog.
//
// A run costs what is new, not what exists: it searches (POST /v3/search)
// for unregistered identities created since the last run, minus an
// overlap, and never before the cut-off. A token without search rights
// (403) or a tenant without search falls back to listing every
// unregistered identity (ceil(U / 250) calls), said once in the log.
//
// ISC's invitations expire after 7 days; the Reinviter invites again the
// identities still unregistered then, a bounded number of times.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// MetaLastRun is the inviter_meta key holding the time (RFC 3339) and
// summary of the last reconciliation. MetaSearchFrom holds where the next
// search starts: "<cut-off> <start of the last searched run>", both RFC
// 3339; it applies only while the cut-off is the same.
const (
	MetaLastRun    = "reconcile_last_run"
	MetaLastReport = "reconcile_last_report"
	MetaSearchFrom = "reconcile_search_from"
)

// DefaultSearchOverlap is how far before the last run a search starts
// again. SailPoint documents that data reaches search "a few seconds to a
// few minutes" after it changes; a day is a wide margin over that and
// costs only the identities of that day.
const DefaultSearchOverlap = 24 * time.Hour

// Lister is the part of the ISC client reconciliation uses. isc.Client
// implements it; implementations must be safe for concurrent use.
type Lister interface {
	// EachUnregistered calls fn with each page of unregistered identities.
	EachUnregistered(ctx context.Context, fn func([]inviter.Identity) error) error
	// IdentitiesByID returns the identities ISC knows among ids (≤ 250).
	IdentitiesByID(ctx context.Context, ids []string) ([]inviter.Identity, error)
}

// Searcher is the cheaper way to find new unregistered identities;
// isc.Client implements it. A Lister that is not a Searcher is listed in
// full.
type Searcher interface {
	// SearchUnregisteredSince calls fn with each page of unregistered
	// identities created after since.
	SearchUnregisteredSince(ctx context.Context, since time.Time, fn func([]inviter.Identity) error) error
}

// Enqueuer enqueues invite jobs; queue.Queue implements it.
type Enqueuer interface {
	Enqueue(ctx context.Context, identityID string, source inviter.Source, opts *queue.EnqueueOpts) (queue.EnqueueResult, error)
}

// Reconciler enqueues unregistered identities created after the cut-off
// that inviter has never handled.
type Reconciler struct {
	ISC    Lister
	DB     *store.DB
	Queue  Enqueuer
	Policy *policy.Policy // nil: everyone
	// Since widens (or narrows) the cut-off on purpose (--backfill-since);
	// zero means the time the database was first initialised.
	Since time.Time
	// SearchOverlap is how far before the last run's start a search starts
	// again; default DefaultSearchOverlap.
	SearchOverlap time.Duration
	Now           func() time.Time // default time.Now
	Logger        *slog.Logger

	fallbackLogged atomic.Bool // the fallback to the list was logged
}

// Source values of Report.Source.
const (
	SourceSearch = "search" // POST /v3/search since the last run
	SourceList   = "list"   // every unregistered identity listed
)

// Report says what one reconciliation did.
type Report struct {
	Cutoff        time.Time `json:"cutoff"`
	Source        string    `json:"source"`         // SourceSearch or SourceList
	Since         time.Time `json:"since"`          // where the search started (the cut-off when listed)
	Listed        int       `json:"listed"`         // unregistered identities ISC returned
	BeforeCutoff  int       `json:"before_cutoff"`  // left alone: the old backlog
	Known         int       `json:"known"`          // inviter has handled them already
	Skipped       int       `json:"skipped"`        // the policy said no (recorded)
	UnknownStatus int       `json:"unknown_status"` // a status inviter does not invite (not recorded)
	Enqueued      int       `json:"enqueued"`       // invite jobs added
	Scheduled     int       `json:"scheduled"`      // of which scheduled for later
	Retried       int       `json:"retried"`        // failed on a transient error or a configuration problem: enqueued again
	Refound       int       `json:"refound"`        // gave up as not visible in time, listed now: decided again
}

func (r Report) String() string {
	how := "listed"
	if r.Source == SourceSearch {
		how = "searched since " + r.Since.UTC().Format(time.RFC3339) + ":"
	}
	return fmt.Sprintf("%s %d unregistered: %d before the cut-off %s, %d already handled, %d skipped by policy, %d enqueued (%d scheduled; %d of them not visible in time before); %d failed on a transient error enqueued again",
		how, r.Listed, r.BeforeCutoff, r.Cutoff.UTC().Format(time.RFC3339), r.Known, r.Skipped, r.Enqueued, r.Scheduled, r.Refound, r.Retried)
}

func (r *Reconciler) now() time.Time { return nowOf(r.Now) }

func (r *Reconciler) logger() *slog.Logger { return loggerOf(r.Logger) }

// nowOf is the time by clock, or time.Now when clock is nil.
func nowOf(clock func() time.Time) time.Time {
	if clock != nil {
		return clock()
	}
	return time.Now()
}

// loggerOf is l, or a logger that discards when l is nil.
func loggerOf(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// Cutoff returns the cut-off in force: Since, or the database's first
// initialisation.
func (r *Reconciler) Cutoff(ctx context.Context) (time.Time, error) {
	if !r.Since.IsZero() {
		return r.Since, nil
	}
	at, err := r.DB.InitialisedAt(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the reconcile cut-off: %w", err)
	}
	return at, nil
}

// Reconcile finds the unregistered identities created after the cut-off
// that inviter never handled and enqueues them, as the policy decides
// (skips are recorded with their reason, start dates scheduled). It
// searches when it can (see Searcher) and lists every unregistered
// identity otherwise.
func (r *Reconciler) Reconcile(ctx context.Context) (rep Report, err error) {
	cutoff, err := r.Cutoff(ctx)
	if err != nil {
		return Report{}, err
	}
	rep = Report{Cutoff: cutoff, Source: SourceList, Since: cutoff}
	now := r.now()
	defer func() {
		run := store.ReconcileRun{At: now, CutOff: cutoff, Enqueued: rep.Enqueued}
		if err != nil {
			run.Err = err.Error()
		}
		if serr := r.DB.SetReconcileRun(context.WithoutCancel(ctx), run); serr != nil && err == nil {
			err = serr
		}
	}()
	handle := func(page []inviter.Identity) error { return r.handlePage(ctx, page, cutoff, now, &rep) }

	searched := false
	if s, ok := r.ISC.(Searcher); ok {
		since, err := r.searchFrom(ctx, cutoff)
		if err != nil {
			return rep, err
		}
		rep.Source, rep.Since = SourceSearch, since
		err = s.SearchUnregisteredSince(ctx, since, handle)
		switch {
		case err == nil:
			searched = true
		case searchUnavailable(err) && rep.Listed == 0:
			if !r.fallbackLogged.Swap(true) {
				r.logger().WarnContext(ctx, "reconcile cannot search ISC; listing every unregistered identity instead (grant the scope sp:search:read to make reconcile cost what is new)",
					"err", err)
			}
			rep.Source, rep.Since = SourceList, cutoff
		default:
			return rep, fmt.Errorf("reconcile: %w", err)
		}
	}
	if !searched {
		if err := r.ISC.EachUnregistered(ctx, handle); err != nil {
			return rep, fmt.Errorf("reconcile: %w", err)
		}
	}
	if err := r.retryFailures(ctx, now, &rep); err != nil {
		return rep, err
	}
	if searched {
		v := cutoff.UTC().Format(time.RFC3339Nano) + " " + now.UTC().Format(time.RFC3339Nano)
		if err := r.DB.SetMeta(ctx, MetaSearchFrom, v); err != nil {
			return rep, err
		}
	}
	if err := r.DB.SetMeta(ctx, MetaLastRun, now.UTC().Format(time.RFC3339)); err != nil {
		return rep, err
	}
	if err := r.DB.SetMeta(ctx, MetaLastReport, rep.String()); err != nil {
		return rep, err
	}
	r.logger().InfoContext(ctx, "reconcile done", "report", rep.String())
	return rep, nil
}

// retryFailures is where identities whose last failure was transient (or
// a configuration problem since fixed) are enqueued again.
//
// An outage longer than the queue's give-up age fails its identities with a
// transient error kind; each run enqueues them again (for the round they
// were at), so an outage of any length loses nobody. At most
// retryFailuresLimit per run.
func (r *Reconciler) retryFailures(ctx context.Context, now time.Time, rep *Report) error {
	failed, err := r.DB.TransientFailures(ctx, retryFailuresLimit)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	for _, id := range failed {
		res, err := r.Queue.Enqueue(ctx, id.IdentityID, inviter.SourceReconcile, &queue.EnqueueOpts{Round: id.InviteCount, EventAt: id.EventAt})
		if err != nil {
			return fmt.Errorf("reconcile: enqueue %s again: %w", id.IdentityID, err)
		}
		if !res.Duplicate {
			rep.Retried++
			r.logger().InfoContext(ctx, "reconcile enqueued again an identity that failed on a transient error",
				"identity_id", id.IdentityID, "failed_at", id.UpdatedAt, "reason", id.LastReason, "at", now)
		}
	}
	return nil
}

// retryFailuresLimit is the most failed identities one reconcile run
// enqueues again.
const retryFailuresLimit = 10000

// searchUnavailable reports whether a search error means "this token or
// tenant cannot search" (403, or a 4xx such as 400/404 from a tenant
// without the search the client sends) rather than a passing failure.
func searchUnavailable(err error) bool {
	var ae *isc.AuthError
	if errors.As(err, &ae) {
		return ae.Status == 403
	}
	return isc.IsPermanent(err)
}

// searchFrom is where this run's search starts: the last searched run's
// start minus the overlap, never before the cut-off; the cut-off itself
// when no run searched under it yet.
func (r *Reconciler) searchFrom(ctx context.Context, cutoff time.Time) (time.Time, error) {
	v, err := r.DB.Meta(ctx, MetaSearchFrom)
	if errors.Is(err, store.ErrNotFound) {
		return cutoff, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading where reconcile's search starts: %w", err)
	}
	c, last, ok := strings.Cut(v, " ")
	if !ok {
		return cutoff, nil
	}
	was, err1 := time.Parse(time.RFC3339Nano, c)
	at, err2 := time.Parse(time.RFC3339Nano, last)
	if err1 != nil || err2 != nil || !was.Equal(cutoff) {
		return cutoff, nil
	}
	overlap := r.SearchOverlap
	if overlap <= 0 {
		overlap = DefaultSearchOverlap
	}
	if from := at.Add(-overlap); from.After(cutoff) {
		return from, nil
	}
	return cutoff, nil
}

// handlePage enqueues, as the admission decision says, the identities of
// one page that are new since the cut-off, unregistered and unknown to
// inviter, or skipped by it (decided again).
func (r *Reconciler) handlePage(ctx context.Context, page []inviter.Identity, cutoff, now time.Time, rep *Report) error {
	for _, id := range page {
		rep.Listed++
		if !id.Created.After(cutoff) {
			rep.BeforeCutoff++
			continue
		}
		switch c, reason := id.StatusClass(); c {
		case inviter.StatusRegistered:
			rep.Known++ // registered meanwhile: nothing to do
			continue
		case inviter.StatusUnknown:
			// Not recorded: a later run enqueues it once its status is one
			// to invite.
			rep.UnknownStatus++
			r.logger().DebugContext(ctx, "reconcile leaves an identity alone", "identity_id", id.ID, "reason", reason)
			continue
		}
		known, err := r.DB.Identity(ctx, id.ID)
		refound := false
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		case notFoundGiveUp(known):
			// Its job gave up because ISC did not show it in time; ISC
			// lists it now, so it is decided (and invited) again.
			refound = true
		case known.InviteCount > 0 || known.State != inviter.StateSkipped:
			// Invited (re-invites follow on), failed (retryFailures), or
			// pending: its job, or the operator who cancelled it, decides.
			rep.Known++
			continue
		}
		// An identity inviter skipped (for the policy or a status) is
		// decided again on what ISC shows now: the skip is no longer final
		// once the identity matches.
		d := admission.Decider{Policy: r.Policy}.Identity(id, now)
		if d.Warning != "" {
			r.logger().WarnContext(ctx, "policy warning", "identity_id", id.ID, "warning", d.Warning)
		}
		if !d.Invites() {
			if err == nil && known.LastReason == d.Reason {
				rep.Skipped++ // recorded already
				continue
			}
			rep.Skipped++
			if err := r.DB.Record(ctx, store.Decision{
				AuditEntry: store.AuditEntry{IdentityID: id.ID, At: now, Outcome: inviter.OutcomeSkipped, Reason: d.Reason, Source: inviter.SourceReconcile},
				State:      inviter.StateSkipped,
			}); err != nil {
				return err
			}
			continue
		}
		res, err := r.Queue.Enqueue(ctx, id.ID, inviter.SourceReconcile, &queue.EnqueueOpts{ScheduledAt: d.At})
		if err != nil {
			return err
		}
		if res.Duplicate {
			rep.Known++ // its job is queued already
			continue
		}
		rep.Enqueued++
		if refound {
			rep.Refound++
		}
		if !d.At.IsZero() {
			rep.Scheduled++
		}
		r.logger().InfoContext(ctx, "reconcile enqueued a missed identity", "identity_id", id.ID, "created", id.Created, "scheduled_at", d.At)
	}
	return nil
}

// Reinviter invites again identities still unregistered after their
// invitation expired.
type Reinviter struct {
	ISC   Lister
	DB    *store.DB
	Queue Enqueuer
	// MaxReinvites is how many times an identity is invited again after its
	// first invitation; default 0 (none). inviter's flag defaults to 2.
	MaxReinvites int
	// Policy is the invite policy a re-invite must still satisfy, on the
	// attributes ISC shows at the time (admission.Decider.Identity); nil:
	// everyone.
	Policy *policy.Policy
	// Expiry is how long an invitation stays valid; default 7 days (ISC's).
	Expiry time.Duration
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
}

// ReinviteReport says what one re-invite run did.
type ReinviteReport struct {
	Due        int `json:"due"`        // invitations expired unused
	Registered int `json:"registered"` // registered meanwhile: never invited again
	Skipped    int `json:"skipped"`    // the policy no longer invites them: never invited again
	Enqueued   int `json:"enqueued"`   // re-invites enqueued
}

// Reinvite enqueues a new invitation for each identity whose last one
// expired while it stayed unregistered, up to MaxReinvites times, as the
// admission decision says on what ISC shows now; it checks ISC first (one
// list call per 250 identities) and records the identities that
// registered or that the policy no longer invites, so they are never
// invited again.
func (r *Reinviter) Reinvite(ctx context.Context) (ReinviteReport, error) {
	var rep ReinviteReport
	if r.MaxReinvites <= 0 {
		return rep, nil
	}
	expiry := r.Expiry
	if expiry <= 0 {
		expiry = 7 * 24 * time.Hour
	}
	now, logger := nowOf(r.Now), loggerOf(r.Logger)
	for {
		due, err := r.DB.DueForReinvite(ctx, now.Add(-expiry), r.MaxReinvites, isc.ListPageSize)
		if err != nil {
			return rep, err
		}
		if len(due) == 0 {
			return rep, nil
		}
		ids := make([]string, len(due))
		for i, d := range due {
			ids[i] = d.IdentityID
		}
		found, err := r.ISC.IdentitiesByID(ctx, ids)
		if err != nil {
			return rep, fmt.Errorf("re-invite: %w", err)
		}
		unregistered := map[string]inviter.Identity{}
		for _, f := range found {
			if c, _ := f.StatusClass(); c == inviter.StatusInvitable {
				unregistered[f.ID] = f
			}
		}
		progressed := false
		for _, d := range due {
			rep.Due++
			ident, ok := unregistered[d.IdentityID]
			if !ok {
				rep.Registered++
				progressed = true
				if err := r.DB.Record(ctx, store.Decision{
					AuditEntry: store.AuditEntry{IdentityID: d.IdentityID, At: now, Outcome: inviter.OutcomeAlreadyRegistered,
						Reason: "registered (or gone) when its invitation expired: not invited again", Source: inviter.SourceReinvite},
					State: inviter.StateSkipped,
				}); err != nil {
					return rep, err
				}
				continue
			}
			dec := admission.Decider{Policy: r.Policy}.Identity(ident, now)
			if !dec.Invites() {
				rep.Skipped++
				progressed = true
				if err := r.DB.Record(ctx, store.Decision{
					AuditEntry: store.AuditEntry{IdentityID: d.IdentityID, At: now, Outcome: inviter.OutcomeSkipped,
						Reason: "not invited again: " + dec.Reason, Source: inviter.SourceReinvite},
					State: inviter.StateSkipped,
				}); err != nil {
					return rep, err
				}
				continue
			}
			// A start date still ahead (moved since the first invitation)
			// puts the re-invite off until the policy's day.
			res, err := r.Queue.Enqueue(ctx, d.IdentityID, inviter.SourceReinvite, &queue.EnqueueOpts{Round: d.InviteCount, ScheduledAt: dec.At})
			if err != nil {
				return rep, err
			}
			if !res.Duplicate {
				rep.Enqueued++
				progressed = true
				logger.InfoContext(ctx, "re-invite enqueued", "identity_id", d.IdentityID, "round", d.InviteCount)
			}
		}
		// The enqueued identities stay "invited" until their job runs, so a
		// second page would list them again: stop after a page that changed
		// nothing new, and when the page was not full.
		if !progressed || len(due) < isc.ListPageSize {
			return rep, nil
		}
	}
}

// ReconcileArgs is the periodic reconcile job (run by the leader).
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "reconcile" }

// InsertOpts make the job unique while one is waiting or running, so a
// fleet never runs two at once.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// ReconcileWorker runs the Reconciler and then the Reinviter.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	Reconciler *Reconciler
	Reinviter  *Reinviter
	// RunTimeout bounds one run; keep it below River's
	// RescueStuckJobsAfter. Default 4 minutes.
	RunTimeout time.Duration
}

// Work implements river.Worker.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	if w.Reconciler != nil {
		if _, err := w.Reconciler.Reconcile(ctx); err != nil {
			return err
		}
	}
	if w.Reinviter != nil {
		if _, err := w.Reinviter.Reinvite(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Timeout bounds one run: a search costs a call per 250 new identities,
// but the list fallback on a large tenant takes a while at ISC's rate
// limit (100 000 identities ≈ 400 pages ≈ 45 s).
func (w *ReconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration {
	if w.RunTimeout > 0 {
		return w.RunTimeout
	}
	return 4 * time.Minute
}

// PeriodicJob returns the River periodic job that reconciles every interval
// (and once at start).
func PeriodicJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}

// notFoundGiveUp reports whether known failed only because ISC did not show
// it within the visibility window (never invited): an identity ISC lists
// later is not lost with its event. Rows recorded before error kinds
// named this are recognised by the worker's reason.
func notFoundGiveUp(known store.Identity) bool {
	if known.State != inviter.StateFailed || known.InviteCount > 0 {
		return false
	}
	return known.LastErrorKind == store.ErrorKindNotFound ||
		(known.LastErrorKind != store.ErrorKindConfig && strings.Contains(known.LastReason, "after the event; giving up"))
}
