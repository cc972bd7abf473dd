package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/inviter/inviter/store"
	"github.com/inviter/inviter/store/storetest"
)

// BenchmarkIntakeGroup measures storing one group commit's 16 deliveries of
// new identities, in one transaction: the delivery rows, the identities
// and the links to their jobs (River's insert aside). statements=group is
// the intake's way (InsertDeliveries, EnsureIdentities, SetDeliveryJobs:
// one statement each on PostgreSQL, one per chunk on SQLite);
// statements=row is one InsertDelivery, EnsureIdentity and SetDeliveryJob
// per delivery, for comparison. On PostgreSQL the gap is round trips.
func BenchmarkIntakeGroup(b *testing.B) {
	const group = 16
	for _, be := range storetest.Backends() {
		for _, way := range []string{"group", "row"} {
			b.Run(fmt.Sprintf("%s/statements=%s", be.Name, way), func(b *testing.B) {
				db := be.Open(b)
				ctx := context.Background()
				payload := []byte(`{"identity":{"type":"IDENTITY","id":"2c9180835d2e5168015d32f890ca1581","name":"Jane Doe"},"attributes":{"email":"jane@example.com","department":"Sales"}}`)
				n := 0
				for b.Loop() {
					now := time.Now()
					ds := make([]store.Delivery, group)
					seen := make([]store.IdentitySeen, group)
					for i := range ds {
						n++
						id := fmt.Sprintf("id%d", n)
						ds[i] = store.Delivery{IdentityID: id, IdentityName: "Jane Doe", Payload: payload, ReceivedAt: now}
						seen[i] = store.IdentitySeen{IdentityID: id, EventAt: now, Now: now}
					}
					err := db.InTx(ctx, func(tx *store.Tx) error {
						if way == "row" {
							return storeRows(ctx, tx, ds)
						}
						ids, err := tx.InsertDeliveries(ctx, ds)
						if err != nil {
							return err
						}
						if _, err := tx.EnsureIdentities(ctx, seen); err != nil {
							return err
						}
						links := make([]store.DeliveryJob, len(ids))
						for i, id := range ids {
							links[i] = store.DeliveryJob{DeliveryID: id, JobID: id}
						}
						return tx.SetDeliveryJobs(ctx, links)
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "deliveries/s")
			})
		}
	}
}

// storeRows stores ds with the one-row statements.
func storeRows(ctx context.Context, tx *store.Tx, ds []store.Delivery) error {
	for _, d := range ds {
		id, err := tx.InsertDelivery(ctx, d)
		if err != nil {
			return err
		}
		if _, _, err := tx.EnsureIdentity(ctx, d.IdentityID, d.ReceivedAt, d.ReceivedAt); err != nil {
			return err
		}
		if err := tx.SetDeliveryJob(ctx, id, id); err != nil {
			return err
		}
	}
	return nil
}
