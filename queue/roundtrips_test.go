package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// TestGroupCommitRoundTripsPostgres counts the round trips of one group
// commit of the intake on PostgreSQL, through a proxy: three (BEGIN with
// the rows statement, River's insert, the link update with COMMIT),
// whatever the group's size.
func TestGroupCommitRoundTripsPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, rt := storetest.OpenCounted(t, Migrate)
	open := func(testing.TB) *store.DB { return db }
	b := setup(t, open, nil)                        // not started: nothing else uses the connection
	b.q.commitGroup(scheduledGroup(ctx, "warm", 8)) // prepares the statements
	for _, n := range []int{2, 8, 32} {
		batch := scheduledGroup(ctx, fmt.Sprint("g", n), n)
		before := rt.Count()
		b.q.commitGroup(batch)
		if got := rt.Count() - before; got != 3 {
			t.Errorf("group of %d: %d round trips, want 3", n, got)
		}
		for _, r := range batch {
			if r.err != nil || r.res.JobID == 0 || r.res.DeliveryID == 0 {
				t.Errorf("group of %d: %s: %+v, %v", n, r.id, r.res, r.err)
			}
		}
		var linked int
		if err := b.db.PgxPool().QueryRow(ctx, `SELECT count(*) FROM inviter_deliveries WHERE identity_id LIKE $1 AND job_id IS NOT NULL`,
			fmt.Sprintf("g%d-%%", n)).Scan(&linked); err != nil {
			t.Fatal(err)
		}
		if linked != n {
			t.Errorf("group of %d: %d deliveries linked to their jobs", n, linked)
		}
	}
}

// scheduledGroup returns a group of n deliveries of new identities whose
// invites are due in an hour: River sends no insert notification for
// scheduled jobs (for jobs due now it adds one, at most once per fetch
// cooldown), so that every group costs the same round trips.
func scheduledGroup(ctx context.Context, name string, n int) []*acceptReq {
	batch := make([]*acceptReq, n)
	for i := range batch {
		ev, raw := event(fmt.Sprintf("%s-%d", name, i))
		opts := AcceptOptions{Source: inviter.SourceEvent, ScheduledAt: time.Now().Add(time.Hour)}
		batch[i] = &acceptReq{ctx: ctx, id: ev.Identity.ID, identity: ev.Identity, raw: raw, receivedAt: time.Now(), opts: opts}
	}
	return batch
}
