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

// TestCopy copies a SQLite database into SQLite and, when
// INVITER_TEST_POSTGRES_URL is set, into PostgreSQL.
func TestCopy(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run("sqlite-to-"+b.Name, func(t *testing.T) {
			t.Parallel()
			testCopy(t, withRiver(b.Open))
		})
	}
}

// copySource fills a migrated SQLite database: an old cut-off, identities
// in every state, deliveries pointing at jobs 1..n and audit rows.
func copySource(t *testing.T, n int) (*store.DB, time.Time) {
	t.Helper()
	ctx := context.Background()
	src := withRiver(storetest.OpenSQLite)(t)
	cutoff := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	if err := src.SetMeta(ctx, store.MetaInitialisedAt, cutoff.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	if err := src.SetMeta(ctx, "other_key", "from source"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 4, 1, 9, 30, 0, 123456000, time.UTC)
	err := src.InTx(ctx, func(tx *store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("2c9180856%023d", i)
			if _, _, err := tx.EnsureIdentity(ctx, id, at, at); err != nil {
				return err
			}
			if _, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: id, IdentityName: "Name " + id,
				Payload: []byte(`{"identity":{"id":"` + id + `"}}`), ReceivedAt: at, JobID: int64(i + 1)}); err != nil {
				return err
			}
			if i%3 == 0 { // every third one invited
				if err := tx.Record(ctx, store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{
					IdentityID: id, At: at.Add(time.Minute), Outcome: inviter.OutcomeInvited, API: inviter.APIPublic,
					TaskID: "task-" + id, BatchID: "b1", Attempt: 1, Source: "event"}}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return src, cutoff
}

func testCopy(t *testing.T, openDst func(testing.TB) *store.DB) {
	ctx := context.Background()
	const n = 600 // more than one INSERT batch of identities
	src, cutoff := copySource(t, n)
	dst := openDst(t)

	if has, err := dst.HasData(ctx); err != nil || has {
		t.Fatalf("fresh destination HasData = %v, %v; want false", has, err)
	}

	// A failing Jobs hook leaves the destination as it was.
	_, err := store.Copy(ctx, dst, src, store.CopyOptions{
		Jobs: func(context.Context, *store.Tx, func(int64) int64) (map[int64]int64, error) {
			return nil, errors.New("boom")
		},
	})
	if err == nil {
		t.Fatal("Copy with a failing Jobs hook succeeded")
	}
	if has, _ := dst.HasData(ctx); has {
		t.Fatal("a failed Copy left data behind")
	}

	// Jobs 1 and 2 are "re-created" as 501 and 502; the rest were finished.
	res, err := store.Copy(ctx, dst, src, store.CopyOptions{
		Jobs: func(_ context.Context, _ *store.Tx, deliveryID func(int64) int64) (map[int64]int64, error) {
			if deliveryID(7) != 7 {
				t.Errorf("deliveryID(7) = %d into an empty destination, want 7", deliveryID(7))
			}
			return map[int64]int64{1: 501, 2: 502}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := store.CopyResult{Meta: 2, Identities: n, Deliveries: n, Audit: n / 3, Jobs: 2}
	if res != want {
		t.Errorf("Copy = %+v, want %+v", res, want)
	}
	if at, err := dst.InitialisedAt(ctx); err != nil || !at.Equal(cutoff) {
		t.Errorf("destination cut-off = %v, %v; want the source's %v", at, err, cutoff)
	}
	if v, _ := dst.Meta(ctx, "other_key"); v != "from source" {
		t.Errorf("other_key = %q", v)
	}
	srcIdents, _ := src.Identities(ctx, "", 10*n)
	dstIdents, _ := dst.Identities(ctx, "", 10*n)
	if len(dstIdents) != n {
		t.Fatalf("%d identities copied, want %d", len(dstIdents), n)
	}
	for i := range srcIdents {
		if !sameIdentity(srcIdents[i], dstIdents[i]) {
			t.Fatalf("identity differs:\n src %+v\n dst %+v", srcIdents[i], dstIdents[i])
		}
	}
	srcDel, _ := src.Deliveries(ctx, "", 10*n)
	dstDel, _ := dst.Deliveries(ctx, "", 10*n)
	for i := range srcDel {
		s, d := srcDel[i], dstDel[i]
		wantJob := map[int64]int64{1: 501, 2: 502}[s.JobID]
		if d.ID != s.ID || d.IdentityID != s.IdentityID || d.IdentityName != s.IdentityName ||
			string(d.Payload) != string(s.Payload) || !d.ReceivedAt.Equal(s.ReceivedAt) || d.JobID != wantJob {
			t.Fatalf("delivery differs:\n src %+v\n dst %+v (want job %d)", s, d, wantJob)
		}
	}
	srcAudit, _ := src.Audit(ctx, "", 10*n)
	dstAudit, _ := dst.Audit(ctx, "", 10*n)
	for i := range srcAudit {
		s, d := srcAudit[i], dstAudit[i]
		if !s.At.Equal(d.At) {
			t.Fatalf("audit time differs: %v vs %v", s.At, d.At)
		}
		s.At, d.At = time.Time{}, time.Time{}
		if s != d {
			t.Fatalf("audit row differs:\n src %+v\n dst %+v", s, d)
		}
	}
	// New rows get ids after the copied ones.
	var newID int64
	err = dst.InTx(ctx, func(tx *store.Tx) error {
		newID, err = tx.InsertDelivery(ctx, store.Delivery{IdentityID: "x", Payload: []byte("{}"), ReceivedAt: time.Now()})
		return err
	})
	if err != nil || newID != n+1 {
		t.Errorf("next delivery id = %d, %v; want %d", newID, err, n+1)
	}

	// A second copy merges: rows appended after the existing ones,
	// identities kept (same state), cut-off kept.
	res, err = store.Copy(ctx, dst, src, store.CopyOptions{
		Jobs: func(_ context.Context, _ *store.Tx, deliveryID func(int64) int64) (map[int64]int64, error) {
			if deliveryID(7) != 7+n+1 {
				t.Errorf("merge: deliveryID(7) = %d, want %d", deliveryID(7), 7+n+1)
			}
			return nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want = store.CopyResult{Meta: 2, Identities: 0, IdentitiesKept: n, Deliveries: n, Audit: n / 3, DeliveryIDOffset: n + 1}
	if res != want {
		t.Errorf("merge Copy = %+v, want %+v", res, want)
	}
	if c, _ := dst.Counts(ctx); c.Deliveries != 2*n+1 {
		t.Errorf("%d deliveries after the merge, want %d", c.Deliveries, 2*n+1)
	}
	if at, _ := dst.InitialisedAt(ctx); !at.Equal(cutoff) {
		t.Errorf("cut-off after merge = %v, want %v", at, cutoff)
	}
}

func sameIdentity(a, b store.Identity) bool {
	times := [][2]time.Time{{a.FirstSeenAt, b.FirstSeenAt}, {a.EventAt, b.EventAt}, {a.InvitedAt, b.InvitedAt}, {a.UpdatedAt, b.UpdatedAt}}
	for _, p := range times {
		if !p[0].Equal(p[1]) {
			return false
		}
	}
	a.FirstSeenAt, a.EventAt, a.InvitedAt, a.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	b.FirstSeenAt, b.EventAt, b.InvitedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

// TestCopyKeepsTheEarlierCutoffAndLaterIdentity: merging into a database
// that started earlier keeps its cut-off, and an identity the destination
// invited more often keeps the destination's row.
func TestCopyKeepsTheEarlierCutoffAndLaterIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, _ := copySource(t, 3) // identity 0 invited once, 1 and 2 pending
	dst := withRiver(storetest.OpenSQLite)(t)
	early := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := dst.SetMeta(ctx, store.MetaInitialisedAt, early.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	id1 := fmt.Sprintf("2c9180856%023d", 1)
	if err := dst.Record(ctx, store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{
		IdentityID: id1, Outcome: inviter.OutcomeInvited, API: inviter.APICC}}); err != nil {
		t.Fatal(err)
	}
	res, err := store.Copy(ctx, dst, src, store.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Identities != 2 || res.IdentitiesKept != 1 || res.DeliveryIDOffset != 0 || res.Audit != 1 {
		t.Errorf("Copy = %+v, want 2 identities written, 1 kept, offset 0, 1 audit row", res)
	}
	if at, _ := dst.InitialisedAt(ctx); !at.Equal(early) {
		t.Errorf("cut-off = %v, want the destination's earlier %v", at, early)
	}
	if ident, _ := dst.Identity(ctx, id1); ident.State != inviter.StateInvited || ident.API != inviter.APICC {
		t.Errorf("identity 1 = %+v, want the destination's invited row", ident)
	}
	// The destination's audit row 1 stays; the source's goes after it.
	if a, _ := dst.Audit(ctx, "", 10); len(a) != 2 || a[0].ID != 2 || a[1].API != inviter.APICC {
		t.Errorf("audit = %+v", a)
	}
}
