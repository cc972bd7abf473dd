package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// TestRetentionPrunesPersonalData: the retention job deletes delivery
// payloads past --retain-deliveries and audit rows past --retain-audit,
// keeps what is younger and every identity's state; a zero period keeps
// everything.
func TestRetentionPrunesPersonalData(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.Open(t)
			if err := queue.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			err := db.InTx(ctx, func(tx *store.Tx) error {
				for _, age := range []time.Duration{31 * 24 * time.Hour, 29 * 24 * time.Hour} {
					if _, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: "id-" + age.String(), IdentityName: "Ann",
						Payload: []byte(`{"identity":{"name":"Ann"}}`), ReceivedAt: now.Add(-age)}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, age := range []time.Duration{401 * 24 * time.Hour, 399 * 24 * time.Hour} {
				if err := db.Record(ctx, store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{
					IdentityID: "audit-" + age.String(), At: now.Add(-age), Outcome: inviter.OutcomeInvited}}); err != nil {
					t.Fatal(err)
				}
			}
			keep := &queue.RetentionWorker{DB: db, Now: func() time.Time { return now }}
			if err := keep.Work(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if c, _ := db.Counts(ctx); c.Deliveries != 2 {
				t.Errorf("with retention off, %d deliveries left, want 2", c.Deliveries)
			}
			w := &queue.RetentionWorker{DB: db, Deliveries: 30 * 24 * time.Hour, Audit: 400 * 24 * time.Hour, Now: func() time.Time { return now }}
			if err := w.Work(ctx, nil); err != nil {
				t.Fatal(err)
			}
			ds, err := db.Deliveries(ctx, "", 10)
			if err != nil || len(ds) != 1 || ds[0].IdentityID != "id-696h0m0s" {
				t.Errorf("deliveries left %+v, %v; want only the 29-day-old one", ds, err)
			}
			a, err := db.Audit(ctx, "", 10)
			if err != nil || len(a) != 1 || a[0].IdentityID != "audit-9576h0m0s" {
				t.Errorf("audit left %+v, %v; want only the 399-day-old row", a, err)
			}
			if i, err := db.Identity(ctx, "audit-9624h0m0s"); err != nil || i.State != inviter.StateInvited {
				t.Errorf("identity whose audit was pruned: %+v, %v; its state must stay", i, err)
			}
		})
	}
}
