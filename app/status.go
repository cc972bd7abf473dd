package app

import (
	"bytes"
	"context"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
	"github.com/inviter/inviter/web"
)

// StatusQuery says how many of the latest rows ReadStatus returns; a zero
// count reads none.
type StatusQuery struct {
	// Errors is how many current errors (one per identity).
	Errors int
	// Invites is how many recent invites.
	Invites int
	// TestDeliveries is how many recent test deliveries.
	TestDeliveries int
}

// Status is what inviter has done, as its database records it: what the
// status page and inviter status show.
type Status struct {
	// Backend names the database backend (store.BackendSQLite or
	// store.BackendPostgres).
	Backend string
	// InitialisedAt is when the database was first migrated, the default
	// reconcile cut-off; zero when it is not recorded.
	InitialisedAt time.Time
	// ReconcileRun is the latest reconciliation; nil before the first.
	ReconcileRun *store.ReconcileRun
	// ReconcileLastRun is the time reconcile last ran as it records it
	// (reconcile.MetaLastRun); empty when it never ran.
	ReconcileLastRun string
	// Identities counts identities by invite state; every state is present.
	Identities map[inviter.InviteState]int64
	// Deliveries is the number of deliveries stored.
	Deliveries int64
	// Jobs counts River jobs by River state.
	Jobs map[string]int64
	// Errors are the errors that still matter: of identities neither
	// invited nor skipped since, newest first, one per identity, with the
	// identity's name and state.
	Errors []store.CurrentError
	// Invites are the latest invites with the identities' names, newest
	// first.
	Invites []store.NamedAuditEntry
	// TestDeliveries are the latest test deliveries, newest first.
	TestDeliveries []store.Delivery
}

// ReadStatus reads the status of the database db in a constant number of
// queries: one for the metadata, one for the counts, and one for each kind
// of rows q asks for.
func ReadStatus(ctx context.Context, db *store.DB, q StatusQuery) (Status, error) {
	st := Status{Backend: db.Backend()}
	meta, err := db.StatusMeta(ctx, reconcile.MetaLastRun)
	if err != nil {
		return st, err
	}
	st.InitialisedAt, st.ReconcileRun, st.ReconcileLastRun = meta.InitialisedAt, meta.ReconcileRun, meta.Values[reconcile.MetaLastRun]
	c, err := db.Counts(ctx)
	if err != nil {
		return st, err
	}
	st.Identities, st.Deliveries, st.Jobs = c.Identities, c.Deliveries, c.Jobs
	if q.Errors > 0 {
		if st.Errors, err = db.CurrentErrors(ctx, q.Errors); err != nil {
			return st, err
		}
	}
	if q.Invites > 0 {
		if st.Invites, err = db.AuditNamed(ctx, "", []inviter.Outcome{inviter.OutcomeInvited}, q.Invites); err != nil {
			return st, err
		}
	}
	if q.TestDeliveries > 0 {
		if st.TestDeliveries, err = db.RecentTestDeliveries(ctx, q.TestDeliveries); err != nil {
			return st, err
		}
	}
	return st, nil
}

// statusPage is how many of the latest rows the status page shows.
var statusPage = StatusQuery{Errors: 10, Invites: 10, TestDeliveries: 5}

// statusView gives the status page its figures: ReadStatus's, ISC's
// health, and the command that retries failures.
type statusView struct {
	db      *store.DB
	api     inviter.API
	started time.Time
	health  *iscHealth
	// configProblem, when set, returns the configuration problem ISC
	// reports now ("" when none).
	configProblem func() string
	// cutOff is the reconcile cut-off the settings give (zero: the
	// database's initialisation).
	cutOff time.Time
	// retry is the command that retries failed invites on this database.
	retry string
	// version is the running build's.
	version string
}

// Status implements web.StatusSource.
func (s statusView) Status(ctx context.Context) (web.Status, error) {
	st, err := ReadStatus(ctx, s.db, statusPage) // on an error, what was read
	out := web.Status{
		Version: s.version, StartedAt: s.started, Backend: st.Backend, API: s.api,
		Identities: web.IdentityCounts{
			Pending: int(st.Identities[inviter.StatePending]),
			Invited: int(st.Identities[inviter.StateInvited]),
			Failed:  int(st.Identities[inviter.StateFailed]),
			Skipped: int(st.Identities[inviter.StateSkipped]),
		},
		Deliveries:   int(st.Deliveries),
		Jobs:         jobCounts(st.Jobs),
		RetryCommand: s.retry,
		ISC:          s.iscHealth(),
		Reconcile:    s.reconcile(st),
	}
	for _, a := range st.Invites {
		out.RecentInvites = append(out.RecentInvites, web.RecentInvite{IdentityID: a.IdentityID, Name: a.Name, API: a.API, TaskID: a.TaskID, At: a.At})
	}
	for _, a := range st.Errors {
		out.LastErrors = append(out.LastErrors, web.Failure{IdentityID: a.IdentityID, Name: a.Name, Reason: a.Reason, At: a.At})
	}
	for _, d := range st.TestDeliveries {
		event := "identity-created"
		if bytes.Contains(d.Payload, []byte(`"changes"`)) {
			event = "identity-attributes-changed"
		}
		out.TestDeliveries = append(out.TestDeliveries, web.TestDelivery{IdentityID: d.IdentityID, Name: d.IdentityName, Event: event, At: d.ReceivedAt})
	}
	return out, err
}

// jobCounts are River's job counts with the states of a job that gave up
// (cancelled, discarded) shown as one: failed.
func jobCounts(jobs map[string]int64) map[string]int {
	out := map[string]int{}
	for k, v := range jobs {
		if queue.Failed(k) {
			out[queue.StateFailed] += int(v)
		} else {
			out[k] = int(v)
		}
	}
	return out
}

func (s statusView) iscHealth() web.ISCHealth {
	if s.health == nil {
		return web.ISCHealth{}
	}
	h := s.health.snapshot()
	out := web.ISCHealth{
		LastSuccess: h.LastSuccess, LastError: h.LastError, LastErrorText: h.LastErrText,
		Recent401: h.Recent["401"], Recent403: h.Recent["403"], Recent5xx: h.Recent["5xx"] + h.Recent["no answer"], Recent429: h.Recent["429"],
		RecentWindow: healthWindow,
	}
	if s.configProblem != nil {
		out.ConfigProblem = s.configProblem()
	}
	return out
}

// reconcile is reconcile's latest run; before the first, the cut-off it
// will use.
func (s statusView) reconcile(st Status) web.ReconcileRun {
	if r := st.ReconcileRun; r != nil {
		return web.ReconcileRun{LastRun: r.At, CutOff: r.CutOff, Enqueued: r.Enqueued, Err: r.Err}
	}
	cut := s.cutOff
	if cut.IsZero() {
		cut = st.InitialisedAt
	}
	return web.ReconcileRun{CutOff: cut}
}

// RetryCommand is the command that retries the failed invites of the
// database dsn names.
func RetryCommand(dsn string) string {
	if dsn == "inviter.db" {
		return web.DefaultRetryCommand
	}
	return web.DefaultRetryCommand + " --db " + redact.DSN(dsn)
}
