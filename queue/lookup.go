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

// readLookups reads the rows of batch's identities in one statement.
func (q *Queue) readLookups(batch []*lookupReq) {
	ctx := batch[0].ctx
	if len(batch) > 1 {
		// The read outlives any one caller's deadline; bound it on its own.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		ctx = c
	}
	ids := make([]string, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, r := range batch {
		if !seen[r.id] {
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	rows, err := q.db.IdentitiesByID(ctx, ids)
	for _, r := range batch {
		switch ident, ok := rows[r.id]; {
		case err != nil && len(batch) > 1:
			// One look may be what failed the group: each on its own, so
			// that the others do not fail with it.
			r.ident, r.err = q.db.Identity(r.ctx, r.id)
		case err != nil:
			r.err = err
		case !ok:
			r.err = fmt.Errorf("identity %s: %w", r.id, store.ErrNotFound)
		default:
			r.ident = ident
		}
	}
}
