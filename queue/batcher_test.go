package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/inviter/inviter"
)

// newTestBatcher returns a batcher over fake.
func newTestBatcher(ctx context.Context, size int, window time.Duration, fake *fakeInviter) *batcher {
	b := &batcher{
		size: size, window: window, callTimeout: time.Minute, ctx: ctx,
		invite: fake.Invite,
	}
	return b
}

// The batching clock runs on synctest's fake time: the batcher itself does
// no I/O, unlike River.
func TestBatcherWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeInviter{}
		b := newTestBatcher(t.Context(), 100, 250*time.Millisecond, fake)
		start := time.Now()
		var wg sync.WaitGroup
		batchIDs := make([]string, 3)
		for n, id := range []string{"a", "b", "a"} { // two rounds of "a" share one id in the call
			wg.Go(func() {
				res, batchID, err := b.submit(t.Context(), &request{id: id})
				if err != nil || res.IdentityID != id || res.Outcome != inviter.OutcomeInvited {
					t.Errorf("submit(%s) = %+v, %v", id, res, err)
				}
				batchIDs[n] = batchID
			})
		}
		wg.Wait()
		if waited := time.Since(start); waited != 250*time.Millisecond {
			t.Errorf("first id waited %s, want the 250ms window", waited)
		}
		if calls := fake.Calls(); len(calls) != 1 || len(calls[0]) != 2 {
			t.Errorf("calls = %v, want one call with a and b", calls)
		}
		if batchIDs[0] == "" || batchIDs[0] != batchIDs[1] || batchIDs[1] != batchIDs[2] {
			t.Errorf("batch ids = %v, want one shared id", batchIDs)
		}

		// A later id starts a new window.
		start = time.Now()
		if _, _, err := b.submit(t.Context(), &request{id: "c"}); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 250*time.Millisecond {
			t.Errorf("second batch waited %s", waited)
		}
		b.wait()
	})
}

func TestBatcherFullBatchDoesNotWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeInviter{}
		b := newTestBatcher(t.Context(), 3, time.Hour, fake)
		start := time.Now()
		var wg sync.WaitGroup
		for n := range 6 {
			wg.Go(func() {
				if _, _, err := b.submit(t.Context(), &request{id: fmt.Sprint(n)}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if time.Since(start) != 0 {
			t.Errorf("full batches waited %s", time.Since(start))
		}
		if calls := fake.Calls(); len(calls) != 2 || len(calls[0]) != 3 || len(calls[1]) != 3 {
			t.Errorf("calls = %v", calls)
		}
		b.wait()
	})
}

func TestBatcherCancelledWaiter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		fake := &fakeInviter{InviteFunc: func(_ context.Context, call int, ids []string) []inviter.Result {
			if call == 1 {
				<-release // the ISC call is slow
			}
			return resultsFor(ids, func(string) inviter.Result { return inviter.Result{Outcome: inviter.OutcomeInvited} })
		}}
		b := newTestBatcher(t.Context(), 100, 100*time.Millisecond, fake)

		// Withdrawn before the call: never sent.
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		if _, _, err := b.submit(ctx, &request{id: "early"}); err == nil {
			t.Error("submit with an expired context succeeded")
		}
		cancel()
		time.Sleep(time.Second)
		if calls := fake.Calls(); len(calls) != 0 {
			t.Errorf("withdrawn id was sent: %v", calls)
		}

		// Given up after the call started: the job still gets ISC's answer,
		// once the call returns, so that it records what ISC did.
		ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		got := make(chan inviter.Result, 1)
		go func() {
			res, _, err := b.submit(ctx, &request{id: "late"})
			if err != nil {
				t.Errorf("submit after the call started: %v", err)
			}
			got <- res
		}()
		time.Sleep(time.Second) // fake time: the context has long expired
		synctest.Wait()
		select {
		case res := <-got:
			t.Fatalf("submit returned %+v before the call answered", res)
		default:
		}
		close(release)
		if res := <-got; res.IdentityID != "late" || res.Outcome != inviter.OutcomeInvited {
			t.Errorf("late submit = %+v, want invited", res)
		}
		b.wait()
	})
}

func TestBatcherMissingResultAndPanic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := &fakeInviter{InviteFunc: func(_ context.Context, call int, ids []string) []inviter.Result {
			if call == 2 {
				panic("boom")
			}
			return nil // breaks the contract: no Result at all
		}}
		b := newTestBatcher(t.Context(), 1, 0, fake)
		for range 2 {
			res, _, err := b.submit(t.Context(), &request{id: "x"})
			if err != nil || res.Outcome != inviter.OutcomeFailed || res.Err == nil {
				t.Errorf("submit = %+v, %v; want a transient failure", res, err)
			}
		}
		b.wait()
	})
}

// A waiter withdrawn alone must take its window timer along: the next id
// waits its own full window, not what was left of the withdrawn one's.
func TestBatcherWithdrawnWaiterDisarmsWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const window = 250 * time.Millisecond
		calledAt := make(chan time.Time, 2)
		fake := &fakeInviter{InviteFunc: func(_ context.Context, _ int, ids []string) []inviter.Result {
			calledAt <- time.Now()
			return resultsFor(ids, func(string) inviter.Result { return inviter.Result{Outcome: inviter.OutcomeInvited} })
		}}
		b := newTestBatcher(t.Context(), 100, window, fake)

		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		if _, _, err := b.submit(ctx, &request{id: "withdrawn"}); err == nil {
			t.Error("submit with an expired context succeeded")
		}
		cancel()
		time.Sleep(100 * time.Millisecond) // 200 ms after the withdrawn id came
		start := time.Now()
		res, _, err := b.submit(t.Context(), &request{id: "next"})
		if err != nil || res.Outcome != inviter.OutcomeInvited {
			t.Fatalf("submit(next) = %+v, %v", res, err)
		}
		if waited := (<-calledAt).Sub(start); waited != window {
			t.Errorf("next was sent after %v, want its own window of %v", waited, window)
		}
		if calls := fake.Calls(); len(calls) != 1 || len(calls[0]) != 1 || calls[0][0] != "next" {
			t.Errorf("calls = %v, want one with next alone", calls)
		}
		b.wait()
	})
}
