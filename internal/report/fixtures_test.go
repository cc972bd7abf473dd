package report_test

import (
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/app"
	"github.com/inviter/inviter/internal/doctor"
	"github.com/inviter/inviter/internal/subscription"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
)

// The reports' inputs the golden files in testdata were written from: every
// column filled and empty, times in other zones and zero, reasons on
// several lines, with commas, quotes, <&> and more than a cell holds.

var (
	fxNow = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	fxCET = time.FixedZone("CET", 3600)
)

const fxLongReason = "permanent: 400 Bad Request: the identity's email address <a&b@example.com> is not valid for the tenant, and \"quoting\" it, with a comma, does not help either"

func fxAudit() []store.AuditEntry {
	return []store.AuditEntry{
		{ID: 3, IdentityID: "id-notfound", At: fxNow.Add(-90 * time.Minute).In(fxCET), Outcome: inviter.OutcomeNotFound,
			Reason: "ISC does not know this identity (yet)", API: inviter.APIPublic, BatchID: "batch-3", Attempt: 1, Source: inviter.SourceEvent},
		{ID: 2, IdentityID: "id-failed", At: fxNow.Add(-3 * 24 * time.Hour), Outcome: inviter.OutcomeFailed,
			Reason: "permanent: 400 Bad Request\nsecond line, \"quoted\", with a comma", API: inviter.APICC, CCID: "cc-42",
			BatchID: "batch-2", Attempt: 3, Source: inviter.SourceReconcile, ErrorKind: "permanent"},
		{ID: 1, IdentityID: "id-invited", At: fxNow.Add(-5 * time.Second), Outcome: inviter.OutcomeInvited,
			API: inviter.APIPublic, TaskID: "task-1", CompletionStatus: "SUCCESS", BatchID: "batch-1", Attempt: 1, Source: inviter.SourceCLI},
		{ID: 4, IdentityID: "id-long", At: fxNow.Add(2 * time.Hour), Outcome: inviter.OutcomeFailed, Reason: fxLongReason},
		{ID: 5, IdentityID: "id-ünï", At: fxNow.Add(-500 * time.Millisecond), Outcome: inviter.OutcomeRetrying, Reason: "  \n"},
	}
}

func fxStatus() app.Status {
	errs := []store.CurrentError{
		{NamedAuditEntry: store.NamedAuditEntry{AuditEntry: fxAudit()[0], Name: "User Notfound"}, State: inviter.StatePending},
		{NamedAuditEntry: store.NamedAuditEntry{AuditEntry: fxAudit()[1]}, State: inviter.StateFailed},
		{NamedAuditEntry: store.NamedAuditEntry{AuditEntry: fxAudit()[3], Name: "A <Long> & Name"}},
	}
	return app.Status{
		Backend:       store.BackendPostgres,
		InitialisedAt: fxNow.Add(-49 * time.Hour).In(fxCET),
		ReconcileRun:  &store.ReconcileRun{At: fxNow.Add(-10 * time.Minute).In(fxCET), CutOff: fxNow.Add(-49 * time.Hour), Enqueued: 7},
		// ReconcileRun wins over it.
		ReconcileLastRun: "2026-12-01T00:00:00Z",
		Identities: map[inviter.InviteState]int64{inviter.StatePending: 1, inviter.StateInvited: 12, inviter.StateFailed: 2,
			inviter.StateSkipped: 0, "withdrawn": 3},
		Deliveries: 1234,
		Jobs:       map[string]int64{"available": 2, "cancelled": 1, "discarded": 4, "completed": 10, "odd": 1},
		Errors:     errs,
		Invites:    []store.NamedAuditEntry{{AuditEntry: fxAudit()[2], Name: "not shown"}},
	}
}

// fxStatusBare is a database just created: nothing counted, never
// reconciled.
func fxStatusBare() app.Status {
	return app.Status{
		Backend:       store.BackendSQLite,
		InitialisedAt: fxNow.Add(-2 * time.Second),
		Identities: map[inviter.InviteState]int64{inviter.StatePending: 0, inviter.StateInvited: 0, inviter.StateFailed: 0,
			inviter.StateSkipped: 0},
		Jobs: map[string]int64{},
	}
}

// fxStatusLastRun has only the time reconcile recorded, in another zone.
func fxStatusLastRun() app.Status {
	st := fxStatusBare()
	st.ReconcileLastRun = "2026-12-02T03:30:00.5+01:00"
	return st
}

// fxStatusOddLastRun has a last run that is not a time.
func fxStatusOddLastRun() app.Status {
	st := fxStatusBare()
	st.ReconcileLastRun = "yesterday"
	return st
}

// fxStatusNoInit has no initialisation time: not inviter's database.
func fxStatusNoInit() app.Status {
	st := fxStatusBare()
	st.InitialisedAt = time.Time{}
	return st
}

func fxJobs() []queue.Job {
	return []queue.Job{
		{ID: 12, Kind: "invite", State: "available", Attempt: 0, MaxAttempts: 25, CreatedAt: fxNow.Add(-time.Minute).In(fxCET),
			ScheduledAt: fxNow.Add(30 * time.Second), IdentityID: "id-pending", Source: inviter.SourceEvent, Round: 0},
		{ID: 11, Kind: "invite", State: "cancelled", Attempt: 3, MaxAttempts: 25, CreatedAt: fxNow.Add(-3 * time.Hour),
			ScheduledAt: fxNow.Add(-2 * time.Hour), FinalizedAt: fxNow.Add(-time.Hour).In(fxCET), IdentityID: "id-failed",
			Source: inviter.SourceReinvite, Round: 2, LastError: "permanent: 400 Bad Request\nsecond line, \"quoted\", with a comma"},
		{ID: 10, Kind: "invite", State: "discarded", Attempt: 25, MaxAttempts: 25, CreatedAt: fxNow.Add(-72 * time.Hour),
			ScheduledAt: fxNow.Add(-50 * time.Hour), FinalizedAt: fxNow.Add(-49 * time.Hour), IdentityID: "id-long",
			Source: inviter.SourceCLI, LastError: fxLongReason},
		{ID: 2, Kind: "reconcile", State: "scheduled", MaxAttempts: 1, CreatedAt: fxNow.Add(-time.Hour), ScheduledAt: fxNow.Add(time.Hour)},
		{ID: 1, Kind: "recheck", State: "completed", Attempt: 1, MaxAttempts: 1, CreatedAt: fxNow.Add(-2 * time.Hour),
			ScheduledAt: fxNow.Add(-2 * time.Hour), FinalizedAt: fxNow.Add(-2*time.Hour + time.Second)},
	}
}

func fxRetried() []queue.Retried {
	jobs := fxJobs()
	r1, r2 := jobs[1], jobs[2]
	r1.State, r2.State = "available", "available"
	r1.ScheduledAt, r2.ScheduledAt = fxNow, fxNow
	r1.FinalizedAt = time.Time{}
	return []queue.Retried{{Job: r1, PreviousState: "cancelled"}, {Job: r2, PreviousState: "discarded"}}
}

func fxInvite() app.InviteReport {
	return app.InviteReport{
		Results: []inviter.Result{
			{IdentityID: "id-1", API: inviter.APIPublic, Outcome: inviter.OutcomeInvited, TaskID: "task-1", CompletionStatus: "SUCCESS"},
			{IdentityID: "id-2", API: inviter.APIPublic, Outcome: inviter.OutcomeInvited, TaskID: "task-1", Reason: "task WARNING: <sent> & logged"},
			{IdentityID: "id-3", API: inviter.APICC, Outcome: inviter.OutcomeInvited, CCID: "cc-3"},
			{IdentityID: "id-4", API: inviter.APIPublic, Outcome: inviter.OutcomeAlreadyRegistered},
			{IdentityID: "id-5", API: inviter.APIPublic, Outcome: inviter.OutcomeNotFound, Reason: "ISC does not know this identity (yet)"},
			{IdentityID: "id-6", API: inviter.APIPublic, Outcome: inviter.OutcomeSkipped, Reason: "already invited (see inviter audit)"},
			{IdentityID: "id-7", API: inviter.APIPublic, Outcome: inviter.OutcomeFailed, Reason: fxLongReason},
			{IdentityID: "id-8", API: inviter.APIPublic, Outcome: inviter.OutcomeRetrying, Reason: "transient: 503"},
		},
		Identities: map[string]inviter.Identity{},
		Admitted:   6,
	}
}

func fxInviteDry() app.InviteReport {
	return app.InviteReport{
		Results: []inviter.Result{
			{IdentityID: "id-1", API: inviter.APIPublic, Outcome: inviter.OutcomeSkipped, Reason: "dry run: would invite"},
			{IdentityID: "id-2", API: inviter.APICC, Outcome: inviter.OutcomeSkipped, CCID: "cc-2", Reason: "dry run: would invite"},
			{IdentityID: "id-3", API: inviter.APIPublic, Outcome: inviter.OutcomeAlreadyRegistered},
			{IdentityID: "id-4", API: inviter.APIPublic, Outcome: inviter.OutcomeNotFound, Reason: "ISC does not know this identity (yet)"},
			{IdentityID: "id-5", API: inviter.APIPublic, Outcome: inviter.OutcomeSkipped, Reason: "the policy: department is Contractors"},
		},
		Identities: map[string]inviter.Identity{
			"id-1": {ID: "id-1", Name: "Ada Lovelace", Email: "ada@example.com", Created: fxNow.Add(-30 * time.Hour).In(fxCET)},
			"id-2": {ID: "id-2", Name: "Grace <Hopper> & Co"},
			"id-3": {ID: "id-3", Email: "reg@example.com", Created: fxNow.Add(-400 * 24 * time.Hour)},
			"id-5": {ID: "id-5", Name: "Con Tractor", Email: "c@example.com", Created: fxNow.Add(-time.Hour)},
		},
		Admitted: 4,
	}
}

func fxReconcile() app.ReconcileResult {
	return app.ReconcileResult{
		Reconcile: reconcile.Report{Cutoff: fxNow.Add(-49 * time.Hour).In(fxCET), Source: reconcile.SourceSearch, Since: fxNow.Add(-time.Hour),
			Listed: 40, BeforeCutoff: 20, Known: 10, Skipped: 3, UnknownStatus: 1, Enqueued: 6, Scheduled: 2, Retried: 1, Refound: 1},
		Reinvite: reconcile.ReinviteReport{Due: 5, Registered: 2, Skipped: 1, Enqueued: 2},
	}
}

func fxReconcileListed() app.ReconcileResult {
	return app.ReconcileResult{Reconcile: reconcile.Report{Cutoff: fxNow.Add(-49 * time.Hour), Source: reconcile.SourceList, Since: fxNow.Add(-49 * time.Hour)}}
}

func fxCopy() queue.CopyResult {
	return queue.CopyResult{
		CopyResult: store.CopyResult{Meta: 4, Identities: 120, IdentitiesKept: 3, Deliveries: 130, Audit: 140, Jobs: 9, DeliveryIDOffset: 1000},
		JobsByState: map[rivertype.JobState]int{rivertype.JobStateAvailable: 4, rivertype.JobStateScheduled: 3,
			rivertype.JobStateRetryable: 1, rivertype.JobStateRunning: 1},
		AlreadyQueued: 2, AlreadyInvited: 1, OtherKinds: 2,
	}
}

func fxCopyPlain() queue.CopyResult {
	return queue.CopyResult{CopyResult: store.CopyResult{Meta: 2}, JobsByState: map[rivertype.JobState]int{}}
}

func fxSubscriptions() []subscription.Record {
	return []subscription.Record{
		{ID: "sub-1", Name: "inviter", Trigger: "idn:identity-created", Enabled: true, URL: "https://inviter.example.com/webhook?a=1&b=2",
			Dispatch: "ASYNC", Auth: "BEARER_TOKEN"},
		{ID: "sub-2", Name: "inviter changes <old>", Trigger: "idn:identity-attributes-changed"},
		{ID: "sub-3", Name: "odd", Trigger: "idn:other", Enabled: true, URL: "http://x"},
	}
}

func fxChanges() []subscription.Change {
	return []subscription.Change{
		{Action: subscription.Created, ID: "sub-1", Trigger: "idn:identity-created", URL: "https://inviter.example.com/webhook"},
		{Action: subscription.Updated, ID: "sub-2", Trigger: "idn:identity-attributes-changed", URL: "https://inviter.example.com/webhook/changed"},
		{Action: subscription.RemovedDuplicate, ID: "sub-3"},
		{Action: subscription.Removed, ID: "sub-4", Trigger: "idn:other", URL: "http://x"},
	}
}

func fxDoctor() []doctor.Result {
	return []doctor.Result{
		{Level: doctor.OK, Check: "token", Detail: "scopes sp:scopes:all"},
		{Level: doctor.Warn, Check: "a check whose name is longer than thirty-one", Detail: "detail", Fix: "do this"},
		{Level: doctor.Fail, Check: "invite right", Detail: "missing idn:identity:invite", Fix: "grant it <here> & there"},
		{Level: doctor.Skip, Check: "test event"},
	}
}

func fxSubscribed() subscription.Result {
	return subscription.Result{Changes: fxChanges()[:3], Elsewhere: []isc.Subscription{
		{ID: "sub-9", Name: "old \"inviter\"", TriggerID: "idn:identity-created", HTTPConfig: &isc.HTTPConfig{URL: "https://old.example.com/hook?a=1&b=2"}},
		{ID: "sub-8", Name: "", TriggerID: "idn:identity-attributes-changed", HTTPConfig: &isc.HTTPConfig{URL: "http://x"}},
	}}
}
