package reconcile_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
	"github.com/inviter/inviter/store/storetest"
)

// bundle is what a reconcile test needs: a fake tenant, a client for it, a
// real database and an insert-only queue on it.
type bundle struct {
	tenant *isctest.Server
	client *isc.Client
	db     *store.DB
	q      *queue.Queue
}

func setup(t *testing.T, b storetest.Backend, users int) *bundle {
	t.Helper()
	tenant := isctest.NewServer(isctest.Options{Users: users})
	t.Cleanup(tenant.Close)
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	db := b.Open(t)
	q, err := queue.New(db, queue.Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{tenant: tenant, client: c, db: db, q: q}
}

// jobs returns the invite jobs by identity id.
func (b *bundle) jobs(t *testing.T) map[string]queue.Job {
	t.Helper()
	list, err := b.q.ListJobs(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]queue.Job{}
	for _, j := range list {
		if j.Kind == queue.KindInvite {
			out[j.IdentityID+fmt.Sprintf("#%d", j.Round)] = j
		}
	}
	return out
}

func TestReconcileCatchesMissedAndLeavesBacklog(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, be, 300) // 30 unregistered identities from 30 days ago: the backlog
			fresh := b.tenant.CreateIdentities(6, nil)
			// One was handled already through its event.
			if _, err := b.q.Enqueue(ctx, fresh[0].ID, queue.SourceEvent, nil); err != nil {
				t.Fatal(err)
			}
			r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q}
			rep, err := r.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Listed != 36 || rep.BeforeCutoff != 30 || rep.Known != 1 || rep.Enqueued != 5 {
				t.Errorf("report %+v, want 36 listed, 30 before the cut-off, 1 known, 5 enqueued", rep)
			}
			jobs := b.jobs(t)
			for _, f := range fresh[1:] {
				if j, ok := jobs[f.ID+"#0"]; !ok || j.Source != queue.SourceReconcile {
					t.Errorf("%s: job %+v, want one from reconcile", f.ID, j)
				}
			}
			if len(jobs) != 6 {
				t.Errorf("%d invite jobs, want 6 (the backlog untouched)", len(jobs))
			}
			// A second run finds nothing new.
			rep, err = r.Reconcile(ctx)
			if err != nil || rep.Enqueued != 0 || rep.Known != 6 {
				t.Errorf("second run: %+v, %v", rep, err)
			}
			last, err := b.db.Meta(ctx, reconcile.MetaLastRun)
			if err != nil || last == "" {
				t.Errorf("last run not recorded: %q %v", last, err)
			}
			// --backfill-since widens the cut-off on purpose.
			r.Since = time.Now().Add(-60 * 24 * time.Hour)
			rep, err = r.Reconcile(ctx)
			if err != nil || rep.Enqueued != 30 {
				t.Errorf("backfill: %+v, %v; want the 30 old ones enqueued", rep, err)
			}
		})
	}
}

func TestReconcileAppliesPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, storetest.Backends()[0], 0)
	now := time.Now()
	start := now.Add(30 * 24 * time.Hour).UTC().Format("2006-01-02")
	active := b.tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "active"})
	inactive := b.tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "inactive"})
	prehire := b.tenant.CreateIdentity(isctest.NewIdentity{LifecycleState: "prehire", Attributes: map[string]any{"startDate": start}})
	p, err := policy.New(policy.Config{
		Rules:              []string{"cloudLifecycleState in (active, prehire)"},
		StartDateAttribute: "startDate", InviteDaysBefore: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q, Policy: p, Now: func() time.Time { return now }}
	rep, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Enqueued != 2 || rep.Skipped != 1 || rep.Scheduled != 1 {
		t.Errorf("report %+v, want 2 enqueued (1 scheduled), 1 skipped", rep)
	}
	jobs := b.jobs(t)
	if j := jobs[active.ID+"#0"]; j.State != "available" {
		t.Errorf("active identity: job state %q, want available", j.State)
	}
	j := jobs[prehire.ID+"#0"]
	wantAt := now.Add(23 * 24 * time.Hour)
	if j.State != "scheduled" || j.ScheduledAt.Before(wantAt.Add(-24*time.Hour)) || j.ScheduledAt.After(wantAt.Add(24*time.Hour)) {
		t.Errorf("prehire: job %s at %s, want scheduled about %s (23 days on)", j.State, j.ScheduledAt, wantAt)
	}
	audit, err := b.db.Audit(ctx, inactive.ID, 10)
	if err != nil || len(audit) != 1 || audit[0].Outcome != inviter.OutcomeSkipped || !strings.Contains(audit[0].Reason, "inactive") {
		t.Fatalf("inactive identity's audit %+v, %v; want skipped with the reason", audit, err)
	}
	if _, ok := jobs[inactive.ID+"#0"]; ok {
		t.Error("the filtered-out identity got a job")
	}
}

func TestReinviteOnDaySevenAndFourteenThenStop(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, be, 0)
			stays := b.tenant.CreateIdentity(isctest.NewIdentity{})
			registers := b.tenant.CreateIdentity(isctest.NewIdentity{})
			day0 := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
			invited := func(id string, at time.Time) {
				t.Helper()
				if err := b.db.Record(ctx, store.Decision{
					AuditEntry: store.AuditEntry{IdentityID: id, At: at, Outcome: inviter.OutcomeInvited, API: inviter.APIPublic},
					State:      store.StateInvited,
				}); err != nil {
					t.Fatal(err)
				}
			}
			invited(stays.ID, day0)
			invited(registers.ID, day0)
			b.tenant.Register(registers.ID)

			var now time.Time
			r := &reconcile.Reinviter{ISC: b.client, DB: b.db, Queue: b.q, MaxReinvites: 2, Now: func() time.Time { return now }}
			run := func(day int, wantEnqueued int) {
				t.Helper()
				now = day0.Add(time.Duration(day)*24*time.Hour + 2*time.Hour)
				rep, err := r.Reinvite(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Enqueued != wantEnqueued {
					t.Fatalf("day %d: %+v, want %d enqueued", day, rep, wantEnqueued)
				}
			}
			run(6, 0)
			run(7, 1)
			if rep := b.jobs(t); rep[stays.ID+"#1"].Source != queue.SourceReinvite {
				t.Fatalf("day 7: no re-invite job (round 1) for the unregistered identity: %v", rep)
			}
			run(7, 0) // its job is queued: nothing new
			invited(stays.ID, now.Add(-time.Hour))
			run(13, 0)
			run(14, 1)
			if rep := b.jobs(t); rep[stays.ID+"#2"].Source != queue.SourceReinvite {
				t.Fatal("day 14: no re-invite job (round 2)")
			}
			invited(stays.ID, now.Add(-time.Hour))
			run(21, 0) // two re-invites: it stops
			run(40, 0)

			reg, err := b.db.Identity(ctx, registers.ID)
			if err != nil || reg.State != store.StateSkipped {
				t.Errorf("registered identity: %+v %v, want skipped for good", reg, err)
			}
			var ids []string
			for k := range b.jobs(t) {
				ids = append(ids, k)
			}
			sort.Strings(ids)
			if len(ids) != 2 {
				t.Errorf("jobs %v, want exactly the two re-invites", ids)
			}
		})
	}
}
