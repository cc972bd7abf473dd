package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inviter/inviter/store"
)

// TestAcceptDeliveryConcurrentGroups sends deliveries from 16 goroutines at
// once, each identity three times, so that group commits hold several
// deliveries and some hold two of one identity: every delivery is stored
// and linked to its identity's one job, and exactly one delivery per
// identity is not a duplicate.
func TestAcceptDeliveryConcurrentGroups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil) // not started: jobs stay available
		ctx := context.Background()
		const identities, copies, senders = 40, 3, 16
		type sent struct {
			id  string
			res AcceptResult
		}
		work := make(chan string)
		results := make(chan sent, identities*copies)
		errs := make(chan error, identities*copies)
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() {
				for id := range work {
					ev, raw := event(id)
					res, err := b.q.AcceptDelivery(ctx, ev, raw, time.Now())
					if err != nil {
						errs <- fmt.Errorf("%s: %w", id, err)
						continue
					}
					results <- sent{id, res}
				}
			})
		}
		// The first half's copies are sent one after the other (one group
		// is likely to hold two of them), the second half's far apart.
		for i := range identities / 2 {
			for range copies {
				work <- fmt.Sprintf("id%02d", i)
			}
		}
		for range copies {
			for i := identities / 2; i < identities; i++ {
				work <- fmt.Sprintf("id%02d", i)
			}
		}
		close(work)
		wg.Wait()
		close(results)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		jobOf := map[string]int64{}
		firsts := map[string]int{}
		deliveries := map[int64]bool{}
		for r := range results {
			if r.res.JobID == 0 || r.res.DeliveryID == 0 {
				t.Errorf("%s: result %+v, want a job and a delivery", r.id, r.res)
				continue
			}
			if deliveries[r.res.DeliveryID] {
				t.Errorf("%s: delivery id %d given twice", r.id, r.res.DeliveryID)
			}
			deliveries[r.res.DeliveryID] = true
			if j, ok := jobOf[r.id]; ok && j != r.res.JobID {
				t.Errorf("%s: jobs %d and %d", r.id, j, r.res.JobID)
			}
			jobOf[r.id] = r.res.JobID
			if !r.res.Duplicate {
				firsts[r.id]++
			}
		}
		if len(jobOf) != identities || len(deliveries) != identities*copies {
			t.Fatalf("%d identities with jobs, %d deliveries; want %d and %d", len(jobOf), len(deliveries), identities, identities*copies)
		}
		for id, job := range jobOf {
			if firsts[id] != 1 {
				t.Errorf("%s: %d deliveries not marked duplicate, want 1", id, firsts[id])
			}
			ds, err := b.db.Deliveries(ctx, id, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != copies {
				t.Errorf("%s: %d deliveries stored, want %d", id, len(ds), copies)
			}
			for _, d := range ds {
				if d.JobID != job || !deliveries[d.ID] {
					t.Errorf("%s: stored delivery %d links job %d, want %d", id, d.ID, d.JobID, job)
				}
			}
		}
		jobs, err := b.db.CountJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := sumJobs(jobs); n != identities {
			t.Errorf("jobs %v, want %d", jobs, identities)
		}
	})
}
