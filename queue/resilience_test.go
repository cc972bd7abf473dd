package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/store"
)

// fakeClock is real time plus an offset the test moves on.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Now().Add(c.elapsed()) }
func (c *fakeClock) elapsed() time.Duration  { return time.Duration(c.offset.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func transient503(string) inviter.Result {
	return inviter.Result{Outcome: inviter.OutcomeFailed, Err: unavailable}
}
func invited(string) inviter.Result {
	return inviter.Result{Outcome: inviter.OutcomeInvited, TaskID: "task-1"}
}
func acceptAll(t *testing.T, b *testBundle, ids []string) {
	t.Helper()
	for _, id := range ids {
		ev, raw := event(id)
		if _, err := b.q.AcceptDelivery(context.Background(), ev, raw, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

var unavailable = &inviter.TransientError{Op: "POST /v2025/identities/invite", Err: errors.New("503 service unavailable")}

// sentCount is how many calls carried id.
func sentCount(calls [][]string, id string) int {
	n := 0
	for _, c := range calls {
		if slices.Contains(c, id) {
			n++
		}
	}
	return n
}

// logCounter counts the log records whose message starts with prefix, by
// level.
type logCounter struct {
	prefix string
	mu     sync.Mutex
	n      map[slog.Level]int
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, l.prefix) {
		l.mu.Lock()
		if l.n == nil {
			l.n = map[slog.Level]int{}
		}
		l.n[r.Level]++
		l.mu.Unlock()
	}
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[level]
}

// TestTwoHourOutageLosesNobody: ISC answers 503 for two hours (on the
// worker's clock, moved on 5 minutes, the backoff cap, per call) to jobs
// whose attempt budget is 2. Every identity is invited once it is over.
func TestTwoHourOutageLosesNobody(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		clock := &fakeClock{}
		b := setup(t, open, func(c *Config) {
			c.now = clock.now
			c.MaxAttempts = 2
		})
		const outage = 2 * time.Hour
		var failedCalls atomic.Int32
		b.inv.InviteFunc = func(_ context.Context, _ int, ids []string) []inviter.Result {
			if clock.elapsed() < outage {
				clock.advance(5 * time.Minute)
				failedCalls.Add(1)
				return resultsFor(ids, transient503)
			}
			return resultsFor(ids, invited)
		}
		ids := make([]string, 20)
		for i := range ids {
			ids[i] = fmt.Sprintf("outage-%02d", i)
		}
		acceptAll(t, b, ids)
		b.start(t)
		for _, id := range ids {
			i := b.waitState(t, id, inviter.StateInvited)
			if i.InviteCount != 1 {
				t.Errorf("%s invited %d times", id, i.InviteCount)
			}
		}
		if n := failedCalls.Load(); n < 24 {
			t.Errorf("%d failed calls, want the outage to span at least 24 (2 h / 5 min)", n)
		}
		calls := b.inv.Calls()
		for _, id := range ids {
			// Every call of the outage failed, and the last one succeeded.
			if sent := sentCount(calls, id); sent < 2 {
				t.Errorf("%s sent %d times, want retries through the outage", id, sent)
			}
		}
		var jobs []Job
		waitFor(t, "every job finished", func() bool {
			var err error
			if jobs, err = b.q.ListJobs(context.Background(), "", 100); err != nil {
				t.Fatal(err)
			}
			return !slices.ContainsFunc(jobs, func(j Job) bool { return j.State == "running" })
		})
		for _, j := range jobs {
			if j.State != "completed" || j.Attempt > 2 {
				t.Errorf("job %d: state %s attempt %d, want completed within its 2 attempts", j.ID, j.State, j.Attempt)
			}
		}
		audit := b.auditOldestFirst(t, ids[0])
		if len(audit) < 2 || audit[0].ErrorKind != store.ErrorKindTransient || !strings.Contains(audit[0].Reason, "retry in") {
			t.Errorf("audit of %s starts %+v, want transient retries", ids[0], audit[:min(len(audit), 2)])
		}
	})
}

// TestOutageLongerThanGiveUpAfter: past GiveUpAfter the identity is failed
// with a transient error kind; the store lists it for reconcile, and a new
// job for it invites it once ISC is back.
func TestOutageLongerThanGiveUpAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		clock := &fakeClock{}
		b := setup(t, open, func(c *Config) {
			c.now = clock.now
			c.GiveUpAfter = time.Hour
		})
		var back atomic.Bool
		b.inv.InviteFunc = func(_ context.Context, _ int, ids []string) []inviter.Result {
			if !back.Load() {
				clock.advance(5 * time.Minute)
				return resultsFor(ids, transient503)
			}
			return resultsFor(ids, invited)
		}
		acceptAll(t, b, []string{"long"})
		b.start(t)
		i := b.waitState(t, "long", inviter.StateFailed)
		if i.LastErrorKind != store.ErrorKindTransient || !strings.HasPrefix(i.LastReason, "giving up after ") {
			t.Errorf("identity = %+v, want failed on a transient error", i)
		}
		b.waitJob(t, "cancelled")
		ctx := context.Background()
		failed, err := b.db.TransientFailures(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) != 1 || failed[0].IdentityID != "long" {
			t.Fatalf("TransientFailures = %+v, want long", failed)
		}
		back.Store(true)
		res, err := b.q.Enqueue(ctx, "long", inviter.SourceReconcile, nil)
		if err != nil || res.Duplicate || res.JobID == 0 {
			t.Fatalf("re-enqueue = %+v, %v; want a new job", res, err)
		}
		if i := b.waitState(t, "long", inviter.StateInvited); i.InviteCount != 1 || i.LastErrorKind != "" {
			t.Errorf("identity = %+v", i)
		}
	})
}

// TestRetryAfterSnoozesWithoutHoldingTheBatch: a 429 asking for 24 h
// snoozes the job for the capped wait, with the audit saying both; the
// worker is free at once, and an identity arriving next is invited while
// the first waits.
func TestRetryAfterSnoozesWithoutHoldingTheBatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		b.inv.InviteFunc = func(_ context.Context, _ int, ids []string) []inviter.Result {
			return resultsFor(ids, func(id string) inviter.Result {
				switch id {
				case "capped": // the client capped ISC's 86400 s
					return inviter.Result{Outcome: inviter.OutcomeFailed, Err: &rateLimitedError{
						wait: 10 * time.Minute, requested: 24 * time.Hour}}
				case "uncapped": // a client that passed 86400 s through
					return inviter.Result{Outcome: inviter.OutcomeFailed, Err: &rateLimitedError{
						wait: 24 * time.Hour}}
				}
				return invited(id)
			})
		}
		b.start(t)
		for _, id := range []string{"capped", "uncapped"} {
			before := time.Now()
			acceptAll(t, b, []string{id})
			var job Job
			waitFor(t, id+" snoozed", func() bool {
				jobs, err := b.q.ListJobs(context.Background(), "scheduled", 10)
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range jobs {
					if j.IdentityID == id {
						job = j
						return true
					}
				}
				return false
			})
			if wait := job.ScheduledAt.Sub(before); wait < 5*time.Minute || wait > 11*time.Minute || job.Attempt != 0 {
				t.Errorf("%s: snoozed for %s (attempt %d), want 5-10 min (jittered cap) and no attempt used", id, wait, job.Attempt)
			}
			audit := b.auditOldestFirst(t, id)
			if len(audit) != 1 || audit[0].Reason != "rate limited, retry in 10m0s (ISC asked for 24h0m0s)" ||
				audit[0].ErrorKind != store.ErrorKindTransient {
				t.Errorf("%s: audit = %+v", id, audit)
			}
			if i := b.identity(t, id); i.State != inviter.StatePending {
				t.Errorf("%s: state %s, want pending", id, i.State)
			}
		}
		acceptAll(t, b, []string{"next"})
		b.waitState(t, "next", inviter.StateInvited)
	})
}

// TestConfigProblemWaitsForTheFix: ISC refusing inviter's credentials (401
// after a token refresh) keeps every identity waiting, never failed, past
// its attempt budget; one ERROR is logged, the metric and ConfigProblem
// say so; once the credentials work, each is invited once.
func TestConfigProblemWaitsForTheFix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		logs := &logCounter{prefix: "ISC refuses inviter's configuration"}
		b := setup(t, open, func(c *Config) {
			c.ConfigProblemWait = 30 * time.Millisecond
			c.MaxAttempts = 2
			c.Logger = slog.New(logs)
		})
		var fixed atomic.Bool
		b.inv.InviteFunc = func(_ context.Context, _ int, ids []string) []inviter.Result {
			if fixed.Load() {
				return resultsFor(ids, invited)
			}
			return resultsFor(ids, func(string) inviter.Result {
				return inviter.Result{Outcome: inviter.OutcomeFailed, Err: &configError{
					status: 401, msg: "refused after a token refresh"}}
			})
		}
		ids := []string{"c1", "c2", "c3", "c4", "c5"}
		acceptAll(t, b, ids)
		b.start(t)
		waitFor(t, "jobs put off repeatedly", func() bool {
			return testutil.ToFloat64(b.m.ConfigProblemJobs) >= float64(4*len(ids))
		})
		if text, since := b.q.ConfigProblem(); !strings.Contains(text, "401") || since.IsZero() {
			t.Errorf("ConfigProblem() = %q, %v", text, since)
		}
		if g := testutil.ToFloat64(b.m.ISCConfigProblem); g != 1 {
			t.Errorf("inviter_isc_config_problem = %v, want 1", g)
		}
		for _, id := range ids {
			if i := b.identity(t, id); i.State != inviter.StatePending || i.LastErrorKind != store.ErrorKindConfig {
				t.Errorf("%s = %+v, want pending with a config error", id, i)
			}
		}
		for _, state := range []string{"cancelled", "discarded"} {
			if jobs, err := b.q.ListJobs(context.Background(), state, 10); err != nil || len(jobs) != 0 {
				t.Errorf("%s jobs = %+v, %v; want none", state, jobs, err)
			}
		}
		if n := logs.count(slog.LevelError); n != 1 {
			t.Errorf("%d ERROR logs of the problem, want 1 (once per change)", n)
		}

		fixed.Store(true)
		for _, id := range ids {
			if i := b.waitState(t, id, inviter.StateInvited); i.InviteCount != 1 {
				t.Errorf("%s invited %d times", id, i.InviteCount)
			}
		}
		if text, _ := b.q.ConfigProblem(); text != "" {
			t.Errorf("ConfigProblem() = %q after the fix", text)
		}
		if g := testutil.ToFloat64(b.m.ISCConfigProblem); g != 0 {
			t.Errorf("inviter_isc_config_problem = %v after the fix, want 0", g)
		}
	})
}

// TestStopMidCallRecordsTheOutcome: shutdown's wait ends while ISC is
// still answering an invite call. The call is let finish (its context is
// not cancelled), its outcome recorded before Stop returns, and a process
// started afterwards on the same database sends nothing again.
func TestStopMidCallRecordsTheOutcome(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, func(c *Config) { c.StopGrace = time.Minute })
		sent, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		// ISC receives the call at once and answers when released; a call
		// whose context is cancelled first loses the answer, although ISC
		// acted on it.
		b.inv.InviteFunc = func(ctx context.Context, _ int, ids []string) []inviter.Result {
			once.Do(func() { close(sent) })
			select {
			case <-release:
				return resultsFor(ids, invited)
			case <-ctx.Done():
				return resultsFor(ids, func(string) inviter.Result {
					return inviter.Result{Outcome: inviter.OutcomeFailed, Err: &inviter.TransientError{Op: "invite", Err: ctx.Err()}}
				})
			}
		}
		// ISC answers once shutdown has cancelled a job waiting for it.
		var late sync.Once
		b.q.batcher.lateWait = func() { late.Do(func() { close(release) }) }
		ids := []string{"s1", "s2", "s3"}
		acceptAll(t, b, ids)
		b.start(t)
		<-sent

		stopCtx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		go func() { stopped <- b.q.Stop(stopCtx) }()
		cancel() // --shutdown-wait is over; ISC has not answered yet
		if err := <-stopped; err != nil {
			t.Fatalf("Stop: %v", err)
		}
		// The identities of the call in flight are recorded (others, still
		// waiting for a batch, were handed back unsent).
		first := b.inv.Calls()[0]
		for _, id := range first {
			if i := b.identity(t, id); i.State != inviter.StateInvited || i.InviteCount != 1 {
				t.Errorf("%s after Stop = %+v, want invited once", id, i)
			}
		}

		// The next process finds nothing to send.
		inv2 := &fakeInviter{}
		q2, err := New(b.db, Config{BatchWindow: 10 * time.Millisecond, fetchPollInterval: 20 * time.Millisecond}, inv2, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := q2.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "every job done", func() bool {
			jobs, err := q2.ListJobs(context.Background(), "", 10)
			if err != nil {
				t.Fatal(err)
			}
			return len(jobs) == len(ids) && !slices.ContainsFunc(jobs, func(j Job) bool { return j.State != "completed" })
		})
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := q2.Stop(sctx); err != nil {
			t.Fatal(err)
		}
		calls := append(b.inv.Calls(), inv2.Calls()...)
		for _, id := range ids {
			if n := sentCount(calls, id); n != 1 {
				t.Errorf("%s sent %d times (calls %v), want once", id, n, calls)
			}
			if i := b.identity(t, id); i.State != inviter.StateInvited || i.InviteCount != 1 {
				t.Errorf("%s = %+v, want invited once", id, i)
			}
		}
	})
}

// TestUnrecordedOutcomeIsRetriedFromMemory: the database refuses the
// outcome of an accepted invitation (disk full) for the whole first run of
// the job; the job's next run records it from memory and ISC sees one
// invite.
func TestUnrecordedOutcomeIsRetriedFromMemory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, func(c *Config) { c.JobTimeout = 300 * time.Millisecond })
		var refused atomic.Int32
		b.q.testRecord = func(d store.Decision) error {
			if d.Outcome != inviter.OutcomeInvited || strings.Contains(d.Reason, "from memory") {
				return nil
			}
			refused.Add(1)
			return errors.New("database or disk is full")
		}
		acceptAll(t, b, []string{"full"})
		b.start(t)
		i := b.waitState(t, "full", inviter.StateInvited)
		if i.InviteCount != 1 {
			t.Errorf("invited %d times", i.InviteCount)
		}
		if calls := b.inv.Calls(); len(calls) != 1 {
			t.Errorf("invite calls = %v, want 1", calls)
		}
		if refused.Load() < 2 {
			t.Errorf("outcome write refused %d times, want retries in the first run", refused.Load())
		}
		audit := b.auditOldestFirst(t, "full")
		if len(audit) != 1 || !strings.Contains(audit[0].Reason, "recorded late, from memory") || audit[0].TaskID != "task" {
			t.Errorf("audit = %+v", audit)
		}
		b.waitJob(t, "completed")
		if g := testutil.ToFloat64(b.m.UnrecordedOutcomes); g != 0 {
			t.Errorf("inviter_outcomes_unrecorded = %v, want 0", g)
		}
	})
}

// TestTestDeliveryMakesNoJob: a delivery of ISC's sample identity is
// stored as a test delivery with no identity and no invite job; its check
// asks whether the tenant knows the identity until the visibility window
// (an hour, 40 minutes passing per look) is over, then the audit says it
// was a test.
func TestTestDeliveryMakesNoJob(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		var checks atomic.Int32
		clock := &fakeClock{}
		b := setup(t, open, func(c *Config) {
			c.now = clock.now
			c.NotFoundWindow = time.Hour
			c.CheckTestDelivery = func(_ context.Context, d TestDelivery) (bool, AcceptOptions, error) {
				checks.Add(1)
				clock.advance(40 * time.Minute)
				if d.DeliveryID == 0 || d.Source != inviter.SourceEvent || len(d.Payload) == 0 {
					t.Errorf("check of %+v", d)
				}
				return false, AcceptOptions{}, nil // ISC: 404
			}
		})
		ctx := context.Background()
		ev, raw := event("2c7180a46faadee4016fb4e018c20642")
		res, err := b.q.AcceptDeliveryWith(ctx, ev.Identity, raw, time.Now(), AcceptOptions{Test: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.JobID != 0 || !res.Duplicate || res.DeliveryID == 0 {
			t.Errorf("AcceptDeliveryWith = %+v, want a delivery and no invite job", res)
		}
		n, last, err := b.db.TestDeliveries(ctx)
		if err != nil || n != 1 || last.IsZero() {
			t.Errorf("TestDeliveries = %d, %v, %v", n, last, err)
		}
		b.start(t)
		job := b.waitJob(t, "completed")
		if job.Kind != KindTestCheck {
			t.Errorf("job = %+v, want only the check", job)
		}
		if _, err := b.db.Identity(ctx, ev.Identity.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("identity of a test delivery: err = %v, want ErrNotFound (reconcile must still see it)", err)
		}
		audit := b.auditOldestFirst(t, ev.Identity.ID)
		if len(audit) != 2 || audit[0].Reason != TestDeliveryCheckReason || audit[1].Reason != TestDeliveryReason ||
			audit[1].Outcome != inviter.OutcomeSkipped {
			t.Errorf("audit = %+v", audit)
		}
		if c := checks.Load(); c != 2 {
			t.Errorf("%d checks, want 2 (at once, and once the visibility window is over)", c)
		}
		if got := testutil.ToFloat64(b.m.TestDeliveries); got != 1 {
			t.Errorf("inviter_test_deliveries_total = %v", got)
		}
		if calls := b.inv.Calls(); len(calls) != 0 {
			t.Errorf("invite calls = %v, want none", calls)
		}
	})
}

// TestSampleIdentityKnownToTheTenantIsInvited: when the tenant knows the
// sample identity, the delivery is a real joiner's: invited once, and no
// longer counted as a test delivery.
func TestSampleIdentityKnownToTheTenantIsInvited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, func(c *Config) {
			c.CheckTestDelivery = func(context.Context, TestDelivery) (bool, AcceptOptions, error) {
				return true, AcceptOptions{}, nil
			}
		})
		ctx := context.Background()
		ev, raw := event("2c91808568c529c60168cca6f90c1313")
		if _, err := b.q.AcceptDeliveryWith(ctx, ev.Identity, raw, time.Now(), AcceptOptions{Test: true}); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		var i store.Identity
		waitFor(t, "the sample identity invited", func() bool {
			var err error
			i, err = b.db.Identity(ctx, ev.Identity.ID)
			return err == nil && i.State == inviter.StateInvited
		})
		if i.InviteCount != 1 {
			t.Errorf("identity = %+v", i)
		}
		if n, _, err := b.db.TestDeliveries(ctx); err != nil || n != 0 {
			t.Errorf("TestDeliveries = %d, %v; want 0", n, err)
		}
		ds, err := b.db.Deliveries(ctx, ev.Identity.ID, 10)
		if err != nil || len(ds) != 1 || ds[0].JobID == 0 {
			t.Errorf("deliveries = %+v, %v; want one with its invite job", ds, err)
		}
		if calls := b.inv.Calls(); len(calls) != 1 {
			t.Errorf("invite calls = %v, want 1", calls)
		}
	})
}

// TestAuditRecordsWhatISCDid: the task id and its completion status are
// in the audit trail; an identity ISC could not mail is failed with ISC's
// message, permanently, and not retried.
func TestAuditRecordsWhatISCDid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, nil)
		b.inv.InviteFunc = func(_ context.Context, _ int, ids []string) []inviter.Result {
			return resultsFor(ids, func(id string) inviter.Result {
				if id == "nomail" {
					return inviter.Result{Outcome: inviter.OutcomeFailed, TaskID: "t-7", CompletionStatus: "ERROR",
						Reason: "ISC could not invite this identity: no email address",
						Err:    &permanentError{status: 200, msg: "no email address"}}
				}
				return inviter.Result{Outcome: inviter.OutcomeInvited, TaskID: "t-7", CompletionStatus: "WARNING"}
			})
		}
		acceptAll(t, b, []string{"ok", "nomail"})
		b.start(t)
		b.waitState(t, "ok", inviter.StateInvited)
		i := b.waitState(t, "nomail", inviter.StateFailed)
		if i.LastErrorKind != store.ErrorKindPermanent || !strings.Contains(i.LastReason, "no email address") {
			t.Errorf("nomail = %+v", i)
		}
		for id, want := range map[string]string{"ok": "WARNING", "nomail": "ERROR"} {
			audit := b.auditOldestFirst(t, id)
			if len(audit) != 1 || audit[0].TaskID != "t-7" || audit[0].CompletionStatus != want {
				t.Errorf("%s: audit = %+v, want task t-7 with status %s", id, audit, want)
			}
		}
		if n := sentCount(b.inv.Calls(), "nomail"); n != 1 {
			t.Errorf("nomail sent %d times, want 1", n)
		}
	})
}

// TestStopWritesHeldOutcomes: an accepted invitation whose outcome the
// database refused during the job is written by Stop once the database
// takes it again, before Stop returns.
func TestStopWritesHeldOutcomes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		b := setup(t, open, func(c *Config) { c.RetryBackoff, c.RetryBackoffMax = time.Hour, time.Hour })
		var full atomic.Bool
		full.Store(true)
		refused := make(chan struct{})
		var once sync.Once
		b.q.testRecord = func(d store.Decision) error {
			if d.Outcome == inviter.OutcomeInvited && full.Load() {
				once.Do(func() { close(refused) })
				return errors.New("database or disk is full")
			}
			return nil
		}
		acceptAll(t, b, []string{"held"})
		b.start(t)
		<-refused // the job now waits an hour before it writes again
		waitFor(t, "the outcome held in memory", func() bool { return testutil.ToFloat64(b.m.UnrecordedOutcomes) == 1 })
		full.Store(false)
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no shutdown wait: the job is stopped at once
		if err := b.q.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if i := b.identity(t, "held"); i.State != inviter.StateInvited || i.InviteCount != 1 {
			t.Errorf("after Stop: %+v, want invited once", i)
		}
		if g := testutil.ToFloat64(b.m.UnrecordedOutcomes); g != 0 {
			t.Errorf("inviter_outcomes_unrecorded = %v after Stop, want 0", g)
		}
		if calls := b.inv.Calls(); len(calls) != 1 {
			t.Errorf("invite calls = %v", calls)
		}
	})
}

func TestRecordedRetries(t *testing.T) {
	t.Parallel()
	var rows int
	// A week at the 5-minute cap: 2,016 failed runs.
	for n := 1; n <= 7*24*12; n++ {
		if recordedRetries(n) {
			rows++
		}
	}
	if rows < 170 || rows > 180 {
		t.Errorf("%d audit rows for a week of retries, want about 176", rows)
	}
}
