package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/groupcommit"
	"github.com/inviter/inviter/store"
)

// TestIdentityLookupsTogether: jobs looking at their identities at the same
// time each get their own identity's row, or not found, whichever group
// their look was read in.
func TestIdentityLookupsTogether(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		ctx := t.Context()
		now := time.Now()
		for i := range 50 {
			if _, _, err := b.db.EnsureIdentity(ctx, fmt.Sprintf("known%d", i), now.Add(time.Duration(i)*time.Second), now); err != nil {
				t.Fatal(err)
			}
		}
		type got struct {
			ident store.Identity
			err   error
		}
		results := make([]got, 200)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				id := fmt.Sprintf("known%d", i%100) // half of them unknown
				results[i].ident, results[i].err = b.q.identity(ctx, id)
			})
		}
		wg.Wait()
		for i, r := range results {
			n := i % 100
			id := fmt.Sprintf("known%d", n)
			if n >= 50 {
				if !errors.Is(r.err, store.ErrNotFound) {
					t.Fatalf("%s: %+v, %v; want not found", id, r.ident, r.err)
				}
				continue
			}
			want, err := b.db.Identity(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.err != nil || r.ident.IdentityID != id || !r.ident.EventAt.Equal(want.EventAt) || want.EventAt.IsZero() {
				t.Fatalf("%s: %+v, %v", id, r.ident, r.err)
			}
		}
	})
}

// TestManyJobsSkipTheInvitedOnes: of jobs River starts together, those
// whose identity was invited meanwhile are skipped and the others sent.
func TestManyJobsSkipTheInvitedOnes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, func(c *Config) { c.BatchSize = 100 })
		ctx := context.Background()
		for i := range 40 {
			id := fmt.Sprintf("id%02d", i)
			if _, err := b.q.Enqueue(ctx, id, inviter.SourceCLI, nil); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				err := b.db.Record(ctx, store.Decision{State: inviter.StateInvited,
					AuditEntry: store.AuditEntry{IdentityID: id, Outcome: inviter.OutcomeInvited}})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		b.start(t)
		waitFor(t, "every job finished", func() bool {
			for i := range 40 {
				if len(b.auditOldestFirst(t, fmt.Sprintf("id%02d", i))) < 2-i%2 {
					return false
				}
			}
			return true
		})
		sent := map[string]int{}
		for _, call := range b.inv.Calls() {
			for _, id := range call {
				sent[id]++
			}
		}
		for i := range 40 {
			id := fmt.Sprintf("id%02d", i)
			audit := b.auditOldestFirst(t, id)
			if i%2 == 0 {
				if sent[id] != 0 || len(audit) != 2 || audit[1].Outcome != inviter.OutcomeSkipped || audit[1].Reason != "already invited" {
					t.Errorf("%s: sent %d times, audit %+v", id, sent[id], audit)
				}
				continue
			}
			if sent[id] != 1 || len(audit) != 1 || audit[0].Outcome != inviter.OutcomeInvited {
				t.Errorf("%s: sent %d times, audit %+v", id, sent[id], audit)
			}
		}
	})
}

// TestIdentityLookupFailingAloneFailsAlone: a look that fails the group's
// statement (an id PostgreSQL cannot take: text holds no NUL) is read
// again on its own, as is each other look of the group, so that only it
// fails.
func TestIdentityLookupFailingAloneFailsAlone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		ctx := t.Context()
		now := time.Now()
		if _, _, err := b.db.EnsureIdentity(ctx, "known", now, now); err != nil {
			t.Fatal(err)
		}
		batch := []*lookupReq{{ctx: ctx, id: "known"}, {ctx: ctx, id: "bad\x00id"}, {ctx: ctx, id: "unknown"}}
		groupcommit.OneByOneOnFailure(b.q.readLookups, failLookup)(batch) // as the queue's grouper reads them
		if r := batch[0]; r.err != nil || r.ident.IdentityID != "known" {
			t.Errorf("known: %+v, %v", r.ident, r.err)
		}
		if r := batch[2]; !errors.Is(r.err, store.ErrNotFound) {
			t.Errorf("unknown: %+v, %v; want not found", r.ident, r.err)
		}
		if r := batch[1]; r.err == nil {
			t.Errorf("an id with NUL: %+v, want an error or not found", r.ident)
		}
	})
}
