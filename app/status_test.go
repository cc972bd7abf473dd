package app

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
)

// statusRig is a database with n identities delivered by events, each
// failed (its latest audit row says why), and one invited.
func statusRig(t *testing.T, db *store.DB, n int) {
	t.Helper()
	ctx := t.Context()
	if err := queue.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(db, queue.Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := range n + 1 {
		id := fmt.Sprintf("id-%02d", i)
		ev := inviter.IdentityCreated{Identity: inviter.IdentityRef{Type: "IDENTITY", ID: id, Name: "User " + id}}
		raw, _ := json.Marshal(ev)
		if _, err := q.AcceptDelivery(ctx, ev, raw, time.Now()); err != nil {
			t.Fatal(err)
		}
		d := store.Decision{AuditEntry: store.AuditEntry{IdentityID: id, At: base.Add(time.Duration(i) * time.Second),
			Outcome: inviter.OutcomeFailed, Reason: "refused " + id}, State: inviter.StateFailed}
		if i == n {
			d.Outcome, d.Reason, d.State = inviter.OutcomeInvited, "", inviter.StateInvited
		}
		if err := db.Record(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStatusReadsInAConstantNumberOfQueries counts the PostgreSQL pool's
// acquisitions (one a query) of a status read and of a load of the status
// page, with 2 and with 12 current errors.
func TestStatusReadsInAConstantNumberOfQueries(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 12} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			db := storetest.OpenPostgres(t)
			statusRig(t, db, n)
			ctx := t.Context()
			count := func(f func(context.Context) error) int64 {
				before := db.PgxPool().Stat().AcquireCount()
				if err := f(ctx); err != nil {
					t.Fatal(err)
				}
				return db.PgxPool().Stat().AcquireCount() - before
			}
			var st Status
			if got := count(func(ctx context.Context) (err error) {
				st, err = ReadStatus(ctx, db, StatusQuery{Errors: 5})
				return err
			}); got != 3 {
				t.Errorf("ReadStatus with errors only made %d queries, want 3 (meta, counts, errors)", got)
			}
			if len(st.Errors) != min(n, 5) {
				t.Errorf("%d errors, want %d", len(st.Errors), min(n, 5))
			}
			v := statusView{db: db}
			if got := count(func(ctx context.Context) error { _, err := v.Status(ctx); return err }); got != 5 {
				t.Errorf("a load of the status page made %d queries, want 5 (meta, counts, errors, invites, test deliveries)", got)
			}
		})
	}
}

func TestReadStatus(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := b.Open(t)
			statusRig(t, db, 3)
			ctx := t.Context()
			// id-00 was retried and waits again: it stays a current error,
			// its state now pending.
			if err := db.Record(ctx, store.Decision{AuditEntry: store.AuditEntry{IdentityID: "id-00", At: time.Now(),
				Outcome: inviter.OutcomeSkipped, Reason: "not yet"}, State: inviter.StatePending}); err != nil {
				t.Fatal(err)
			}
			if err := db.SetMeta(ctx, reconcile.MetaLastRun, "2026-11-02T09:30:00Z"); err != nil {
				t.Fatal(err)
			}
			st, err := ReadStatus(ctx, db, StatusQuery{Errors: 10, Invites: 10, TestDeliveries: 5})
			if err != nil {
				t.Fatal(err)
			}
			if st.Backend != b.Name || st.InitialisedAt.IsZero() || st.ReconcileRun != nil || st.ReconcileLastRun != "2026-11-02T09:30:00Z" {
				t.Errorf("backend %q, initialised %v, run %v, last run %q", st.Backend, st.InitialisedAt, st.ReconcileRun, st.ReconcileLastRun)
			}
			if st.Identities[inviter.StateFailed] != 2 || st.Identities[inviter.StatePending] != 1 || st.Identities[inviter.StateInvited] != 1 ||
				st.Identities[inviter.StateSkipped] != 0 || st.Deliveries != 4 || st.Jobs["available"] != 4 {
				t.Errorf("identities %v, deliveries %d, jobs %v", st.Identities, st.Deliveries, st.Jobs)
			}
			var got []string
			for _, e := range st.Errors {
				got = append(got, fmt.Sprintf("%s %s %s %s", e.IdentityID, e.Name, e.State, e.Reason))
			}
			want := []string{"id-02 User id-02 failed refused id-02", "id-01 User id-01 failed refused id-01", "id-00 User id-00 pending refused id-00"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("errors %q, want %q", got, want)
			}
			if len(st.Invites) != 1 || st.Invites[0].IdentityID != "id-03" || st.Invites[0].Name != "User id-03" || len(st.TestDeliveries) != 0 {
				t.Errorf("invites %+v, test deliveries %+v", st.Invites, st.TestDeliveries)
			}

			run := store.ReconcileRun{At: time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC), CutOff: st.InitialisedAt, Enqueued: 7}
			if err := db.SetReconcileRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			if st, err = ReadStatus(ctx, db, StatusQuery{}); err != nil || st.ReconcileRun == nil || *st.ReconcileRun != run || st.Errors != nil {
				t.Errorf("after a recorded run: %+v, %v", st, err)
			}
		})
	}
}
