package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/admission"
	"github.com/inviter/inviter/internal/metrics"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// fakeInviter is an Inviter whose behaviour is its function field; it
// records every call.
type fakeInviter struct {
	InviteFunc func(ctx context.Context, call int, ids []string) []inviter.Result

	mu    sync.Mutex
	calls [][]string
}

func (f *fakeInviter) Invite(ctx context.Context, ids []string) []inviter.Result {
	f.mu.Lock()
	f.calls = append(f.calls, append([]string(nil), ids...))
	n := len(f.calls)
	f.mu.Unlock()
	if f.InviteFunc == nil {
		return resultsFor(ids, func(string) inviter.Result { return inviter.Result{Outcome: inviter.OutcomeInvited, TaskID: "task"} })
	}
	return f.InviteFunc(ctx, n, ids)
}

func (f *fakeInviter) Calls() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.calls...)
}

// resultsFor builds one Result per id with fn, filling IdentityID and API.
func resultsFor(ids []string, fn func(id string) inviter.Result) []inviter.Result {
	out := make([]inviter.Result, len(ids))
	for i, id := range ids {
		r := fn(id)
		r.IdentityID = id
		r.API = inviter.APIPublic
		out[i] = r
	}
	return out
}

type testBundle struct {
	db  *store.DB
	q   *Queue
	inv *fakeInviter
	reg *prometheus.Registry
	m   *metrics.Metrics
}

// setup returns a migrated database of the backend, a fake Inviter and a
// Queue (not started) with small windows and backoffs; tweak adjusts the
// config. The queue is stopped at cleanup.
func setup(t *testing.T, open func(testing.TB) *store.DB, tweak func(*Config)) *testBundle {
	t.Helper()
	b := &testBundle{db: open(t), inv: &fakeInviter{}, reg: prometheus.NewRegistry()}
	b.m = metrics.New(b.reg)
	cfg := Config{
		BatchSize:         10,
		BatchWindow:       20 * time.Millisecond,
		RetryBackoff:      20 * time.Millisecond,
		RetryBackoffMax:   100 * time.Millisecond,
		JobTimeout:        10 * time.Second,
		fetchPollInterval: 20 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	q, err := New(b.db, cfg, b.inv, b.m, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.q = q
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return b
}

func (b *testBundle) start(t *testing.T) {
	t.Helper()
	if err := b.q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sumJobs is the number of River jobs in every state.
func sumJobs(jobs map[string]int64) int64 {
	var n int64
	for _, c := range jobs {
		n += c
	}
	return n
}

func (b *testBundle) identity(t *testing.T, id string) store.Identity {
	t.Helper()
	i, err := b.db.Identity(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func (b *testBundle) waitState(t *testing.T, id string, want inviter.InviteState) store.Identity {
	t.Helper()
	var i store.Identity
	waitFor(t, fmt.Sprintf("%s to be %s", id, want), func() bool {
		i = b.identity(t, id)
		return i.State == want
	})
	return i
}

// waitJob waits until the only invite job is in state and returns it.
func (b *testBundle) waitJob(t *testing.T, state string) Job {
	t.Helper()
	var j Job
	waitFor(t, "job state "+state, func() bool {
		jobs, err := b.q.ListJobs(context.Background(), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 1 {
			return false
		}
		j = jobs[0]
		return j.State == state
	})
	return j
}

// auditOldestFirst returns id's audit trail in the order it was written.
func (b *testBundle) auditOldestFirst(t *testing.T, id string) []store.AuditEntry {
	t.Helper()
	rows, err := b.q.Audit(context.Background(), id, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows
}

func event(id string) (inviter.IdentityCreated, []byte) {
	raw := fmt.Sprintf(`{"identity":{"type":"IDENTITY","id":%q,"name":"N %s"},"attributes":{"email":"x@example.com"}}`, id, id)
	ev, err := inviter.ParseIdentityCreated([]byte(raw))
	if err != nil {
		panic(err)
	}
	return ev, []byte(raw)
}

// forEachBackend runs test on SQLite, and on PostgreSQL when
// INVITER_TEST_POSTGRES_URL is set.
func forEachBackend(t *testing.T, test func(t *testing.T, open func(testing.TB) *store.DB)) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			t.Parallel()
			test(t, withRiver(be.Open))
		})
	}
}

func TestBatchingCoalescesConcurrentJobs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, func(c *Config) {
			c.BatchSize = 100
			c.BatchWindow = 5 * time.Second // only a full batch flushes within the test
		})
		if b.q.cfg.MaxWorkers != 1000 {
			t.Errorf("default MaxWorkers = %d, want 10*BatchSize = 1000", b.q.cfg.MaxWorkers)
		}
		ctx := context.Background()
		for n := range 200 {
			if _, err := b.q.Enqueue(ctx, fmt.Sprintf("id%03d", n), inviter.SourceReconcile, nil); err != nil {
				t.Fatal(err)
			}
		}
		b.start(t)
		waitFor(t, "200 invited", func() bool {
			s, err := b.q.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The metric is counted just after the outcome's commit.
			return s.Identities[inviter.StateInvited] == 200 &&
				testutil.ToFloat64(b.m.Invites.WithLabelValues("invited", "public")) == 200
		})
		calls := b.inv.Calls()
		if len(calls) != 2 || len(calls[0]) != 100 || len(calls[1]) != 100 {
			sizes := make([]int, len(calls))
			for i, c := range calls {
				sizes[i] = len(c)
			}
			t.Errorf("Invite call sizes = %v, want [100 100]", sizes)
		}
		audit, _ := b.q.Audit(ctx, "id007", 10)
		if len(audit) != 1 || audit[0].BatchID == "" || audit[0].Outcome != inviter.OutcomeInvited || audit[0].Source != inviter.SourceReconcile {
			t.Errorf("audit of id007 = %+v", audit)
		}
		if got := testutil.ToFloat64(b.m.Invites.WithLabelValues("invited", "public")); got != 200 {
			t.Errorf("inviter_invites_total{invited,public} = %v, want 200", got)
		}
		if n := testutil.CollectAndCount(b.m.BatchSize); n != 1 {
			t.Errorf("batch size histogram series = %d", n)
		}
	})
}

func TestRateLimitedSnoozes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		b.inv.InviteFunc = func(_ context.Context, call int, ids []string) []inviter.Result {
			return resultsFor(ids, func(string) inviter.Result {
				if call <= 2 {
					return inviter.Result{Outcome: inviter.OutcomeFailed, Reason: "rate limited",
						Err: &rateLimitedError{wait: 50 * time.Millisecond}}
				}
				return inviter.Result{Outcome: inviter.OutcomeInvited}
			})
		}
		ev, raw := event("id1")
		if _, err := b.q.AcceptDelivery(context.Background(), ev, raw, time.Now()); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		b.waitState(t, "id1", inviter.StateInvited)
		job := b.waitJob(t, "completed")
		if job.Attempt != 1 {
			t.Errorf("job attempt = %d after two snoozes, want 1 (snoozes do not use attempts)", job.Attempt)
		}
		audit := b.auditOldestFirst(t, "id1")
		if len(audit) != 3 {
			t.Fatalf("audit = %+v, want 2 snoozes and 1 invite", audit)
		}
		for i, a := range audit[:2] {
			if a.Outcome != inviter.OutcomeRetrying || a.Reason != "rate limited, retry in 50ms" || a.Attempt != 1 {
				t.Errorf("audit[%d] = %+v", i, a)
			}
		}
		if audit[2].Outcome != inviter.OutcomeInvited || audit[2].Attempt != 1 {
			t.Errorf("audit[2] = %+v", audit[2])
		}
	})
}

func TestTransientRetriesThenSucceeds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		b.inv.InviteFunc = func(_ context.Context, call int, ids []string) []inviter.Result {
			return resultsFor(ids, func(string) inviter.Result {
				if call <= 2 {
					return inviter.Result{Outcome: inviter.OutcomeFailed,
						Err: &inviter.TransientError{Op: "invite", Err: errors.New("503 service unavailable")}}
				}
				return inviter.Result{Outcome: inviter.OutcomeInvited, TaskID: "t-9"}
			})
		}
		if _, err := b.q.Enqueue(context.Background(), "id1", inviter.SourceCLI, nil); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		i := b.waitState(t, "id1", inviter.StateInvited)
		if i.InviteCount != 1 || i.TaskID != "t-9" {
			t.Errorf("identity = %+v", i)
		}
		job := b.waitJob(t, "completed")
		if job.Attempt != 1 || job.LastError != "" {
			t.Errorf("job attempt = %d, last error %q; want 1 and none (ISC's failures snooze, using no attempt)", job.Attempt, job.LastError)
		}
		audit := b.auditOldestFirst(t, "id1")
		if len(audit) != 3 || !strings.Contains(audit[0].Reason, "503") || !strings.Contains(audit[0].Reason, "; retry in ") ||
			audit[0].ErrorKind != store.ErrorKindTransient || audit[2].Outcome != inviter.OutcomeInvited || audit[2].ErrorKind != "" {
			t.Errorf("audit = %+v", audit)
		}
	})
}

func TestPermanentErrorCancels(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		b.inv.InviteFunc = func(_ context.Context, _ int, ids []string) []inviter.Result {
			return resultsFor(ids, func(string) inviter.Result {
				return inviter.Result{Outcome: inviter.OutcomeFailed,
					Err: &permanentError{status: 403, msg: "insufficient scope"}}
			})
		}
		if _, err := b.q.Enqueue(context.Background(), "id1", inviter.SourceCLI, nil); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		i := b.waitState(t, "id1", inviter.StateFailed)
		job := b.waitJob(t, "cancelled")
		if job.Attempt != 1 || !strings.Contains(job.LastError, "insufficient scope") {
			t.Errorf("job = %+v", job)
		}
		audit := b.auditOldestFirst(t, "id1")
		if len(audit) != 1 || audit[0].Outcome != inviter.OutcomeFailed || !strings.Contains(audit[0].Reason, "403") ||
			!strings.Contains(audit[0].Reason, "insufficient scope") || i.LastReason != audit[0].Reason {
			t.Errorf("audit = %+v, identity = %+v", audit, i)
		}
		if calls := b.inv.Calls(); len(calls) != 1 {
			t.Errorf("Invite called %d times, want 1", len(calls))
		}

		// A dead letter is replayable.
		b.inv.InviteFunc = nil
		if _, err := b.q.RetryJob(context.Background(), job.ID); err != nil {
			t.Fatal(err)
		}
		b.waitState(t, "id1", inviter.StateInvited)
	})
}

func TestNotFoundRetriedUntilVisible(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		var mu sync.Mutex
		visible := false
		b.inv.InviteFunc = func(_ context.Context, call int, ids []string) []inviter.Result {
			mu.Lock()
			defer mu.Unlock()
			if call == 3 {
				visible = true // the tenant's lists caught up
			}
			return resultsFor(ids, func(string) inviter.Result {
				if !visible {
					return inviter.Result{Outcome: inviter.OutcomeNotFound, Reason: "not in /cc/api/user/list"}
				}
				return inviter.Result{Outcome: inviter.OutcomeInvited}
			})
		}
		ev, raw := event("id1")
		if _, err := b.q.AcceptDelivery(context.Background(), ev, raw, time.Now()); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		b.waitState(t, "id1", inviter.StateInvited)
		audit := b.auditOldestFirst(t, "id1")
		if len(audit) != 3 || audit[0].Outcome != inviter.OutcomeNotFound || !strings.Contains(audit[0].Reason, "retrying") ||
			audit[2].Outcome != inviter.OutcomeInvited {
			t.Errorf("audit = %+v", audit)
		}
		if got := testutil.CollectAndCount(b.m.EventToInvite); got != 1 {
			t.Errorf("event-to-invite series = %d", got)
		}
	})
}

func TestNotFoundPastWindowCancels(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, func(c *Config) { c.NotFoundWindow = time.Minute })
		b.inv.InviteFunc = func(_ context.Context, _ int, ids []string) []inviter.Result {
			return resultsFor(ids, func(string) inviter.Result { return inviter.Result{Outcome: inviter.OutcomeNotFound} })
		}
		_, err := b.q.Enqueue(context.Background(), "id1", inviter.SourceReconcile, &EnqueueOpts{EventAt: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		b.start(t)
		i := b.waitState(t, "id1", inviter.StateFailed)
		b.waitJob(t, "cancelled")
		if !strings.Contains(i.LastReason, "giving up") {
			t.Errorf("identity = %+v", i)
		}
	})
}

func TestAcceptDeliveryDuplicate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		ctx := context.Background()
		ev, raw := event("id1")
		first, err := b.q.AcceptDelivery(ctx, ev, raw, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		second, err := b.q.AcceptDelivery(ctx, ev, raw, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if first.Duplicate || !second.Duplicate || first.JobID == 0 || second.JobID != first.JobID || second.DeliveryID == first.DeliveryID {
			t.Errorf("first = %+v, second = %+v", first, second)
		}
		b.start(t)
		b.waitState(t, "id1", inviter.StateInvited)
		third, err := b.q.AcceptDelivery(ctx, ev, raw, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !third.Duplicate || third.JobID != 0 {
			t.Errorf("after invite: %+v, want duplicate without job", third)
		}
		// Exact drain: once the only job there is has completed, no invite
		// can follow.
		waitFor(t, "the invite job to complete", func() bool {
			jobs, err := b.db.CountJobs(ctx)
			return err == nil && jobs["completed"] == 1
		})
		jobs, err := b.db.CountJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := sumJobs(jobs); n != 1 {
			t.Errorf("jobs %v, want only the first delivery's", jobs)
		}
		if calls := b.inv.Calls(); len(calls) != 1 || len(calls[0]) != 1 {
			t.Errorf("Invite calls = %v, want one call for id1", calls)
		}
		ds, err := b.db.Deliveries(ctx, "id1", 10)
		if err != nil || len(ds) != 3 {
			t.Fatalf("deliveries = %d, %v; want 3", len(ds), err)
		}
		if ds[2].JobID != first.JobID || ds[1].JobID != first.JobID || ds[0].JobID != 0 || string(ds[0].Payload) != string(raw) {
			t.Errorf("deliveries = %+v", ds)
		}
	})
}

func TestAcceptDeliveryFailureLeavesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		ctx := context.Background()
		boom := errors.New("disk on fire")
		b.q.testAfterInsert = func() error { return boom }
		ev, raw := event("id1")
		if _, err := b.q.AcceptDelivery(ctx, ev, raw, time.Now()); !errors.Is(err, boom) {
			t.Fatalf("AcceptDelivery err = %v, want boom", err)
		}
		s, err := b.q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := b.q.ListJobs(ctx, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if s.Deliveries != 0 || s.Identities[inviter.StatePending] != 0 || len(jobs) != 0 {
			t.Errorf("after a failed accept: stats %+v, jobs %+v", s, jobs)
		}
		// The queue still works after the rollback.
		b.q.testAfterInsert = nil
		if _, err := b.q.AcceptDelivery(ctx, ev, raw, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := b.q.AcceptDelivery(ctx, inviter.IdentityCreated{}, nil, time.Now()); !errors.Is(err, inviter.ErrInvalidEvent) {
			t.Errorf("AcceptDelivery without id: err = %v", err)
		}
	})
}

func TestAlreadyInvitedIsSkipped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		ctx := context.Background()
		if _, err := b.q.Enqueue(ctx, "id1", inviter.SourceCLI, nil); err != nil {
			t.Fatal(err)
		}
		// Invited by someone else (another job, an earlier process) before the job runs.
		err := b.db.Record(ctx, store.Decision{State: inviter.StateInvited,
			AuditEntry: store.AuditEntry{IdentityID: "id1", Outcome: inviter.OutcomeInvited}})
		if err != nil {
			t.Fatal(err)
		}
		b.start(t)
		b.waitJob(t, "completed")
		if calls := b.inv.Calls(); len(calls) != 0 {
			t.Errorf("Invite called: %v", calls)
		}
		audit := b.auditOldestFirst(t, "id1")
		if len(audit) != 2 || audit[1].Outcome != inviter.OutcomeSkipped || audit[1].Reason != "already invited" {
			t.Errorf("audit = %+v", audit)
		}
		// A re-invite round does send.
		res, err := b.q.Enqueue(ctx, "id1", inviter.SourceReinvite, &EnqueueOpts{Round: 1})
		if err != nil || res.Duplicate {
			t.Fatalf("Enqueue round 1 = %+v, %v", res, err)
		}
		waitFor(t, "second invitation", func() bool { return b.identity(t, "id1").InviteCount == 2 })
		if res, err := b.q.Enqueue(ctx, "id1", inviter.SourceReinvite, &EnqueueOpts{Round: 1}); err != nil || !res.Duplicate || res.JobID != 0 {
			t.Errorf("Enqueue round 1 again = %+v, %v; want duplicate", res, err)
		}
	})
}

// TestStopHandsBackRunningJobs: a call ISC never answers is cancelled
// after Config.StopGrace, and its job handed back with no attempt used.
func TestStopHandsBackRunningJobs(t *testing.T) {
	t.Parallel()
	b := setup(t, withRiver(storetest.OpenSQLite), func(c *Config) { c.StopGrace = 200 * time.Millisecond })
	started := make(chan struct{})
	var once sync.Once
	b.inv.InviteFunc = func(ctx context.Context, _ int, ids []string) []inviter.Result {
		once.Do(func() { close(started) })
		<-ctx.Done() // ISC hangs until the queue gives up on it
		return resultsFor(ids, func(string) inviter.Result {
			return inviter.Result{Outcome: inviter.OutcomeFailed, Err: &inviter.TransientError{Op: "invite", Err: ctx.Err()}}
		})
	}
	if _, err := b.q.Enqueue(context.Background(), "id1", inviter.SourceCLI, nil); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.q.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	jobs, err := b.q.ListJobs(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || (jobs[0].State != "available" && jobs[0].State != "scheduled") || jobs[0].Attempt != 0 {
		t.Errorf("after a hard stop: jobs = %+v, want one available job with its attempt handed back", jobs)
	}
	if i := b.identity(t, "id1"); i.State != inviter.StatePending {
		t.Errorf("identity = %+v, want pending", i)
	}
}

func TestInsertOnly(t *testing.T) {
	t.Parallel()
	db := withRiver(storetest.OpenSQLite)(t)
	q, err := New(db, Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := q.Enqueue(ctx, "id1", inviter.SourceCLI, &EnqueueOpts{ScheduledAt: time.Now().Add(time.Hour)})
	if err != nil || res.JobID == 0 {
		t.Fatalf("Enqueue = %+v, %v", res, err)
	}
	if _, err := q.Enqueue(ctx, "id1", "bogus", nil); !errors.Is(err, ErrInvalidSource) {
		t.Errorf("Enqueue(bogus source) err = %v", err)
	}
	jobs, err := q.ListJobs(ctx, "scheduled", 10)
	if err != nil || len(jobs) != 1 || jobs[0].IdentityID != "id1" || jobs[0].Source != inviter.SourceCLI {
		t.Errorf("ListJobs(scheduled) = %+v, %v", jobs, err)
	}
	if _, err := q.ListJobs(ctx, "nope", 10); err == nil {
		t.Error("ListJobs accepted an unknown state")
	}
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BatchSize != 100 || cfg.BatchWindow != 250*time.Millisecond || cfg.MaxWorkers != 1000 ||
		cfg.NotFoundWindow != 10*time.Minute || cfg.JobTimeout != 2*time.Minute || cfg.RescueStuckJobsAfter != 5*time.Minute ||
		cfg.API != inviter.APIPublic || cfg.GiveUpAfter != 7*24*time.Hour || cfg.RetryBackoffMax != 5*time.Minute ||
		cfg.ConfigProblemWait != time.Minute || cfg.MaxRateLimitWait != 10*time.Minute || cfg.StopGrace != 30*time.Second {
		t.Errorf("defaults = %+v", cfg)
	}
	// 1+2+…+256 s, then 300 s steps: 11 attempts span 10 minutes; +10 for
	// other failures (ISC's transient ones snooze and use none).
	if cfg.MaxAttempts != 21 {
		t.Errorf("default MaxAttempts = %d, want 21", cfg.MaxAttempts)
	}
	for range 100 {
		if d := jitter(time.Minute); d < 30*time.Second || d > time.Minute {
			t.Fatalf("jitter(1m) = %s, want within [30s, 1m]", d)
		}
	}
	if _, err := (Config{JobTimeout: 10 * time.Minute}).withDefaults(); err == nil || !strings.Contains(err.Error(), "RescueStuckJobsAfter") {
		t.Errorf("JobTimeout > RescueStuckJobsAfter: err = %v", err)
	}
	if _, err := (Config{API: "v9"}).withDefaults(); err == nil {
		t.Error("accepted an unknown API")
	}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 6: 32 * time.Second, 7: time.Minute, 40: time.Minute} {
		if got := backoff(n, time.Second, time.Minute); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestScheduledInviteIsRechecked: an invite scheduled in advance asks
// Config.Recheck first; a no skips the identity with the reason, a yes
// invites it, and invites sent now are not rechecked.
func TestScheduledInviteIsRechecked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		var asked sync.Map
		b := setup(t, open, func(c *Config) {
			c.Recheck = func(_ context.Context, id string) (admission.Decision, error) {
				asked.Store(id, true)
				if id == "withdrawn" {
					return admission.Decision{Verdict: admission.Never, Reason: "no longer matches the policy"}, nil
				}
				return admission.Decision{Verdict: admission.Now, Reason: "matches all rules"}, nil
			}
		})
		ctx := context.Background()
		soon := time.Now().Add(300 * time.Millisecond)
		for _, id := range []string{"withdrawn", "starts"} {
			if _, err := b.q.Enqueue(ctx, id, inviter.SourceEvent, &EnqueueOpts{ScheduledAt: soon}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.q.Enqueue(ctx, "now", inviter.SourceEvent, nil); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		waitFor(t, "three decisions", func() bool {
			s, err := b.q.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return s.Identities[inviter.StateInvited] == 2 && s.Identities[inviter.StateSkipped] == 1
		})
		w, err := b.db.Identity(ctx, "withdrawn")
		if err != nil || w.State != inviter.StateSkipped || w.LastReason != "no longer matches the policy" {
			t.Errorf("withdrawn: %+v %v", w, err)
		}
		if _, ok := asked.Load("now"); ok {
			t.Error("an invite sent now was rechecked")
		}
		for _, call := range b.inv.Calls() {
			for _, id := range call {
				if id == "withdrawn" {
					t.Error("the withdrawn identity was sent to ISC")
				}
			}
		}
	})
}

// TestLookUpFirstPutsOffOrSends: a delivery accepted with
// AcceptOptions.Recheck runs now but asks Config.Recheck first; a Later
// puts the job off until the decision's time without calling ISC, a Now
// sends it. A NoJob delivery writes no identity row.
func TestLookUpFirstPutsOffOrSends(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		later := time.Now().Add(time.Hour).Truncate(time.Second)
		b := setup(t, open, func(c *Config) {
			c.Recheck = func(_ context.Context, id string) (admission.Decision, error) {
				if id == "moved" {
					return admission.Decision{Verdict: admission.Later, At: later, Reason: "startDate ahead"}, nil
				}
				return admission.Decision{Verdict: admission.Now, Reason: "matches all rules"}, nil
			}
		})
		ctx := context.Background()
		for _, id := range []string{"moved", "sent"} {
			if _, err := b.q.AcceptDeliveryWith(ctx, inviter.IdentityRef{ID: id}, []byte(`{}`), time.Now(), AcceptOptions{Source: inviter.SourceAttributes, Recheck: true}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.q.AcceptDeliveryWith(ctx, inviter.IdentityRef{ID: "nothing"}, []byte(`{}`), time.Now(), AcceptOptions{Source: inviter.SourceAttributes, NoJob: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.Identity(ctx, "nothing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a NoJob delivery wrote an identity row (%v)", err)
		}
		b.start(t)
		waitFor(t, "one invited, one put off", func() bool {
			jobs, err := b.q.ListJobs(ctx, "scheduled", 10)
			if err != nil {
				t.Fatal(err)
			}
			return b.identity(t, "sent").State == inviter.StateInvited && len(jobs) == 1
		})
		jobs, err := b.q.ListJobs(ctx, "scheduled", 10)
		if err != nil || len(jobs) != 1 || jobs[0].IdentityID != "moved" || jobs[0].ScheduledAt.Before(later.Add(-time.Minute)) {
			t.Errorf("scheduled jobs %+v %v; want moved's, at about %s", jobs, err, later)
		}
		for _, call := range b.inv.Calls() {
			for _, id := range call {
				if id == "moved" {
					t.Error("the identity put off was sent to ISC")
				}
			}
		}
	})
}

// TestSkippedIdentityCanBeEnqueuedAgain: an identity whose job skipped it
// (its look said never) gets a new job from a later delivery that finds it
// eligible, and is invited; an invited identity gets none.
func TestSkippedIdentityCanBeEnqueuedAgain(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		var looks atomic.Int32
		b := setup(t, open, func(c *Config) {
			c.Recheck = func(context.Context, string) (admission.Decision, error) {
				if looks.Add(1) == 1 {
					return admission.Decision{Verdict: admission.Never, Reason: "department \"Contractors\" equals excluded \"Contractors\""}, nil
				}
				return admission.Decision{Verdict: admission.Now, Reason: "matches all rules"}, nil
			}
		})
		ctx := context.Background()
		accept := func() AcceptResult {
			t.Helper()
			res, err := b.q.AcceptDeliveryWith(ctx, inviter.IdentityRef{ID: "moved"}, []byte(`{}`), time.Now(), AcceptOptions{Source: inviter.SourceAttributes, Recheck: true})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		accept()
		b.start(t)
		waitFor(t, "the first job's skip", func() bool { return b.identity(t, "moved").State == inviter.StateSkipped })
		waitFor(t, "the first job completed", func() bool {
			jobs, err := b.q.ListJobs(ctx, "completed", 10)
			if err != nil {
				t.Fatal(err)
			}
			return len(jobs) == 1
		})
		if res := accept(); res.Duplicate || res.JobID == 0 {
			t.Fatalf("second delivery: %+v; want a new job for the skipped identity", res)
		}
		waitFor(t, "the invitation", func() bool { return b.identity(t, "moved").State == inviter.StateInvited })
		if res := accept(); !res.Duplicate || res.JobID != 0 {
			t.Errorf("delivery after the invitation: %+v; want no job", res)
		}
	})
}

func TestRefreshDepthCountsUnfinishedJobs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		ctx := context.Background()
		for _, id := range []string{"a", "b", "c"} {
			if _, err := b.q.Enqueue(ctx, id, inviter.SourceCLI, nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.q.Enqueue(ctx, "later", inviter.SourceCLI, &EnqueueOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := b.q.RefreshDepth(ctx); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(b.m.QueueDepth.WithLabelValues("available")); got != 3 {
			t.Errorf("available = %v, want 3", got)
		}
		if got := testutil.ToFloat64(b.m.QueueDepth.WithLabelValues("scheduled")); got != 1 {
			t.Errorf("scheduled = %v, want 1", got)
		}
		if n := testutil.CollectAndCount(b.m.QueueDepth); n != 4 {
			t.Errorf("%d depth series, want the 4 unfinished states only", n)
		}
	})
}
