package queue

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter/store"
)

func TestRetryFailedJobs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil) // not started: the jobs stay where the test puts them
		ctx := t.Context()
		jobs := map[string]int64{}
		for i := range 4 {
			id := fmt.Sprint("id-", i)
			ev, raw := event(id)
			res, err := b.q.AcceptDelivery(ctx, ev, raw, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			jobs[id] = res.JobID
		}
		for _, id := range []string{"id-1", "id-2", "id-3"} {
			if _, err := b.q.CancelJob(ctx, jobs[id]); err != nil {
				t.Fatal(err)
			}
		}

		failed, err := b.q.ListFailed(ctx, 2)
		if err != nil || len(failed) != 2 || failed[0].ID != jobs["id-3"] || failed[1].ID != jobs["id-2"] {
			t.Fatalf("ListFailed(2) = %+v, %v; want the jobs of id-3 and id-2", failed, err)
		}

		r, err := b.q.Retry(ctx, jobs["id-1"])
		if err != nil || r.PreviousState != "cancelled" || r.State != "available" || r.IdentityID != "id-1" {
			t.Errorf("Retry(id-1's job) = %+v, %v; want available, was cancelled", r, err)
		}
		if _, err := b.q.Retry(ctx, 987654); !errors.Is(err, rivertype.ErrNotFound) {
			t.Errorf("Retry of an unknown job: %v, want rivertype.ErrNotFound", err)
		}

		all, err := b.q.RetryFailed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range all {
			ids = append(ids, r.IdentityID)
			if r.PreviousState != "cancelled" || r.State != "available" {
				t.Errorf("retried %+v: want available, was cancelled", r)
			}
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"id-2", "id-3"}) {
			t.Errorf("RetryFailed retried the jobs of %v, want id-2 and id-3", ids)
		}
		if again, err := b.q.RetryFailed(ctx); err != nil || len(again) != 0 {
			t.Errorf("second RetryFailed = %+v, %v; want nothing", again, err)
		}
		if !Failed("cancelled") || !Failed("discarded") || Failed("completed") || Failed(StateFailed) {
			t.Error("Failed does not name River's cancelled and discarded only")
		}
	})
}
