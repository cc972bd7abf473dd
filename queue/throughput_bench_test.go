package queue

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/metrics"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// fillJobs inserts n invite jobs (and their pending identities) named
// prefix000000000…, due at at (zero: now), 1,000 to a transaction, straight
// through River's InsertManyTx: setting up a backlog fast.
func fillJobs(tb testing.TB, q *Queue, prefix string, n int, at time.Time) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now()
	for start := 0; start < n; start += 1000 {
		err := q.db.InTx(ctx, func(tx *store.Tx) error {
			params := make([]river.InsertManyParams, 0, 1000)
			for i := start; i < min(n, start+1000); i++ {
				id := fmt.Sprintf("%s%09d", prefix, i)
				if _, _, err := tx.EnsureIdentity(ctx, id, now, now); err != nil {
					return err
				}
				args := InviteArgs{IdentityID: id, Source: inviter.SourceReconcile, EventAt: now.UTC()}
				opts := args.InsertOpts()
				if !at.IsZero() {
					opts.ScheduledAt = at
				}
				params = append(params, river.InsertManyParams{Args: args, InsertOpts: &opts})
			}
			_, err := q.be.insertManyTx(ctx, tx, params)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// waitInvited polls the invited counter (counted after each outcome's
// commit) until it reaches n or the deadline passes.
func waitInvited(tb testing.TB, m *metrics.Metrics, n int, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	c := m.Invites.WithLabelValues(string(inviter.OutcomeInvited), string(inviter.APIPublic))
	for int(testutil.ToFloat64(c)) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d invited within %s", int(testutil.ToFloat64(c)), n, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// BenchmarkQueueThroughput measures invite jobs fetched, worked (by an
// Inviter that answers at once, 100 identities a call) and recorded a
// second, with 0, 10,000 and 100,000 other jobs waiting (due in an hour, as
// snoozed and scheduled invites wait), on each backend. b.N × 1,000 due
// jobs are inserted before the queue starts; the timer runs from Start to
// the last outcome's commit. Run it with -benchtime=5x; jobs/s is the
// figure to compare.
func BenchmarkQueueThroughput(b *testing.B) {
	for _, be := range storetest.Backends() {
		for _, waiting := range []int{0, 10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/waiting=%d", be.Name, waiting), func(b *testing.B) {
				db := withRiver(be.Open)(b)
				m := metrics.New(prometheus.NewRegistry())
				q, err := New(db, Config{BatchSize: 100, BatchWindow: 20 * time.Millisecond, JobTimeout: time.Minute}, &fakeInviter{}, m, nil)
				if err != nil {
					b.Fatal(err)
				}
				fillJobs(b, q, "wait", waiting, time.Now().Add(time.Hour))
				jobs := b.N * 1000
				fillJobs(b, q, "due", jobs, time.Time{})
				b.ResetTimer()
				if err := q.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_ = q.Stop(ctx)
				}()
				waitInvited(b, m, jobs, 5*time.Minute)
				b.StopTimer()
				b.ReportMetric(float64(jobs)/b.Elapsed().Seconds(), "jobs/s")
			})
		}
	}
}

// BenchmarkBacklogRateLimitStorm is a backlog of jobs that meets a storm of
// 429s: every invite call is refused with Retry-After the storm's remaining
// time (a 10-minute storm shortened to 5 s), then the storm ends and the
// backlog drains. Reported: invite calls during the storm per 100 jobs
// (each batch is tried, snoozed and left alone: about 1), the drain rate
// after the storm, and jobs invited more than once (must be 0).
func BenchmarkBacklogRateLimitStorm(b *testing.B) {
	for _, be := range storetest.Backends() {
		for _, backlog := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/backlog=%d", be.Name, backlog), func(b *testing.B) {
				for b.Loop() {
					runStorm(b, withRiver(be.Open), backlog, 5*time.Second)
				}
			})
		}
	}
}

func runStorm(b *testing.B, open func(testing.TB) *store.DB, backlog int, storm time.Duration) {
	db := open(b)
	m := metrics.New(prometheus.NewRegistry())
	var stormEnd atomic.Int64
	var stormCalls atomic.Int64
	var mu sync.Mutex
	invited := make(map[string]int, backlog)
	inv := &fakeInviter{InviteFunc: func(_ context.Context, _ int, ids []string) []inviter.Result {
		if left := time.Until(time.Unix(0, stormEnd.Load())); left > 0 {
			stormCalls.Add(1)
			return resultsFor(ids, func(string) inviter.Result {
				return inviter.Result{Outcome: inviter.OutcomeFailed, Reason: "rate limited",
					Err: &rateLimitedError{wait: left}}
			})
		}
		mu.Lock()
		for _, id := range ids {
			invited[id]++
		}
		mu.Unlock()
		return resultsFor(ids, func(string) inviter.Result { return inviter.Result{Outcome: inviter.OutcomeInvited, TaskID: "t"} })
	}}
	q, err := New(db, Config{BatchSize: 100, BatchWindow: 20 * time.Millisecond, JobTimeout: time.Minute, MaxRateLimitWait: time.Hour}, inv, m, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	fillJobs(b, q, "storm", backlog, time.Time{})
	b.StartTimer()
	stormEnd.Store(time.Now().Add(storm).UnixNano())
	start := time.Now()
	if err := q.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	}()
	waitInvited(b, m, backlog, storm+5*time.Minute)
	drained := time.Since(start) - storm
	dups := 0
	mu.Lock()
	for _, n := range invited {
		if n > 1 {
			dups++
		}
	}
	got := len(invited)
	mu.Unlock()
	if got != backlog || dups > 0 {
		b.Errorf("%d of %d invited, %d more than once", got, backlog, dups)
	}
	b.ReportMetric(float64(stormCalls.Load())/float64(backlog)*100, "storm-calls/100jobs")
	b.ReportMetric(float64(backlog)/drained.Seconds(), "drain-jobs/s")
	b.ReportMetric(drained.Seconds(), "drain-s")
	b.ReportMetric(float64(dups), "duplicates")
}
