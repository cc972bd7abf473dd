package groupcommit_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/inviter/inviter/internal/groupcommit"
)

type item struct {
	n      int
	result int
}

func TestEveryItemCommittedOnceInFewCommits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var commits atomic.Int32
		var seen sync.Map
		g := groupcommit.New(64, func(batch []*item) {
			commits.Add(1)
			time.Sleep(time.Millisecond) // a commit takes a while
			for _, it := range batch {
				if _, dup := seen.LoadOrStore(it.n, true); dup {
					t.Errorf("item %d committed twice", it.n)
				}
				it.result = it.n * 2
			}
		})
		var wg sync.WaitGroup
		items := make([]*item, 500)
		for i := range items {
			items[i] = &item{n: i}
			wg.Go(func() {
				g.Submit(items[i])
				if items[i].result != i*2 {
					t.Errorf("item %d returned before its commit", i)
				}
			})
		}
		wg.Wait()
		if n := commits.Load(); n > 20 {
			t.Errorf("%d commits for 500 concurrent items; grouping should need about 500/64", n)
		}
	})
}

func TestBatchesRespectMax(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		g := groupcommit.New(3, func(batch []*item) {
			if len(batch) > 3 {
				t.Errorf("batch of %d, max 3", len(batch))
			}
			time.Sleep(time.Millisecond)
		})
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() { g.Submit(&item{n: i}) })
		}
		wg.Wait()
	})
}

func TestPanicInCommitReleasesWaiters(t *testing.T) {
	t.Parallel()
	g := groupcommit.New(8, func(batch []*item) {
		if batch[0].n == 1 {
			panic("boom")
		}
	})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		g.Submit(&item{n: 1})
	}()
	// The Grouper still works after the panic.
	it := &item{n: 2}
	done := make(chan struct{})
	go func() { g.Submit(it); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Submit hangs after a commit panicked")
	}
}

func TestParallelLeadersOverlapCommitsUpToTheLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const leaders = 4
		var running, most, commits atomic.Int32
		var seen sync.Map
		g := groupcommit.NewParallel(8, leaders, func(batch []*item) {
			commits.Add(1)
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond) // a commit takes a while
			for _, it := range batch {
				if _, dup := seen.LoadOrStore(it.n, true); dup {
					t.Errorf("item %d committed twice", it.n)
				}
				it.result = it.n * 2
			}
			running.Add(-1)
		})
		var wg sync.WaitGroup
		items := make([]*item, 400)
		for i := range items {
			items[i] = &item{n: i}
			wg.Go(func() {
				g.Submit(items[i])
				if items[i].result != i*2 {
					t.Errorf("item %d returned before its commit", i)
				}
			})
		}
		wg.Wait()
		if m := most.Load(); m != leaders {
			t.Errorf("at most %d commits ran at once, want %d", m, leaders)
		}
		if n := commits.Load(); n < 400/8 || n > 400/8+2*leaders {
			t.Errorf("%d commits for 400 items in groups of at most 8", n)
		}
		// The Grouper is idle again: a later item still gets a commit.
		it := &item{n: 1000}
		g.Submit(it)
		if it.result != 2000 {
			t.Errorf("an item submitted after the burst was not committed")
		}
	})
}

// TestOneByOneOnFailure: a failed batch of several is committed again one
// item at a time, so only the item that fails alone gets an error; a
// single item's failure is recorded at once, without a second try.
func TestOneByOneOnFailure(t *testing.T) {
	t.Parallel()
	var calls [][]int
	failed := map[int]error{}
	commit := groupcommit.OneByOneOnFailure(func(batch []*item) error {
		var ns []int
		for _, it := range batch {
			ns = append(ns, it.n)
		}
		calls = append(calls, ns)
		for _, it := range batch {
			if it.n == 2 {
				return fmt.Errorf("item %d is bad", it.n)
			}
		}
		for _, it := range batch {
			it.result = it.n * 2
		}
		return nil
	}, func(it *item, err error) { failed[it.n] = err })

	batch := []*item{{n: 1}, {n: 2}, {n: 3}}
	commit(batch)
	if want := [][]int{{1, 2, 3}, {1}, {2}, {3}}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("commits %v, want %v", calls, want)
	}
	if len(failed) != 1 || failed[2] == nil || batch[0].result != 2 || batch[2].result != 6 {
		t.Errorf("failed %v, results %d %d %d", failed, batch[0].result, batch[1].result, batch[2].result)
	}

	calls, failed = nil, map[int]error{}
	commit([]*item{{n: 2}})
	if len(calls) != 1 || failed[2] == nil {
		t.Errorf("a single item: commits %v, failed %v; want one commit and its error", calls, failed)
	}
}
