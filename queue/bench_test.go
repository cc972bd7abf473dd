package queue

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inviter/inviter/internal/storetest"
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
