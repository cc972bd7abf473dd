package queue

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// BenchmarkAcceptDelivery measures one durable AcceptDelivery (delivery row,
// identity row, River job, commit) on SQLite: the cost of the webhook's
// answer, dominated by the commit's fsync under synchronous(FULL).
func BenchmarkAcceptDelivery(b *testing.B) {
	db := withRiver(storetest.OpenSQLite)(b)
	q, err := New(db, Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n := 0
	for b.Loop() {
		ev, raw := event(fmt.Sprintf("id%d", n))
		n++
		if _, err := q.AcceptDelivery(ctx, ev, raw, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAcceptDeliveryParallel is AcceptDelivery from 16 concurrent
// senders, as the webhook sees a burst: group commit shares transactions.
func BenchmarkAcceptDeliveryParallel(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := withRiver(be.Open)(b)
			q, err := New(db, Config{InsertOnly: true}, nil, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(8) // 16 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev, raw := event(fmt.Sprintf("id%d", n.Add(1)))
					if _, err := q.AcceptDelivery(ctx, ev, raw, time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGroupCommitPostgres measures one group commit of the intake on
// PostgreSQL (commitGroup: the delivery and identity rows, River's insert,
// the links to the jobs, COMMIT) for groups of 1, 8 and 32 deliveries of
// new identities, one group at a time. proxy=none is the timing;
// proxy=counted runs through a proxy that counts round trips and reports
// roundtrips/op (its timings include the proxy's hops).
func BenchmarkGroupCommitPostgres(b *testing.B) {
	for _, proxy := range []string{"none", "counted"} {
		for _, size := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("proxy=%s/size=%d", proxy, size), func(b *testing.B) {
				var (
					db *store.DB
					rt *storetest.RoundTrips
				)
				if proxy == "counted" {
					db, rt = storetest.OpenCounted(b, Migrate)
				} else {
					db = withRiver(storetest.OpenPostgres)(b)
				}
				q, err := New(db, Config{InsertOnly: true}, nil, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				q.commitGroup(scheduledGroup(ctx, "warm", size)) // prepares the statements
				var trips int64
				n := 0
				for b.Loop() {
					batch := scheduledGroup(ctx, fmt.Sprint("g", n), size)
					n++
					var before int64
					if rt != nil {
						before = rt.Count()
					}
					q.commitGroup(batch)
					if rt != nil {
						trips += rt.Count() - before
					}
					if batch[0].err != nil {
						b.Fatal(batch[0].err)
					}
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "deliveries/s")
				if rt != nil {
					b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
				}
			})
		}
	}
}
