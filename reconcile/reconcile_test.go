package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isc"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/policy"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/reconcile"
	"github.com/inviter/inviter/store"
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
	return setupWith(t, b, isctest.Options{Users: users})
}

// noSearch are the scopes of a token that may list identities but not
// search.
var noSearch = []string{isctest.ScopeIdentityRead, isctest.ScopeInvite, isctest.ScopeTaskRead}

func setupWith(t *testing.T, b storetest.Backend, opts isctest.Options) *bundle {
	t.Helper()
	tenant := isctest.NewServer(opts)
	t.Cleanup(tenant.Close)
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(), RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	db := b.Open(t)
	if err := queue.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
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
		for _, mode := range []string{reconcile.SourceSearch, reconcile.SourceList} {
			t.Run(be.Name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				opts := isctest.Options{Users: 300} // 30 unregistered identities from 30 days ago: the backlog
				if mode == reconcile.SourceList {
					opts.Scopes = noSearch
				}
				b := setupWith(t, be, opts)
				fresh := b.tenant.CreateIdentities(6, nil)
				// One was handled already through its event.
				if _, err := b.q.Enqueue(ctx, fresh[0].ID, inviter.SourceEvent, nil); err != nil {
					t.Fatal(err)
				}
				logs := &warnings{}
				r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q, Logger: slog.New(logs)}
				rep, err := r.Reconcile(ctx)
				if err != nil {
					t.Fatal(err)
				}
				// The search never sees the backlog; the list sees it and
				// leaves it alone.
				wantListed, wantBefore := 6, 0
				if mode == reconcile.SourceList {
					wantListed, wantBefore = 36, 30
				}
				if rep.Source != mode || rep.Listed != wantListed || rep.BeforeCutoff != wantBefore || rep.Known != 1 || rep.Enqueued != 5 {
					t.Errorf("report %+v, want source %s, %d listed, %d before the cut-off, 1 known, 5 enqueued", rep, mode, wantListed, wantBefore)
				}
				jobs := b.jobs(t)
				for _, f := range fresh[1:] {
					if j, ok := jobs[f.ID+"#0"]; !ok || j.Source != inviter.SourceReconcile {
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
				// The fallback to the list is said once, not every run.
				if n, want := logs.count("reconcile cannot search"), map[string]int{reconcile.SourceList: 1}[mode]; n != want {
					t.Errorf("%d warnings about the fallback over 3 runs, want %d", n, want)
				}
			})
		}
	}
}

// TestReconcileCostsWhatIsNew: one run on a tenant with 100,000
// unregistered identities, 10 of them new, costs at most 3 calls when it
// may search; listed in full it costs one call per 250.
func TestReconcileCostsWhatIsNew(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("creates 100,000 identities")
	}
	const old, fresh = 100_000, 10
	ctx := context.Background()
	b := setupWith(t, storetest.Backends()[0], isctest.Options{RateLimit: -1})
	monthAgo := time.Now().Add(-30 * 24 * time.Hour)
	b.tenant.CreateIdentities(old, func(int) isctest.NewIdentity { return isctest.NewIdentity{Created: monthAgo} })
	want := map[string]bool{}
	for _, id := range b.tenant.CreateIdentities(fresh, nil) {
		want[id.ID] = true
	}

	r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q}
	b.tenant.ResetCalls()
	rep, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls := b.tenant.CallCount("")
	t.Logf("search: %d calls (%d search, %d token) for %d unregistered identities, %d new: %s",
		calls, b.tenant.CallCount(isc.SearchEndpoint), b.tenant.CallCount("POST /oauth/token"), old+fresh, fresh, rep)
	if calls > 3 {
		t.Errorf("%d calls, want at most 3", calls)
	}
	if rep.Source != reconcile.SourceSearch || rep.Enqueued != fresh || rep.Listed != fresh {
		t.Errorf("report %+v, want the %d new ones found by search and enqueued", rep, fresh)
	}
	for id := range b.jobs(t) {
		if !want[strings.TrimSuffix(id, "#0")] {
			t.Errorf("job for %s, which is not new", id)
		}
	}

	// The next run starts from the last one, less the overlap: one more
	// joiner costs one search call.
	joiner := b.tenant.CreateIdentity(isctest.NewIdentity{})
	b.tenant.ResetCalls()
	rep, err = r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := b.tenant.CallCount(""); n > 2 || rep.Enqueued != 1 || rep.Known != fresh {
		t.Errorf("second run: %d calls, %+v; want 1 search call, the joiner enqueued, the %d known", n, rep, fresh)
	}
	if _, ok := b.jobs(t)[joiner.ID+"#0"]; !ok {
		t.Error("the joiner got no job")
	}

}

// TestReconcileListFallbackCost: a token without search rights falls back
// to the list, which costs what exists: one call per 250 unregistered
// identities (10,000 here; the fake's list filter is linear, so 100,000
// would make the test slow without showing more).
func TestReconcileListFallbackCost(t *testing.T) {
	t.Parallel()
	const old, fresh = 10_000, 10
	ctx := context.Background()
	limitedClient := isctest.Client{ID: "no-search", Secret: "no-search-secret-0123", Scopes: noSearch}
	b := setupWith(t, storetest.Backends()[0], isctest.Options{Clients: []isctest.Client{limitedClient}, RateLimit: -1})
	monthAgo := time.Now().Add(-30 * 24 * time.Hour)
	b.tenant.CreateIdentities(old, func(int) isctest.NewIdentity { return isctest.NewIdentity{Created: monthAgo} })
	b.tenant.CreateIdentities(fresh, nil)
	r := &reconcile.Reconciler{ISC: clientWith(t, b.tenant, limitedClient), DB: b.db, Queue: b.q}
	b.tenant.ResetCalls()
	rep, err := r.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lists := b.tenant.CallCount("GET /v2025/identities")
	t.Logf("list fallback: %d calls (%d search refused, %d list, %d token): %s", b.tenant.CallCount(""),
		b.tenant.CallCount(isc.SearchEndpoint), lists, b.tenant.CallCount("POST /oauth/token"), rep)
	if wantLists := (old+fresh)/isc.ListPageSize + 1; rep.Source != reconcile.SourceList || lists != wantLists || rep.Enqueued != fresh {
		t.Errorf("fallback: %d list calls, %+v; want %d list calls and the %d new enqueued", lists, rep, wantLists, fresh)
	}
	if n := b.tenant.CallCount(isc.SearchEndpoint); n != 1 {
		t.Errorf("%d search calls, want 1 (refused, then the list)", n)
	}
}

// clientWith returns a client of tenant with the credentials of cl.
func clientWith(t *testing.T, tenant *isctest.Server, cl isctest.Client) *isc.Client {
	t.Helper()
	c, err := isc.New(context.Background(), isc.Config{BaseURL: tenant.URL(), ClientID: cl.ID, ClientSecret: cl.Secret, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// warnings records the messages of WARN and ERROR records.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) count(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

func TestReconcileSearchWindowAndCutoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, storetest.Backends()[0], 0)
	now := time.Now()
	cutoff := now.Add(-48 * time.Hour)
	r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q, Since: cutoff, SearchOverlap: time.Hour, Now: func() time.Time { return now }}
	run := func(what string, want time.Time) {
		t.Helper()
		rep, err := r.Reconcile(ctx)
		if err != nil || rep.Source != reconcile.SourceSearch || !rep.Since.Equal(want) {
			t.Errorf("%s: %+v, %v; want a search from %s", what, rep, err, want)
		}
	}
	run("first run", cutoff)
	now = now.Add(3 * time.Hour)
	run("three hours on: an hour before the last run", now.Add(-4*time.Hour))
	r.Since = cutoff.Add(-48 * time.Hour)
	run("a new cut-off (--backfill-since)", r.Since)
	now = now.Add(30 * time.Minute)
	run("half an hour on", now.Add(-90*time.Minute))
	r.SearchOverlap = 1000 * time.Hour
	run("a window reaching before the cut-off", r.Since)
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
					State:      inviter.StateInvited,
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
			if rep := b.jobs(t); rep[stays.ID+"#1"].Source != inviter.SourceReinvite {
				t.Fatalf("day 7: no re-invite job (round 1) for the unregistered identity: %v", rep)
			}
			run(7, 0) // its job is queued: nothing new
			invited(stays.ID, now.Add(-time.Hour))
			run(13, 0)
			run(14, 1)
			if rep := b.jobs(t); rep[stays.ID+"#2"].Source != inviter.SourceReinvite {
				t.Fatal("day 14: no re-invite job (round 2)")
			}
			invited(stays.ID, now.Add(-time.Hour))
			run(21, 0) // two re-invites: it stops
			run(40, 0)

			reg, err := b.db.Identity(ctx, registers.ID)
			if err != nil || reg.State != inviter.StateSkipped {
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

// TestReconcileReevaluatesStatusSkips: an identity skipped for the status
// ISC showed then (WARNING) is invited once it shows as unregistered; one
// skipped by the policy is decided again on what ISC shows now: invited
// when it matches now, left alone (and not recorded again) when it still
// does not.
func TestReconcileReevaluatesStatusSkips(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{reconcile.SourceSearch, reconcile.SourceList} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := isctest.Options{}
			if mode == reconcile.SourceList {
				opts.Scopes = noSearch
			}
			b := setupWith(t, storetest.Backends()[0], opts)
			pol, err := policy.New(policy.Config{Rules: []string{"department not in (sales)"}})
			if err != nil {
				t.Fatal(err)
			}
			was := b.tenant.CreateIdentity(isctest.NewIdentity{Department: "Finance"})
			byPolicy := b.tenant.CreateIdentity(isctest.NewIdentity{Department: "Sales"})
			movedOn := b.tenant.CreateIdentity(isctest.NewIdentity{Department: "Finance"})
			_, statusReason := inviter.ClassifyStatus("WARNING")
			policyReason := pol.Decide(map[string]any{"department": "Sales"}, time.Now()).Reason
			for id, reason := range map[string]string{was.ID: statusReason, byPolicy.ID: policyReason, movedOn.ID: policyReason} {
				if err := b.db.Record(ctx, store.Decision{
					AuditEntry: store.AuditEntry{IdentityID: id, At: time.Now(), Outcome: inviter.OutcomeSkipped, Reason: reason, Source: inviter.SourceEvent},
					State:      inviter.StateSkipped,
				}); err != nil {
					t.Fatal(err)
				}
			}
			r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q, Policy: pol}
			rep, err := r.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			jobs := b.jobs(t)
			_, wasJob := jobs[was.ID+"#0"]
			_, movedJob := jobs[movedOn.ID+"#0"]
			if !wasJob || !movedJob || rep.Enqueued != 2 || rep.Skipped != 1 {
				t.Errorf("report %+v, jobs %v; want the identities skipped for their status and by a rule they now pass enqueued, the one still failing it left alone", rep, jobs)
			}
			if _, ok := jobs[byPolicy.ID+"#0"]; ok {
				t.Error("the identity the policy still skips got a job")
			}
			if audit, err := b.db.Audit(ctx, byPolicy.ID, 10); err != nil || len(audit) != 1 {
				t.Errorf("audit of the identity still skipped: %+v %v; want its one skip, not recorded again", audit, err)
			}
			if run, err := b.db.ReconcileRun(ctx); err != nil || run.Enqueued != 2 || run.Err != "" {
				t.Errorf("recorded run %+v, %v; want 2 enqueued, no error", run, err)
			}
		})
	}
}

// TestReconcileRetriesTransientFailures: identities failed on a transient
// error or a configuration problem (an outage longer than the give-up age),
// and dead letters from before error kinds, are enqueued again; a
// permanent failure is not.
func TestReconcileRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, be, 10)
			fail := func(id string, kind store.ErrorKind, reason string) {
				t.Helper()
				if err := b.db.Record(ctx, store.Decision{AuditEntry: store.AuditEntry{IdentityID: id, Outcome: inviter.OutcomeFailed,
					Reason: reason, ErrorKind: kind, Source: inviter.SourceEvent}, State: inviter.StateFailed}); err != nil {
					t.Fatal(err)
				}
			}
			fail("outage", store.ErrorKindTransient, "giving up after 168h0m0s of failures (limit 168h0m0s): ISC answered 503")
			fail("creds", store.ErrorKindConfig, "giving up after 168h0m0s of failures (limit 168h0m0s): ISC refused inviter's credentials (401)")
			fail("old", "", "giving up after 26 attempts: invite: ISC answered 503")
			fail("nomail", store.ErrorKindPermanent, "ISC could not invite this identity: no email address")
			r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q}
			rep, err := r.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Retried != 3 || !strings.Contains(rep.String(), "3 failed on a transient error enqueued again") {
				t.Errorf("report %+v (%s), want 3 retried", rep, rep)
			}
			jobs := b.jobs(t)
			for _, id := range []string{"outage", "creds", "old"} {
				if j, ok := jobs[id+"#0"]; !ok || j.Source != inviter.SourceReconcile {
					t.Errorf("%s: job %+v, want one from reconcile", id, j)
				}
			}
			if _, ok := jobs["nomail#0"]; ok {
				t.Error("a permanent failure was enqueued again")
			}
			// Their jobs are queued: a second run adds nothing.
			if rep, err := r.Reconcile(ctx); err != nil || rep.Retried != 0 {
				t.Errorf("second run: %+v, %v", rep, err)
			}
		})
	}
}

// TestReconcileCatchesWhatSearchShowsLate: a joiner that the search index
// shows only an hour after its creation, and after every search-status
// shape of the documents, is found by the next run (its window overlaps
// the last one).
func TestReconcileCatchesWhatSearchShowsLate(t *testing.T) {
	t.Parallel()
	for name, mode := range map[string]isctest.SearchStatusMode{"both": isctest.SearchStatusBoth, "status": isctest.SearchStatusField, "attribute": isctest.SearchStatusAttribute} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			b := setupWith(t, storetest.Backends()[0], isctest.Options{SearchDelay: time.Hour, SearchStatus: mode, Now: clock})
			joiner := b.tenant.CreateIdentity(isctest.NewIdentity{})
			r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q, Since: now.Add(-time.Minute), Now: clock}
			if rep, err := r.Reconcile(ctx); err != nil || rep.Enqueued != 0 {
				t.Fatalf("first run: %+v, %v; want nothing yet (the index lags)", rep, err)
			}
			mu.Lock()
			now = now.Add(2 * time.Hour)
			mu.Unlock()
			rep, err := r.Reconcile(ctx)
			if err != nil || rep.Source != reconcile.SourceSearch || rep.Enqueued != 1 {
				t.Fatalf("second run: %+v, %v; want the joiner found by search", rep, err)
			}
			if _, ok := b.jobs(t)[joiner.ID+"#0"]; !ok {
				t.Error("the joiner got no job")
			}
		})
	}
}

// TestReconcileInvitesWhatWasNotVisibleInTime: an identity whose job gave
// up because ISC did not show it within the visibility window is not lost
// with its event: once ISC lists it, reconcile enqueues it again (also for
// a row recorded before the not-found error kind existed); an identity ISC
// refused stays failed.
func TestReconcileInvitesWhatWasNotVisibleInTime(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, be, 10)
			fresh := b.tenant.CreateIdentities(3, nil)
			fail := func(id string, kind store.ErrorKind, reason string) {
				t.Helper()
				if err := b.db.Record(ctx, store.Decision{AuditEntry: store.AuditEntry{IdentityID: id, Outcome: inviter.OutcomeNotFound,
					Reason: reason, ErrorKind: kind, Source: inviter.SourceEvent}, State: inviter.StateFailed}); err != nil {
					t.Fatal(err)
				}
			}
			fail(fresh[0].ID, store.ErrorKindNotFound, "ISC does not list this identity (yet); still not found 10m0s after the event; giving up")
			fail(fresh[1].ID, store.ErrorKindPermanent, "ISC does not list this identity (yet); still not found 10m0s after the event; giving up")
			fail(fresh[2].ID, store.ErrorKindPermanent, "ISC could not invite this identity: no email address")
			r := &reconcile.Reconciler{ISC: b.client, DB: b.db, Queue: b.q}
			rep, err := r.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Enqueued != 2 || rep.Refound != 2 || rep.Known != 1 {
				t.Errorf("report %+v, want 2 enqueued (both not visible in time before), 1 known", rep)
			}
			jobs := b.jobs(t)
			for _, f := range fresh[:2] {
				if j, ok := jobs[f.ID+"#0"]; !ok || j.Source != inviter.SourceReconcile {
					t.Errorf("%s: job %+v, want one from reconcile", f.ID, j)
				}
			}
			if _, ok := jobs[fresh[2].ID+"#0"]; ok {
				t.Error("an identity ISC refused was enqueued again")
			}
			// Their jobs are queued: a second run adds nothing.
			if rep, err := r.Reconcile(ctx); err != nil || rep.Enqueued != 0 || rep.Refound != 0 {
				t.Errorf("second run: %+v, %v", rep, err)
			}
		})
	}
}
