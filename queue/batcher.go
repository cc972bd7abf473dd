package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/inviter/inviter"
)

// batcher coalesces identity ids from concurrently running invite jobs into
// one Inviter.Invite call: it flushes when size ids are waiting or window has
// passed since the first of them arrived, and hands each waiting job its own
// Result.
//
// A job whose context ends while its id is still waiting is withdrawn. A job
// whose context ends after its id was sent cannot be withdrawn (ISC may act
// on it): it keeps waiting for the call's Result, which comes within
// callTimeout (or Queue.Stop's grace), so that the job records what ISC did
// instead of leaving it to a retry that would send again.
type batcher struct {
	size        int
	window      time.Duration
	callTimeout time.Duration
	invite      func(ctx context.Context, ids []string) []inviter.Result
	observe     func(n int) // called with the id count of every call
	lateWait    func()      // if set, called when a job's context ends after its id was sent (tests)

	ctx context.Context // parent of every call; cancelled by Queue.Stop after its grace
	wg  sync.WaitGroup  // running calls

	mu      sync.Mutex
	pending []*request
	timer   *time.Timer
	gen     uint64 // bumped whenever pending is taken or emptied, so a stale timer does nothing
}

// request is one job's id waiting for its Result.
type request struct {
	id  string
	job jobInfo

	done chan reply // buffered(1)
}

type reply struct {
	res     inviter.Result
	batchID string
}

// submit queues r.id for the next call and waits for its Result and the id
// of the batch it went in. If ctx ends while r.id is still waiting, it is
// withdrawn and submit returns ctx's error; once r.id was sent, submit
// waits for the call's answer whatever ctx does.
func (b *batcher) submit(ctx context.Context, r *request) (inviter.Result, string, error) {
	r.done = make(chan reply, 1)
	b.mu.Lock()
	b.pending = append(b.pending, r)
	switch {
	case len(b.pending) >= b.size || b.window <= 0:
		batch := b.takeLocked()
		b.mu.Unlock()
		b.launch(batch)
	case len(b.pending) == 1:
		gen := b.gen
		b.timer = time.AfterFunc(b.window, func() { b.flush(gen) })
		b.mu.Unlock()
	default:
		b.mu.Unlock()
	}

	select {
	case rep := <-r.done:
		return rep.res, rep.batchID, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	for i, p := range b.pending {
		if p == r { // not sent yet: withdraw
			b.pending = append(b.pending[:i:i], b.pending[i+1:]...)
			if len(b.pending) == 0 {
				// The window was r's: the next id starts its own.
				b.disarmLocked()
			}
			b.mu.Unlock()
			return inviter.Result{}, "", fmt.Errorf("waiting for a batch: %w", context.Cause(ctx))
		}
	}
	b.mu.Unlock()
	// Sent: ISC may act on it, so its answer is what the job must record.
	if b.lateWait != nil {
		b.lateWait()
	}
	rep := <-r.done
	return rep.res, rep.batchID, nil
}

// flush sends what is pending if the window timer of generation gen is
// still current.
func (b *batcher) flush(gen uint64) {
	b.mu.Lock()
	if gen != b.gen || len(b.pending) == 0 {
		b.mu.Unlock()
		return
	}
	batch := b.takeLocked()
	b.mu.Unlock()
	b.launch(batch)
}

func (b *batcher) takeLocked() []*request {
	batch := b.pending
	b.pending = nil
	b.disarmLocked()
	return batch
}

// disarmLocked stops the window timer and makes a timer that already fired
// do nothing.
func (b *batcher) disarmLocked() {
	b.gen++
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

func (b *batcher) launch(batch []*request) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.call(batch)
	}()
}

// call sends one Invite call for batch and answers every request in it.
func (b *batcher) call(batch []*request) {
	batchID := newBatchID()
	ids := make([]string, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, r := range batch {
		if !seen[r.id] { // two jobs (rounds) for one identity share its Result
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	if b.observe != nil {
		b.observe(len(ids))
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.callTimeout)
	results := b.safeInvite(ctx, ids)
	cancel()

	byID := make(map[string]inviter.Result, len(results))
	for _, res := range results {
		if _, dup := byID[res.IdentityID]; !dup {
			byID[res.IdentityID] = res
		}
	}
	for _, r := range batch {
		res, ok := byID[r.id]
		if !ok {
			res = inviter.Result{IdentityID: r.id, Outcome: inviter.OutcomeFailed,
				Reason: "inviter returned no result for this identity",
				Err:    &inviter.TransientError{Op: "invite", Err: errors.New("no result for identity")}}
		}
		r.done <- reply{res: res, batchID: batchID}
	}
}

// safeInvite calls invite, turning a panic into a transient failure of every id.
func (b *batcher) safeInvite(ctx context.Context, ids []string) (results []inviter.Result) {
	defer func() {
		if p := recover(); p != nil {
			err := &inviter.TransientError{Op: "invite", Err: fmt.Errorf("inviter panicked: %v", p)}
			results = make([]inviter.Result, len(ids))
			for i, id := range ids {
				results[i] = inviter.Result{IdentityID: id, Outcome: inviter.OutcomeFailed, Reason: err.Error(), Err: err}
			}
		}
	}()
	return b.invite(ctx, ids)
}

// wait blocks until every call launched so far has answered.
func (b *batcher) wait() { b.wg.Wait() }

func newBatchID() string {
	var buf [6]byte
	_, _ = rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}
