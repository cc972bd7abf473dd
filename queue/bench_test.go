package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/inviter/inviter/store/storetest"
)

// BenchmarkAcceptDelivery measures one durable AcceptDelivery (delivery row,
// identity row, River job, commit) on SQLite: the cost of the webhook's
// answer, dominated by the commit's fsync under synchronous(FULL).
func BenchmarkAcceptDelivery(b *testing.B) {
	db := storetest.OpenSQLite(b)
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
