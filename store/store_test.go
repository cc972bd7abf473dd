package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// TestStore runs the conformance suite on every backend: SQLite always,
// PostgreSQL when INVITER_TEST_POSTGRES_URL is set.
func TestStore(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			runStoreSuite(t, b.Name, withRiver(b.Open))
		})
	}
}

func TestOpenBackend(t *testing.T) {
	t.Parallel()
	if !store.IsPostgresDSN("postgres://h/db") || !store.IsPostgresDSN("postgresql://h/db") || store.IsPostgresDSN("inviter.db") {
		t.Error("IsPostgresDSN misclassifies")
	}
	db := storetest.OpenSQLiteUnmigrated(t)
	if db.Backend() != store.BackendSQLite || db.SQLDB() == nil || db.PgxPool() != nil {
		t.Errorf("Backend() = %q, SQLDB nil %v, PgxPool nil %v", db.Backend(), db.SQLDB() == nil, db.PgxPool() == nil)
	}
	if _, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "x.db?mode=ro"), nil); err == nil {
		t.Error("Open accepted a path with query parameters")
	}
	_, err := store.Open(context.Background(), "postgres://u:secret@127.0.0.1:1/db?connect_timeout=1", nil)
	if err == nil {
		t.Fatal("Open of an unreachable postgres succeeded")
	}
	if got := err.Error(); strings.Contains(got, "secret") {
		t.Errorf("error leaks the password: %s", got)
	}
}

// runStoreSuite is the behaviour every backend must show. open returns a
// fresh migrated database.
func runStoreSuite(t *testing.T, backend string, open func(t testing.TB) *store.DB) {
	ctx := context.Background()

	t.Run("Migrate", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		if db.Backend() != backend {
			t.Errorf("Backend() = %q, want %q", db.Backend(), backend)
		}
		ok, err := db.MigrationsApplied(ctx)
		if err != nil || !ok {
			t.Fatalf("MigrationsApplied = %v, %v; want true", ok, err)
		}
		first, err := db.InitialisedAt(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(first); d < 0 || d > time.Minute {
			t.Errorf("InitialisedAt = %v, want about now", first)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		again, _ := db.InitialisedAt(ctx)
		if !again.Equal(first) {
			t.Errorf("InitialisedAt changed on re-migrate: %v then %v", first, again)
		}
	})

	t.Run("MetaNotFound", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		if _, err := db.Meta(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Meta(nope) err = %v, want ErrNotFound", err)
		}
		if err := db.SetMeta(ctx, "k", "v1"); err != nil {
			t.Fatal(err)
		}
		if err := db.SetMeta(ctx, "k", "v2"); err != nil {
			t.Fatal(err)
		}
		if v, err := db.Meta(ctx, "k"); err != nil || v != "v2" {
			t.Errorf("Meta(k) = %q, %v; want v2", v, err)
		}
	})

	t.Run("DeliveryCommit", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		payload := []byte(`{"identity":{"id":"id1","name":"Ann"},"attributes":{"x":[1,2]}}` + "\n")
		at := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.FixedZone("X", 3600))
		var did int64
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var err error
			did, err = tx.InsertDelivery(ctx, store.Delivery{IdentityID: "id1", IdentityName: "Ann", Payload: payload, ReceivedAt: at})
			if err != nil {
				return err
			}
			return tx.SetDeliveryJob(ctx, did, 42)
		})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := db.Deliveries(ctx, "id1", 10)
		if err != nil || len(ds) != 1 {
			t.Fatalf("Deliveries = %v, %v", ds, err)
		}
		d := ds[0]
		if d.ID != did || d.JobID != 42 || d.IdentityName != "Ann" || string(d.Payload) != string(payload) || !d.ReceivedAt.Equal(at) {
			t.Errorf("delivery = %+v, payload %q", d, d.Payload)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return tx.SetDeliveryJob(ctx, 9999, 1) }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetDeliveryJob(unknown) err = %v, want ErrNotFound", err)
		}
	})

	t.Run("RollbackLeavesNothing", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: "id1", Payload: []byte(`{}`), ReceivedAt: time.Now()}); err != nil {
				return err
			}
			if _, _, err := tx.EnsureIdentity(ctx, "id1", time.Now(), time.Now()); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx err = %v, want boom", err)
		}
		c, err := db.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Deliveries != 0 || c.Identities[inviter.StatePending] != 0 {
			t.Errorf("after rollback: %+v", c)
		}
		if _, err := db.Identity(ctx, "id1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Identity after rollback: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("EnsureIdentity", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		now := time.Now().Truncate(time.Microsecond)
		i, created, err := db.EnsureIdentity(ctx, "id1", time.Time{}, now)
		if err != nil || !created {
			t.Fatalf("EnsureIdentity = %v, %v", created, err)
		}
		if i.State != inviter.StatePending || !i.FirstSeenAt.Equal(now) || !i.EventAt.IsZero() || i.InviteCount != 0 {
			t.Errorf("new identity = %+v", i)
		}
		ev := now.Add(time.Second)
		i, created, err = db.EnsureIdentity(ctx, "id1", ev, now.Add(time.Hour))
		if err != nil || created {
			t.Fatalf("second EnsureIdentity = %v, %v", created, err)
		}
		if !i.FirstSeenAt.Equal(now) || !i.EventAt.Equal(ev) {
			t.Errorf("second EnsureIdentity changed first_seen_at or missed event_at: %+v", i)
		}
	})

	t.Run("RecordAndAudit", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		now := time.Now().Truncate(time.Microsecond)
		retry := store.Decision{AuditEntry: store.AuditEntry{
			IdentityID: "id1", At: now, Outcome: inviter.OutcomeFailed, Reason: "503, retrying",
			API: inviter.APIPublic, BatchID: "b1", Attempt: 1, Source: "event",
		}}
		if err := db.Record(ctx, retry); err != nil {
			t.Fatal(err)
		}
		i, err := db.Identity(ctx, "id1")
		if err != nil {
			t.Fatal(err)
		}
		if i.State != inviter.StatePending || i.LastOutcome != inviter.OutcomeFailed || i.LastReason != "503, retrying" || i.InviteCount != 0 {
			t.Errorf("after retry decision: %+v", i)
		}
		invited := store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{
			IdentityID: "id1", At: now.Add(time.Second), Outcome: inviter.OutcomeInvited,
			API: inviter.APIPublic, TaskID: "task-1", BatchID: "b2", Attempt: 2, Source: "event",
		}}
		if err := db.Record(ctx, invited); err != nil {
			t.Fatal(err)
		}
		i, _ = db.Identity(ctx, "id1")
		if i.State != inviter.StateInvited || i.InviteCount != 1 || !i.InvitedAt.Equal(now.Add(time.Second)) ||
			i.TaskID != "task-1" || i.API != inviter.APIPublic || i.LastReason != "" {
			t.Errorf("after invited decision: %+v", i)
		}
		if err := db.AppendAudit(ctx, store.AuditEntry{IdentityID: "id2", Outcome: inviter.OutcomeSkipped, Reason: "x"}); err != nil {
			t.Fatal(err)
		}

		all, err := db.Audit(ctx, "", 0)
		if err != nil || len(all) != 3 {
			t.Fatalf("Audit(all) = %d rows, %v", len(all), err)
		}
		if all[0].IdentityID != "id2" {
			t.Errorf("Audit not newest first: %+v", all)
		}
		mine, err := db.Audit(ctx, "id1", 1)
		if err != nil || len(mine) != 1 {
			t.Fatalf("Audit(id1, 1) = %v, %v", mine, err)
		}
		got := mine[0]
		want := invited.AuditEntry
		want.ID = got.ID
		if !got.At.Equal(want.At) {
			t.Errorf("audit at = %v, want %v", got.At, want.At)
		}
		got.At, want.At = time.Time{}, time.Time{}
		if got != want {
			t.Errorf("audit row = %+v\nwant %+v", got, want)
		}
		errs, err := db.AuditErrors(ctx, 0)
		if err != nil || len(errs) != 1 || errs[0].Outcome != inviter.OutcomeFailed || errs[0].Reason != "503, retrying" {
			t.Errorf("AuditErrors = %+v, %v; want the one failed row", errs, err)
		}
	})

	t.Run("DueForReinvite", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		day0 := time.Now().Add(-20 * 24 * time.Hour).Truncate(time.Second)
		for i, at := range []time.Duration{0, 5 * 24 * time.Hour, 10 * 24 * time.Hour} {
			id := fmt.Sprintf("id%d", i)
			for range i + 1 { // id0 invited once, id1 twice, id2 three times
				if err := db.Record(ctx, store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{
					IdentityID: id, At: day0.Add(at), Outcome: inviter.OutcomeInvited}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		due, err := db.DueForReinvite(ctx, day0.Add(8*24*time.Hour), 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range due {
			ids = append(ids, d.IdentityID)
		}
		if fmt.Sprint(ids) != "[id0 id1]" {
			t.Errorf("due = %v, want [id0 id1] (id2 invited too recently and too often)", ids)
		}
	})

	t.Run("CountsAndLists", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		now := time.Now()
		for n := range 5 {
			id := fmt.Sprintf("id%d", n)
			if _, _, err := db.EnsureIdentity(ctx, id, now, now); err != nil {
				t.Fatal(err)
			}
			if n < 2 {
				err := db.Record(ctx, store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{IdentityID: id, Outcome: inviter.OutcomeInvited}})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: "id0", Payload: []byte(`{}`), ReceivedAt: now})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := db.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Identities[inviter.StatePending] != 3 || c.Identities[inviter.StateInvited] != 2 || c.Identities[inviter.StateFailed] != 0 || c.Deliveries != 1 {
			t.Errorf("Counts = %+v", c)
		}
		if len(c.Jobs) != 0 {
			t.Errorf("Counts.Jobs = %v, want empty", c.Jobs)
		}
		inv, err := db.Identities(ctx, inviter.StateInvited, 0)
		if err != nil || len(inv) != 2 {
			t.Errorf("Identities(invited) = %d, %v", len(inv), err)
		}
		some, err := db.Identities(ctx, "", 4)
		if err != nil || len(some) != 4 {
			t.Errorf("Identities(all, 4) = %d, %v", len(some), err)
		}
	})
}

func TestMigrationsAppliedBeforeMigrate(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{
		{store.BackendSQLite, storetest.OpenSQLiteUnmigrated},
		{store.BackendPostgres, storetest.OpenPostgresUnmigrated},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			ok, err := db.MigrationsApplied(context.Background())
			if err != nil || ok {
				t.Errorf("MigrationsApplied on an empty database = %v, %v; want false, nil", ok, err)
			}
			if _, err := db.InitialisedAt(context.Background()); err == nil {
				t.Error("InitialisedAt before Migrate succeeded")
			}
		})
	}
}

// withRiver returns open with River's tables migrated too (queue.Migrate):
// the store counts, copies and hands back River's jobs.
func withRiver(open func(testing.TB) *store.DB) func(testing.TB) *store.DB {
	return func(t testing.TB) *store.DB {
		t.Helper()
		db := open(t)
		if err := queue.Migrate(context.Background(), db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return db
	}
}
