package app

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
	"github.com/inviter/inviter/web"
)

// statusView gives the status page its figures: the counts, ISC's health,
// reconcile's last run, the current failures and recent invites with
// names, the test deliveries, and the command that retries failures.
type statusView struct {
	db      *store.DB
	q       *queue.Queue
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
	st, err := s.q.Stats(ctx)
	if err != nil {
		return web.Status{}, err
	}
	out := web.Status{
		Version: s.version, StartedAt: s.started, Backend: s.db.Backend(), API: s.api,
		Identities: web.IdentityCounts{
			Pending: int(st.Identities[store.StatePending]),
			Invited: int(st.Identities[store.StateInvited]),
			Failed:  int(st.Identities[store.StateFailed]),
			Skipped: int(st.Identities[store.StateSkipped]),
		},
		Deliveries:   int(st.Deliveries),
		Jobs:         jobCounts(st.Jobs),
		RetryCommand: s.retry,
		ISC:          s.iscHealth(),
	}
	if out.Reconcile, err = s.reconcile(ctx); err != nil {
		return out, err
	}
	if out.RecentInvites, err = s.recentInvites(ctx); err != nil {
		return out, err
	}
	if out.LastErrors, err = s.failures(ctx); err != nil {
		return out, err
	}
	out.TestDeliveries, err = s.testDeliveries(ctx)
	return out, err
}

// jobCounts are River's job counts with the states of a job that gave up
// (cancelled, discarded) shown as one: failed.
func jobCounts(jobs map[string]int64) map[string]int {
	out := map[string]int{}
	for k, v := range jobs {
		switch k {
		case "cancelled", "discarded":
			out["failed"] += int(v)
		default:
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

func (s statusView) reconcile(ctx context.Context) (web.ReconcileRun, error) {
	r, err := s.db.ReconcileRun(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cut := s.cutOff
		if cut.IsZero() {
			if at, err := s.db.InitialisedAt(ctx); err == nil {
				cut = at
			}
		}
		return web.ReconcileRun{CutOff: cut}, nil
	case err != nil:
		return web.ReconcileRun{}, err
	}
	return web.ReconcileRun{LastRun: r.At, CutOff: r.CutOff, Enqueued: r.Enqueued, Err: r.Err}, nil
}

func (s statusView) recentInvites(ctx context.Context) ([]web.RecentInvite, error) {
	rows, err := s.db.AuditNamed(ctx, "", []inviter.Outcome{inviter.OutcomeInvited}, 10)
	if err != nil {
		return nil, err
	}
	out := make([]web.RecentInvite, 0, len(rows))
	for _, a := range rows {
		out = append(out, web.RecentInvite{IdentityID: a.IdentityID, Name: a.Name, API: a.API, TaskID: a.TaskID, At: a.At})
	}
	return out, nil
}

// failures are the errors that still matter: of identities neither
// invited nor skipped since, newest first, one per identity.
func (s statusView) failures(ctx context.Context) ([]web.Failure, error) {
	rows, err := s.db.CurrentErrors(ctx, 10)
	if err != nil {
		return nil, err
	}
	out := make([]web.Failure, 0, len(rows))
	for _, a := range rows {
		out = append(out, web.Failure{IdentityID: a.IdentityID, Name: a.Name, Reason: a.Reason, At: a.At})
	}
	return out, nil
}

func (s statusView) testDeliveries(ctx context.Context) ([]web.TestDelivery, error) {
	ds, err := s.db.RecentTestDeliveries(ctx, 5)
	if err != nil {
		return nil, err
	}
	out := make([]web.TestDelivery, 0, len(ds))
	for _, d := range ds {
		event := "identity-created"
		if bytes.Contains(d.Payload, []byte(`"changes"`)) {
			event = "identity-attributes-changed"
		}
		out = append(out, web.TestDelivery{IdentityID: d.IdentityID, Name: d.IdentityName, Event: event, At: d.ReceivedAt})
	}
	return out, nil
}

// RetryCommand is the command that retries the failed invites of the
// database dsn names.
func RetryCommand(dsn string) string {
	if dsn == "inviter.db" {
		return web.DefaultRetryCommand
	}
	return web.DefaultRetryCommand + " --db " + redact.DSN(dsn)
}
