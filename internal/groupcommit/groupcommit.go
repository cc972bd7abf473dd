// Package groupcommit lets concurrent writers share one database commit
// (and concurrent readers one statement).
//
// A commit costs about the same whether it writes one row or a hundred: on
// SQLite it is an fsync, on PostgreSQL a WAL flush. A Grouper collects the
// items that arrive while a commit is running and hands them to the next
// commit together, so a burst of N writers costs a few commits instead of
// N. Each writer still returns only once its own item has been committed
// (or has failed), so "answer only after commit" guarantees are kept.
package groupcommit

import "sync"

// Grouper groups items for a commit function. The zero Grouper is not
// usable; use New. A Grouper is safe for concurrent use.
type Grouper[T any] struct {
	commit  func(batch []T)
	max     int
	leaders int

	mu      sync.Mutex
	pending []*waiter[T]
	running int // commits running
}

type waiter[T any] struct {
	item T
	done chan struct{}
}

// New returns a Grouper that hands commit batches of at most limit items
// (limit < 1 means 1). commit must record each item's result in the item
// itself (items are usually pointers) and must not call Submit.
func New[T any](limit int, commit func(batch []T)) *Grouper[T] {
	return NewParallel(limit, 1, commit)
}

// NewParallel is New with up to leaders commits running at once, for a
// database that commits concurrent transactions side by side (PostgreSQL):
// a commit's round trips then overlap another's instead of queueing behind
// it. leaders < 1 means 1, which is New.
func NewParallel[T any](limit, leaders int, commit func(batch []T)) *Grouper[T] {
	return &Grouper[T]{commit: commit, max: max(1, limit), leaders: max(1, leaders)}
}

// Submit adds item to the next batch and returns once a commit call that
// included it has returned.
//
// The first caller to find no commit running leads: it commits what is
// pending, its own item first, and leaves any newcomers to a goroutine, so
// no caller waits for more than one commit after its own.
func (g *Grouper[T]) Submit(item T) {
	w := &waiter[T]{item: item, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, w)
	if g.running >= g.leaders {
		g.mu.Unlock()
		<-w.done
		return
	}
	g.running++
	g.mu.Unlock()
	g.drain()
	<-w.done
}

// drain commits one batch, then hands what is pending to a new goroutine,
// or ends the leadership when nothing is.
func (g *Grouper[T]) drain() {
	g.mu.Lock()
	n := min(len(g.pending), g.max)
	if n == 0 {
		// Another leader took what was pending.
		g.running--
		g.mu.Unlock()
		return
	}
	batch := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()

	// Whatever commit does, even panic, the batch's callers are released
	// and the pending items get a leader.
	defer func() {
		for _, w := range batch {
			close(w.done)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if len(g.pending) == 0 {
			g.running--
			if g.running == 0 {
				g.pending = nil
			}
			return
		}
		go g.drain()
	}()
	items := make([]T, len(batch))
	for i, w := range batch {
		items[i] = w.item
	}
	g.commit(items)
}

// OneByOneOnFailure returns a commit function for New and NewParallel that
// commits a batch with commit and, when that fails for a batch of several
// items, commits each item alone, so that one bad item does not fail the
// others; fail records the error of an item that failed alone.
func OneByOneOnFailure[T any](commit func(batch []T) error, fail func(item T, err error)) func(batch []T) {
	return func(batch []T) {
		err := commit(batch)
		switch {
		case err == nil:
		case len(batch) == 1:
			fail(batch[0], err)
		default:
			for _, item := range batch {
				if err := commit([]T{item}); err != nil {
					fail(item, err)
				}
			}
		}
	}
}
