package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inviter/inviter"
)

// BenchmarkBatcher measures batch assembly: size jobs submit their ids
// concurrently, the batcher flushes them as one call to an inviter that
// answers at once, and hands each job its Result. Reported per id; the
// window is long, so every flush is by size.
func BenchmarkBatcher(b *testing.B) {
	for _, size := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			ctx := context.Background()
			bt := &batcher{
				size: size, window: time.Hour, callTimeout: time.Minute, ctx: ctx,
				invite: func(_ context.Context, ids []string) []inviter.Result {
					out := make([]inviter.Result, len(ids))
					for i, id := range ids {
						out[i] = inviter.Result{IdentityID: id, Outcome: inviter.OutcomeInvited}
					}
					return out
				},
			}
			ids := make([]string, size)
			for i := range ids {
				ids[i] = fmt.Sprintf("%032x", i)
			}
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				for _, id := range ids {
					wg.Go(func() {
						if res, _, err := bt.submit(ctx, &request{id: id}); err != nil || res.Outcome != inviter.OutcomeInvited {
							b.Errorf("submit(%s) = %+v, %v", id, res, err)
						}
					})
				}
				wg.Wait()
			}
			bt.wait()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/id")
		})
	}
}
