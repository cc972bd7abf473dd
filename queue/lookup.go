package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/inviter/inviter/store"
)

// lookupReq is one invite job's look at its identity's row, waiting to be
// read together with the other jobs' (Queue.identity).
type lookupReq struct {
	ctx context.Context
	id  string

	ident store.Identity
	err   error // wraps store.ErrNotFound when inviter does not know id
}

// identity returns the row of identityID, or an error wrapping
// store.ErrNotFound. The jobs River starts together each look at their
// identity first; their looks are read in one statement (a group, as the
// intake's commits are) instead of one query each, which on SQLite would
// take the only connection from the intake once per job.
func (q *Queue) identity(ctx context.Context, identityID string) (store.Identity, error) {
	r := &lookupReq{ctx: ctx, id: identityID}
	q.lookups.Submit(r)
	return r.ident, r.err
}

// readLookups reads the rows of batch's identities in one statement (the
// queue's grouper reads each look of a failed group on its own, so that
// one look cannot fail the others).
func (q *Queue) readLookups(batch []*lookupReq) error {
	ctx, cancel := groupContext(batch[0].ctx, len(batch), 10*time.Second)
	defer cancel()
	ids := make([]string, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, r := range batch {
		if !seen[r.id] {
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	rows, err := q.db.IdentitiesByID(ctx, ids)
	if err != nil {
		return err
	}
	for _, r := range batch {
		if ident, ok := rows[r.id]; ok {
			r.ident = ident
		} else {
			r.err = fmt.Errorf("identity %s: %w", r.id, store.ErrNotFound)
		}
	}
	return nil
}

// failLookup records the error of a look read alone.
func failLookup(r *lookupReq, err error) { r.err = err }
