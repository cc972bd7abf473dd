package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// BenchmarkIntakeGroup measures storing one group commit's 16 deliveries:
// the delivery rows, the identities and the links to their jobs (River's
// insert aside). statements=group is the intake's way
// (InsertDeliveriesAndIdentities and SetDeliveryJobs: one statement for
// each kind of row on PostgreSQL, the first two sent together; one per
// chunk on SQLite); statements=row is one InsertDelivery, EnsureIdentity
// and SetDeliveryJob per delivery, for comparison. On PostgreSQL the gap
// is round trips.
//
// identities=known stores deliveries of identities already known (ISC
// sending an event again): their rows are read and, on PostgreSQL, take
// round trips of their own. commit=each commits every group, as the intake
// does; commit=none runs every group in one transaction, so that on SQLite
// the statements' cost shows without the commit's fsync.
func BenchmarkIntakeGroup(b *testing.B) {
	const group = 16
	payload := []byte(`{"identity":{"type":"IDENTITY","id":"2c9180835d2e5168015d32f890ca1581","name":"Jane Doe"},"attributes":{"email":"jane@example.com","department":"Sales"}}`)
	for _, be := range storetest.Backends() {
		for _, identities := range []string{"new", "known"} {
			for _, commit := range []string{"each", "none"} {
				for _, way := range []string{"group", "row"} {
					b.Run(fmt.Sprintf("%s/identities=%s/commit=%s/statements=%s", be.Name, identities, commit, way), func(b *testing.B) {
						db := be.Open(b)
						ctx := context.Background()
						const knownIDs = 1000
						if identities == "known" {
							for i := range knownIDs {
								if _, _, err := db.EnsureIdentity(ctx, fmt.Sprintf("id%d", i), time.Now(), time.Now()); err != nil {
									b.Fatal(err)
								}
							}
						}
						n := 0
						storeGroup := func(tx *store.Tx) error {
							now := time.Now()
							ds := make([]store.Delivery, group)
							seen := make([]store.IdentitySeen, group)
							for i := range ds {
								n++
								id := fmt.Sprintf("id%d", n)
								if identities == "known" {
									id = fmt.Sprintf("id%d", n%knownIDs)
								}
								ds[i] = store.Delivery{IdentityID: id, IdentityName: "Jane Doe", Payload: payload, ReceivedAt: now}
								seen[i] = store.IdentitySeen{IdentityID: id, EventAt: now, Now: now}
							}
							if way == "row" {
								return storeRows(ctx, tx, ds)
							}
							ids, _, err := tx.InsertDeliveriesAndIdentities(ctx, ds, seen)
							if err != nil {
								return err
							}
							links := make([]store.DeliveryJob, len(ids))
							for i, id := range ids {
								links[i] = store.DeliveryJob{DeliveryID: id, JobID: id}
							}
							return tx.SetDeliveryJobs(ctx, links)
						}
						runGroups(b, db, commit == "each", storeGroup)
						b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "deliveries/s")
					})
				}
			}
		}
	}
}

// runGroups runs storeGroup once per benchmark iteration: each in its own
// transaction when commitEach, all in one otherwise.
func runGroups(b *testing.B, db *store.DB, commitEach bool, storeGroup func(tx *store.Tx) error) {
	ctx := context.Background()
	if !commitEach {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for b.Loop() {
				if err := storeGroup(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		return
	}
	for b.Loop() {
		if err := db.InTx(ctx, storeGroup); err != nil {
			b.Fatal(err)
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

// BenchmarkRecordGroup measures storing one group commit's 16 invite
// outcomes (accepted invitations of new identities): statements=group is
// RecordMany, the outcomes' group commit; statements=row is one Record
// each, for comparison. commit is as in BenchmarkIntakeGroup.
func BenchmarkRecordGroup(b *testing.B) {
	const group = 16
	for _, be := range storetest.Backends() {
		for _, commit := range []string{"each", "none"} {
			for _, way := range []string{"group", "row"} {
				b.Run(fmt.Sprintf("%s/commit=%s/statements=%s", be.Name, commit, way), func(b *testing.B) {
					db := be.Open(b)
					ctx := context.Background()
					n := 0
					storeGroup := func(tx *store.Tx) error {
						now := time.Now()
						ds := make([]store.Decision, group)
						for i := range ds {
							n++
							ds[i] = store.Decision{AuditEntry: store.AuditEntry{IdentityID: fmt.Sprintf("id%d", n), At: now,
								Outcome: inviter.OutcomeInvited, API: inviter.APIPublic, TaskID: "task", BatchID: "batch", Attempt: 1, Source: "event"},
								State: inviter.StateInvited}
						}
						if way == "group" {
							return tx.RecordMany(ctx, ds)
						}
						for _, d := range ds {
							if err := tx.Record(ctx, d); err != nil {
								return err
							}
						}
						return nil
					}
					runGroups(b, db, commit == "each", storeGroup)
					b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "outcomes/s")
				})
			}
		}
	}
}

// BenchmarkIdentityLookups measures reading the rows of 64 known identities
// (River starting as many invite jobs at once, each looking at its
// identity first): way=group is one IdentitiesByID, the workers' way;
// way=row is one Identity per id, for comparison.
func BenchmarkIdentityLookups(b *testing.B) {
	const jobs = 64
	for _, be := range storetest.Backends() {
		for _, way := range []string{"group", "row"} {
			b.Run(fmt.Sprintf("%s/way=%s", be.Name, way), func(b *testing.B) {
				db := be.Open(b)
				ctx := context.Background()
				now := time.Now()
				const known = 1000
				for i := range known {
					if _, _, err := db.EnsureIdentity(ctx, fmt.Sprintf("id%d", i), now, now); err != nil {
						b.Fatal(err)
					}
				}
				ids := make([]string, jobs)
				n := 0
				b.ResetTimer()
				for b.Loop() {
					for i := range ids {
						n++
						ids[i] = fmt.Sprintf("id%d", n%known)
					}
					if way == "group" {
						got, err := db.IdentitiesByID(ctx, ids)
						if err != nil || len(got) != jobs {
							b.Fatalf("%d rows, %v", len(got), err)
						}
						continue
					}
					for _, id := range ids {
						if _, err := db.Identity(ctx, id); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
