package queue

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// otherArgs is a job kind that is not an invite, as a periodic job is.
type otherArgs struct{}

func (otherArgs) Kind() string { return "other" }

// copySource is a SQLite database as a killed daemon leaves it: an invite
// job in each unfinished state, one finished and one cancelled, one whose
// identity was invited meanwhile, and a job of another kind. It returns
// the identity of each job by its role.
func copySource(t *testing.T) (*store.DB, map[string]string) {
	t.Helper()
	ctx := context.Background()
	src := withRiver(storetest.OpenSQLite)(t)
	q, err := New(src, Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	jobOf := map[string]int64{}
	for _, role := range []string{"available", "retryable", "running", "completed", "cancelled", "invited"} {
		ids[role] = "id-" + role
		ev, raw := event(ids[role])
		res, err := q.AcceptDelivery(ctx, ev, raw, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		jobOf[role] = res.JobID
	}
	ids["scheduled"] = "id-scheduled"
	res, err := q.Enqueue(ctx, ids["scheduled"], inviter.SourceCLI, &EnqueueOpts{ScheduledAt: time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	jobOf["scheduled"] = res.JobID
	for role, set := range map[string]string{
		"retryable": `state = 'retryable', attempt = 1, attempted_at = datetime('now', 'subsec'), scheduled_at = datetime('now', '+1 hour', 'subsec')`,
		"running":   `state = 'running', attempt = 1, attempted_at = datetime('now', '-1 minute', 'subsec'), attempted_by = '["killed"]'`,
		"completed": `state = 'completed', attempt = 1, attempted_at = datetime('now', 'subsec'), finalized_at = datetime('now', 'subsec')`,
		"cancelled": `state = 'cancelled', attempt = 1, attempted_at = datetime('now', 'subsec'), finalized_at = datetime('now', 'subsec')`,
	} {
		if _, err := src.SQLDB().ExecContext(ctx, `UPDATE river_job SET `+set+` WHERE id = $1`, jobOf[role]); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Record(ctx, store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{
		IdentityID: ids["invited"], Outcome: inviter.OutcomeInvited, API: inviter.APIPublic}}); err != nil {
		t.Fatal(err)
	}
	r, err := riverFor(src)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.client(&river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.InTx(ctx, func(tx *store.Tx) error {
		_, err := c.insertManyTx(ctx, tx, []river.InsertManyParams{{Args: otherArgs{}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return src, ids
}

// TestCopy copies the unfinished invite jobs with inviter's tables, into
// SQLite and, when INVITER_TEST_POSTGRES_URL is set, PostgreSQL: the same
// arguments with the delivery id mapped, the same times for scheduled and
// retryable jobs, running ones made available; finished ones, those whose
// identity was invited and other kinds are left out. A second copy queues
// nothing twice.
func TestCopy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		src, ids := copySource(t)
		srcRiver, err := riverFor(src)
		if err != nil {
			t.Fatal(err)
		}
		srcClient, err := srcRiver.client(&river.Config{})
		if err != nil {
			t.Fatal(err)
		}
		srcJobs := jobsByIdentity(t, srcClient)
		dst := open(t)

		res, err := Copy(ctx, dst, src, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := map[rivertype.JobState]int{rivertype.JobStateAvailable: 1, rivertype.JobStateScheduled: 1,
			rivertype.JobStateRetryable: 1, rivertype.JobStateRunning: 1}
		if res.Jobs != 4 || len(res.JobsByState) != len(want) || res.AlreadyInvited != 1 || res.OtherKinds != 1 ||
			res.AlreadyQueued != 0 || res.Identities != 7 || res.Deliveries != 6 {
			t.Errorf("Copy = %+v", res)
		}
		for s, n := range want {
			if res.JobsByState[s] != n {
				t.Errorf("JobsByState[%s] = %d, want %d", s, res.JobsByState[s], n)
			}
		}

		r, err := riverFor(dst)
		if err != nil {
			t.Fatal(err)
		}
		dstClient, err := r.client(&river.Config{})
		if err != nil {
			t.Fatal(err)
		}
		got := jobsByIdentity(t, dstClient)
		if len(got) != 4 {
			t.Fatalf("destination jobs for %d identities, want the 4 unfinished ones", len(got))
		}
		deliveries, err := dst.Deliveries(ctx, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		deliveryOf := map[string]store.Delivery{}
		for _, d := range deliveries {
			deliveryOf[d.IdentityID] = d
		}
		for _, role := range []string{"available", "scheduled", "retryable", "running"} {
			j := got[ids[role]]
			if j == nil {
				t.Errorf("%s: not copied", role)
				continue
			}
			var a InviteArgs
			if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
				t.Fatal(err)
			}
			if d := deliveryOf[a.IdentityID]; role != "scheduled" && (a.DeliveryID != d.ID || d.JobID != j.ID) {
				t.Errorf("%s: job %d names delivery %d; delivery %d names job %d", role, j.ID, a.DeliveryID, d.ID, d.JobID)
			}
			wantState := rivertype.JobStateAvailable
			if role == "scheduled" || role == "retryable" {
				wantState = rivertype.JobStateScheduled
				if s := srcJobs[ids[role]]; !j.ScheduledAt.Equal(s.ScheduledAt) {
					t.Errorf("%s: scheduled at %v, want the source's %v", role, j.ScheduledAt, s.ScheduledAt)
				}
			}
			if j.State != wantState {
				t.Errorf("%s: copied as %s, want %s", role, j.State, wantState)
			}
		}
		for _, role := range []string{"completed", "cancelled", "invited"} {
			if got[ids[role]] != nil {
				t.Errorf("%s: copied, want left out", role)
			}
			if d := deliveryOf[ids[role]]; d.JobID != 0 {
				t.Errorf("%s: its delivery names job %d in the destination, want none", role, d.JobID)
			}
		}

		again, err := Copy(ctx, dst, src, time.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if again.AlreadyQueued != 4 || len(jobsByIdentity(t, dstClient)) != 4 {
			t.Errorf("second Copy = %+v, want the 4 jobs already queued and no new one", again)
		}
	})
}

// jobsByIdentity returns every invite job by its identity id.
func jobsByIdentity(t *testing.T, c backend) map[string]*rivertype.JobRow {
	t.Helper()
	page, err := c.jobList(context.Background(), river.NewJobListParams().Kinds(KindInvite).First(100))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*rivertype.JobRow{}
	for _, j := range page.Jobs {
		var a InviteArgs
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			t.Fatal(err)
		}
		out[a.IdentityID] = j
	}
	return out
}

// TestCheckNoLeader: an unexpired River leadership is reported with its
// holder and expiry; an expired one, or none, is not.
func TestCheckNoLeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := withRiver(storetest.OpenSQLite)(t)
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	if err := CheckNoLeader(ctx, db, now); err != nil {
		t.Fatalf("no leader: %v", err)
	}
	if _, err := db.SQLDB().ExecContext(ctx, `INSERT INTO river_leader (elected_at, expires_at, leader_id, name)
		VALUES ('2026-12-02 00:59:50.000', '2026-12-02 01:00:05.000', 'host_1', 'default')`); err != nil {
		t.Fatal(err)
	}
	err := CheckNoLeader(ctx, db, now)
	le, ok := errors.AsType[*LeaderError](err)
	if !ok || le.LeaderID != "host_1" || le.Until != "2026-12-02 01:00:05.000" {
		t.Errorf("leader held: err = %v, want a LeaderError naming host_1 until 01:00:05", err)
	}
	if err := CheckNoLeader(ctx, db, now.Add(10*time.Second)); err != nil {
		t.Errorf("leadership expired: %v", err)
	}
}
