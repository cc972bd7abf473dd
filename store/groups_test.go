package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// TestIntakeStatements checks the statements that store a group of
// deliveries at once against the one-row statements they replace, on
// every backend, with groups that span several SQLite chunks.
func TestIntakeStatements(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("InsertDeliveries", func(t *testing.T) {
				t.Parallel()
				testInsertDeliveries(t, b.Open(t))
			})
			t.Run("EnsureIdentities", func(t *testing.T) {
				t.Parallel()
				testEnsureIdentities(t, b.Open(t), b.Open(t), false)
			})
			t.Run("InsertDeliveriesAndIdentities", func(t *testing.T) {
				t.Parallel()
				testEnsureIdentities(t, b.Open(t), b.Open(t), true)
			})
			t.Run("RecordMany", func(t *testing.T) {
				t.Parallel()
				testRecordMany(t, b.Open(t), b.Open(t))
			})
		})
	}
}

func testInsertDeliveries(t *testing.T, db *store.DB) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.FixedZone("CET", 3600))
	for _, n := range []int{0, 1, 3, 130} {
		ds := make([]store.Delivery, n)
		for i := range ds {
			ds[i] = store.Delivery{
				IdentityID: fmt.Sprintf("n%d-%03d", n, i), IdentityName: fmt.Sprintf("name %d", i),
				Payload: fmt.Appendf(nil, `{"identity":{"id":"n%d-%03d"},"s":"it's \"quoted\""}`, n, i), ReceivedAt: at.Add(time.Duration(i) * time.Second),
			}
			if i%3 == 1 {
				ds[i].Kind = store.DeliveryTest
			}
			if i%5 == 2 {
				ds[i].JobID = int64(1000 + i)
			}
		}
		var ids []int64
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			ids, err = tx.InsertDeliveries(ctx, ds)
			if err != nil {
				return err
			}
			var links []store.DeliveryJob
			for i, id := range ids {
				if i%2 == 0 {
					links = append(links, store.DeliveryJob{DeliveryID: id, JobID: int64(5000 + i)})
				}
			}
			return tx.SetDeliveryJobs(ctx, links)
		})
		if err != nil {
			t.Fatalf("%d deliveries: %v", n, err)
		}
		if len(ids) != n {
			t.Fatalf("%d deliveries: %d ids", n, len(ids))
		}
		for i, id := range ids {
			want := ds[i]
			if want.Kind == "" {
				want.Kind = store.DeliveryEvent
			}
			if i%2 == 0 {
				want.JobID = int64(5000 + i)
			}
			got, err := db.Deliveries(ctx, want.IdentityID, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("delivery %s: %d rows", want.IdentityID, len(got))
			}
			g := got[0]
			if g.ID != id || g.IdentityName != want.IdentityName || string(g.Payload) != string(want.Payload) ||
				!g.ReceivedAt.Equal(want.ReceivedAt) || g.JobID != want.JobID || g.Kind != want.Kind {
				t.Errorf("delivery %d (id %d): got %+v, want %+v", i, id, g, want)
			}
		}
	}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		return tx.SetDeliveryJobs(ctx, []store.DeliveryJob{{DeliveryID: 1, JobID: 7}, {DeliveryID: 1 << 40, JobID: 8}})
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDeliveryJobs of a missing delivery: %v, want ErrNotFound", err)
	}
}

// testEnsureIdentities runs the same sequence through EnsureIdentities
// (withDeliveries: InsertDeliveriesAndIdentities) on batch and
// EnsureIdentity, one call each, on single; the rows must agree.
func testEnsureIdentities(t *testing.T, batch, single *store.DB, withDeliveries bool) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	// Known before: one without event_at, one with, one invited.
	for _, db := range []*store.DB{batch, single} {
		if _, _, err := db.EnsureIdentity(ctx, "known-no-event", time.Time{}, t0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.EnsureIdentity(ctx, "known-event", t0, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.Record(ctx, store.Decision{AuditEntry: store.AuditEntry{IdentityID: "known-invited", At: t0, Outcome: "invited"},
			State: inviter.StateInvited}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []store.IdentitySeen
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	for i := range 140 {
		seen = append(seen, store.IdentitySeen{IdentityID: fmt.Sprintf("new-%03d", 139-i), EventAt: at(i), Now: at(i)})
	}
	seen = append(seen,
		store.IdentitySeen{IdentityID: "known-no-event", EventAt: at(200), Now: at(200)},
		store.IdentitySeen{IdentityID: "known-event", EventAt: at(201), Now: at(201)},
		store.IdentitySeen{IdentityID: "known-invited", EventAt: at(202), Now: at(202)},
		store.IdentitySeen{IdentityID: "new-005", EventAt: at(203), Now: at(203)},    // twice in the group
		store.IdentitySeen{IdentityID: "late-event", Now: at(204)},                   // first without an event …
		store.IdentitySeen{IdentityID: "late-event", EventAt: at(205), Now: at(205)}, // … then with one
	)
	var got map[string]store.Identity
	if err := batch.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if !withDeliveries {
			got, err = tx.EnsureIdentities(ctx, seen)
			return err
		}
		ds := make([]store.Delivery, len(seen))
		for i, s := range seen {
			ds[i] = store.Delivery{IdentityID: s.IdentityID, Payload: []byte("{}"), ReceivedAt: s.Now}
		}
		var ids []int64
		ids, got, err = tx.InsertDeliveriesAndIdentities(ctx, ds, seen)
		if err == nil && len(ids) != len(ds) {
			err = fmt.Errorf("%d delivery ids for %d deliveries", len(ids), len(ds))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := single.InTx(ctx, func(tx *store.Tx) error {
		for _, s := range seen {
			if _, _, err := tx.EnsureIdentity(ctx, s.IdentityID, s.EventAt, s.Now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 144 {
		t.Errorf("EnsureIdentities returned %d identities, want 144", len(got))
	}
	for _, s := range seen {
		want, err := single.Identity(ctx, s.IdentityID)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := batch.Identity(ctx, s.IdentityID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameIdentity(stored, want) {
			t.Errorf("identity %s: stored %+v, EnsureIdentity stores %+v", s.IdentityID, stored, want)
		}
		if !sameIdentity(got[s.IdentityID], want) {
			t.Errorf("identity %s: returned %+v, EnsureIdentity stores %+v", s.IdentityID, got[s.IdentityID], want)
		}
	}
	if got["known-invited"].InviteCount != 1 {
		t.Errorf("known-invited: invite count %d, want 1", got["known-invited"].InviteCount)
	}
}

// testRecordMany records the same decisions with one RecordMany on batch
// and one Record each on single; identities and audit trails must agree.
func testRecordMany(t *testing.T, batch, single *store.DB) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, db := range []*store.DB{batch, single} {
		if _, _, err := db.EnsureIdentity(ctx, "known", t0, t0); err != nil {
			t.Fatal(err)
		}
	}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	var ds []store.Decision
	for i := range 150 {
		ds = append(ds, store.Decision{AuditEntry: store.AuditEntry{IdentityID: fmt.Sprintf("id-%03d", i%140), At: at(i),
			Outcome: inviter.OutcomeInvited, API: inviter.APIPublic, TaskID: fmt.Sprintf("task-%d", i), BatchID: "b1", Attempt: 1, Source: "event",
			CompletionStatus: "SUCCESS"}, State: inviter.StateInvited})
	}
	ds = append(ds,
		store.Decision{AuditEntry: store.AuditEntry{IdentityID: "known", At: at(200), Outcome: inviter.OutcomeRetrying, Reason: "503",
			ErrorKind: store.ErrorKindTransient, Attempt: 2}},
		store.Decision{AuditEntry: store.AuditEntry{IdentityID: "known", At: at(201), Outcome: inviter.OutcomeInvited, API: inviter.APICC,
			CCID: "cc-1"}, State: inviter.StateInvited},
		store.Decision{AuditEntry: store.AuditEntry{IdentityID: "known", At: at(202), Outcome: inviter.OutcomeSkipped, Reason: "already invited"}},
		store.Decision{AuditEntry: store.AuditEntry{IdentityID: "skipped", At: at(203), Outcome: inviter.OutcomeSkipped, Reason: "policy"},
			State: inviter.StateSkipped},
		store.Decision{AuditEntry: store.AuditEntry{IdentityID: "failed", At: at(204), Outcome: inviter.OutcomeFailed, Reason: "400",
			ErrorKind: store.ErrorKindPermanent}, State: inviter.StateFailed},
	)
	if err := batch.InTx(ctx, func(tx *store.Tx) error { return tx.RecordMany(ctx, ds) }); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if err := single.Record(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range ds {
		got, err := batch.Identity(ctx, d.IdentityID)
		if err != nil {
			t.Fatal(err)
		}
		want, err := single.Identity(ctx, d.IdentityID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameIdentity(got, want) {
			t.Errorf("identity %s: RecordMany stores %+v, Record %+v", d.IdentityID, got, want)
		}
	}
	if got, err := batch.Identity(ctx, "id-003"); err != nil || got.InviteCount != 2 || got.TaskID != "task-143" {
		t.Errorf("id-003 after two invitations: %+v, %v; want invite count 2, task-143", got, err)
	}
	gotAudit, err := batch.Audit(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	wantAudit, err := single.Audit(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotAudit) != len(ds) || len(wantAudit) != len(ds) {
		t.Fatalf("audit rows: RecordMany %d, Record %d, want %d", len(gotAudit), len(wantAudit), len(ds))
	}
	for i := range gotAudit {
		g, w := gotAudit[i], wantAudit[i]
		g.ID, w.ID = 0, 0
		if !g.At.Equal(w.At) {
			t.Errorf("audit row %d: at %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("audit row %d: RecordMany %+v, Record %+v", i, g, w)
		}
	}
	err = batch.InTx(ctx, func(tx *store.Tx) error {
		return tx.RecordMany(ctx, []store.Decision{ds[0], {AuditEntry: store.AuditEntry{Outcome: inviter.OutcomeSkipped}}})
	})
	if err == nil {
		t.Error("RecordMany accepted a decision without an identity id")
	}
}

// TestIdentitiesByID reads known identities by id in one call, on both
// backends: more ids than one SQLite chunk, an id given twice and ids
// inviter does not know (no entry); the rows are those Identity returns.
func TestIdentitiesByID(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			db := be.Open(t)
			ctx := t.Context()
			now := time.Now()
			var ids []string
			for i := range 300 {
				id := fmt.Sprintf("known%03d", i)
				if i%3 == 0 {
					if _, _, err := db.EnsureIdentity(ctx, id, now, now); err != nil {
						t.Fatal(err)
					}
				}
				ids = append(ids, id)
			}
			ids = append(ids, "known000", "nobody")
			got, err := db.IdentitiesByID(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 100 {
				t.Fatalf("%d identities, want 100", len(got))
			}
			for i := range 300 {
				id := fmt.Sprintf("known%03d", i)
				row, ok := got[id]
				if ok != (i%3 == 0) {
					t.Fatalf("%s: found %v", id, ok)
				}
				if !ok {
					continue
				}
				want, err := db.Identity(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if row.IdentityID != id || row.State != want.State || !row.FirstSeenAt.Equal(want.FirstSeenAt) || row.InviteCount != want.InviteCount {
					t.Fatalf("%s: %+v, Identity says %+v", id, row, want)
				}
			}
			if got, err := db.IdentitiesByID(ctx, nil); err != nil || len(got) != 0 {
				t.Fatalf("no ids: %v, %v", got, err)
			}
		})
	}
}
