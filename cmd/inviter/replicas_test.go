package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// Where the recovery bound of a killed replica comes from (queue/liveness.go):
//
//   - Every serve process writes a heartbeat every queue.HeartbeatEvery
//     (3 s), so the dead replica's last one is at most that old at the kill.
//   - Every survivor, at each heartbeat, hands back the running jobs of a
//     process whose heartbeat is older than queue.OrphanAfter (15 s): the
//     dead replica's jobs are available again within OrphanAfter +
//     HeartbeatEvery of the kill.
//   - A survivor fetches them within River's fetch poll interval (1 s) and
//     works them once more: at most --job-timeout.
//
// Bound = OrphanAfter + HeartbeatEvery + fetch poll + job timeout. River's
// own rescuer (--rescue-after, run every 30 s by the leader) is slower and
// plays no part in it.
const riverFetchPoll = time.Second

func recoveryBound(jobTimeout time.Duration) time.Duration {
	return queue.OrphanAfter + queue.HeartbeatEvery + riverFetchPoll + jobTimeout
}

// fleet is several serve replicas behind a test's stand-in for a load
// balancer: round-robin, and on a connection error, a timeout or a 5xx the
// delivery goes to the next replica (nginx proxy_next_upstream).
type fleet struct {
	replicas []*daemon
	client   *http.Client
	token    string
}

func newFleet(replicas []*daemon, token string) *fleet {
	return &fleet{replicas: replicas, token: token, client: &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 32},
	}}
}

// deliver posts body aimed at replica i%n and returns the replica that
// acknowledged it with 200.
func (f *fleet) deliver(ctx context.Context, i int, body []byte) (int, error) {
	n := len(f.replicas)
	var last error
	for try := range 3 * n {
		r := (i + try) % n
		req, err := http.NewRequestWithContext(ctx, "POST", f.replicas[r].url+"/hooks/identity-created", bytes.NewReader(body))
		if err != nil {
			return -1, err
		}
		req.Header.Set("Authorization", "Bearer "+f.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := f.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			last = err
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return r, nil
		case resp.StatusCode >= 500:
			last = fmt.Errorf("replica %d: %s", r, resp.Status)
			continue
		default:
			return -1, fmt.Errorf("replica %d: %s", r, resp.Status)
		}
	}
	return -1, fmt.Errorf("no replica acknowledged: %w", last)
}

// TestReplicasShareTheLimitAndSurviveAKill runs three serve processes on one
// PostgreSQL schema, each keeping a third of the tenant's rate limit, posts
// 1000 Identity Created deliveries spread across them, and SIGKILLs one a
// third of the way through. Every identity is invited exactly once, the
// tenant never answers 429, and the survivors finish the dead replica's
// jobs within the bound of the heartbeat hand-back (recoveryBound).
func TestReplicasShareTheLimitAndSurviveAKill(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t) // skips without INVITER_TEST_POSTGRES_URL
	ctx := testContext(t)
	const (
		replicas    = 3
		identities  = 1000
		senders     = 16
		jobTimeout  = 5 * time.Second
		rescueAfter = 8 * time.Second
		victim      = 1
	)
	tenant := isctest.NewServer(isctest.Options{RateLimit: 30, RateWindow: time.Second})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(identities, nil))

	token := randomToken()
	var ds []*daemon
	for i := range replicas {
		args := []string{"--replicas", fmt.Sprint(replicas), "--rate-limit", "30/1s",
			"--job-timeout", jobTimeout.String(), "--rescue-after", rescueAfter.String()}
		if i == victim {
			// The victim holds its jobs in its batcher until --job-timeout,
			// so that it surely dies holding some: the hand-back is what this
			// test is about, and the others finish a burst in well under a
			// second.
			args = append(args, "--batch-window", "1m", "--batch-size", "1000")
		}
		ds = append(ds, startChild(t, tenant, dsn, token, args...))
	}
	f := newFleet(ds, token)
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// The burst, with the kill a third of the way through.
	var (
		acked    atomic.Int64
		rerouted atomic.Int64
		byAcker  [replicas]atomic.Int64
		killOnce sync.Once
		killed   = make(chan time.Time, 1)
		next     = make(chan int)
		wg       sync.WaitGroup
	)
	for range senders {
		wg.Go(func() {
			for i := range next {
				r, err := f.deliver(ctx, i, payload(ids[i], "Replica Test"))
				if err != nil {
					t.Errorf("delivery %d: %v", i, err)
					continue
				}
				byAcker[r].Add(1)
				if r != i%replicas {
					rerouted.Add(1)
				}
				if acked.Add(1) == identities/3 {
					killOnce.Do(func() { go func() { killed <- killCleanly(t, ctx, tenant, db, ds[victim]) }() })
				}
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	var killAt time.Time
	select {
	case killAt = <-killed:
	case <-ctx.Done():
		t.Fatal("the kill did not happen")
	}
	if n := acked.Load(); n != identities {
		t.Fatalf("%d of %d deliveries acknowledged", n, identities)
	}
	if rerouted.Load() == 0 {
		t.Error("no delivery aimed at the dead replica went to a survivor")
	}

	// The jobs the dead replica held: those still running once every
	// survivor's job of that time has ended (within --job-timeout), before
	// the hand-back (OrphanAfter) makes them available again.
	dead := fmt.Sprintf("_%d_", ds[victim].cmd.Process.Pid) // in its River client id
	orphans, holders := runningJobsSince(t, ctx, db, killAt)
	for deadline := killAt.Add(jobTimeout + 2*time.Second); time.Now().Before(deadline) && !heldOnlyBy(holders, dead); {
		time.Sleep(100 * time.Millisecond) // polling another process's jobs
		orphans, holders = runningJobsSince(t, ctx, db, killAt)
	}
	if len(orphans) == 0 {
		t.Error("the killed replica held no job: the hand-back was not exercised")
	}
	if !heldOnlyBy(holders, dead) {
		t.Errorf("jobs running since before the kill are held by %v, want only the dead replica (pid %d)", holders, ds[victim].cmd.Process.Pid)
	}

	bound := recoveryBound(jobTimeout)
	waitInvited(t, tenant, ids, bound+30*time.Second)
	recovered := finishedAt(t, ctx, db, orphans)
	took := recovered.Sub(killAt)
	var survivors []*daemon
	for i, d := range ds {
		if i != victim {
			survivors = append(survivors, d)
		}
	}
	assertInvitedOnce(t, tenant, ids, survivors...)
	if n := tenant.RateLimited(); n != 0 {
		t.Errorf("the tenant answered %d requests 429: the fleet went over its limit", n)
	}
	// Generous: the bound plus slack for a loaded 2-core machine.
	if took > bound+15*time.Second {
		t.Errorf("the survivors finished the dead replica's %d jobs %s after the kill, want within %s (+15 s slack)", len(orphans), took.Round(time.Millisecond), bound)
	}
	workers := workersOfCompletedJobs(t, ctx, db)
	if len(workers) < 2 {
		t.Errorf("completed jobs were worked by %v, want the replicas to share them", workers)
	}
	t.Logf("3 replicas on PostgreSQL: acks per replica %d/%d/%d, %d rerouted after the kill; jobs completed per River client %v; "+
		"dead replica's %d jobs finished %s after the SIGKILL (bound %s = orphan after %s + heartbeat %s + fetch poll %s + job timeout %s); "+
		"%d ISC calls, %d 429s",
		byAcker[0].Load(), byAcker[1].Load(), byAcker[2].Load(), rerouted.Load(), workers,
		len(orphans), took.Round(time.Millisecond), bound, queue.OrphanAfter, queue.HeartbeatEvery, riverFetchPoll, jobTimeout,
		tenant.CallCount(""), tenant.RateLimited())
	// Reconcile is a periodic job: the fleet's leader runs it at start and
	// then every --reconcile-every (1 h), so within this test it ran once,
	// or twice if the victim was the leader and the new one started over.
	var reconciles int
	if err := db.PgxPool().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'reconcile'`).Scan(&reconciles); err != nil {
		t.Fatal(err)
	}
	if reconciles < 1 || reconciles > 2 {
		t.Errorf("%d reconcile jobs for the fleet, want 1 (2 after a leader failover)", reconciles)
	}

	for i, d := range ds {
		if i == victim {
			continue
		}
		if err := d.stop(); err != nil {
			t.Errorf("replica %d: graceful stop: %v\n%s", i, err, d.out)
		}
	}
}

// killCleanly SIGKILLs d at a moment when it has no invitation in flight
// that ISC accepted but d has not recorded yet, and returns when. Such an
// in-flight call is the one window where a kill makes an identity mailed
// twice: the job handed back cannot know that ISC acted (docs/design.md,
// Guarantees). The test is about failover and hand-back, not that window,
// so it freezes d (SIGSTOP), lets requests already on the wire land,
// checks every mailed identity is recorded, and kills; otherwise it thaws
// d and tries again a moment later.
func killCleanly(t *testing.T, ctx context.Context, tenant *isctest.Server, db *store.DB, d *daemon) time.Time {
	p := d.cmd.Process
	for attempt := 1; ; attempt++ {
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			t.Errorf("SIGSTOP: %v", err)
		}
		// Bytes the frozen process wrote before the signal still reach the
		// tenant: no event says when the last of them has been read, so
		// this is a pause, not a wait for a condition.
		time.Sleep(300 * time.Millisecond)
		unrecorded := mailedNotRecorded(t, ctx, tenant, db, nil)
		// The survivors record theirs within milliseconds.
		for deadline := time.Now().Add(time.Second); len(unrecorded) > 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond) // polling the tenant and the database
			unrecorded = mailedNotRecorded(t, ctx, tenant, db, unrecorded)
		}
		if len(unrecorded) == 0 || attempt == 20 {
			if len(unrecorded) > 0 {
				t.Logf("killing with %d identities mailed by the victim and not recorded", len(unrecorded))
			}
			if err := p.Kill(); err != nil {
				t.Errorf("SIGKILL: %v", err)
			}
			t.Logf("SIGKILL on attempt %d", attempt)
			return time.Now()
		}
		t.Logf("attempt %d: the victim has %d identities mailed and not recorded; thawing it and trying again", attempt, len(unrecorded))
		_ = p.Signal(syscall.SIGCONT)
		// Let the victim run a random while, so that the next freeze finds
		// it at another point of its work.
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
	}
}

// mailedNotRecorded returns the identities the tenant mailed that the
// database does not show invited; among only when only is not nil.
func mailedNotRecorded(t *testing.T, ctx context.Context, tenant *isctest.Server, db *store.DB, only map[string]bool) map[string]bool {
	mailed := tenant.Invites() // first: anything recorded later is mailed earlier
	invited, err := db.Identities(ctx, inviter.StateInvited, 1_000_000)
	if err != nil {
		t.Errorf("identities: %v", err)
		return nil
	}
	rec := make(map[string]bool, len(invited))
	for _, i := range invited {
		rec[i.IdentityID] = true
	}
	out := map[string]bool{}
	for _, m := range mailed {
		if !rec[m.IdentityID] && (only == nil || only[m.IdentityID]) {
			out[m.IdentityID] = true
		}
	}
	return out
}

// heldOnlyBy reports whether every holder's River client id contains
// marker.
func heldOnlyBy(holders []string, marker string) bool {
	for _, h := range holders {
		if !strings.Contains(h, marker) {
			return false
		}
	}
	return true
}

// runningJobsSince returns the jobs running since before at, and the River
// clients that hold them.
func runningJobsSince(t *testing.T, ctx context.Context, db *store.DB, at time.Time) ([]int64, []string) {
	t.Helper()
	rows, err := db.PgxPool().Query(ctx, `SELECT id, COALESCE(attempted_by[array_length(attempted_by, 1)], '')
		FROM river_job WHERE state = 'running' AND attempted_at < $1`, at)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	var holders []string
	for rows.Next() {
		var id int64
		var by string
		if err := rows.Scan(&id, &by); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		if !slices.Contains(holders, by) {
			holders = append(holders, by)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, holders
}

// finishedAt waits until every job in ids is finalized and returns the
// latest finalization time; each must have completed.
func finishedAt(t *testing.T, ctx context.Context, db *store.DB, ids []int64) time.Time {
	t.Helper()
	for {
		var open, notCompleted int
		var last *time.Time
		err := db.PgxPool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE finalized_at IS NULL),
			count(*) FILTER (WHERE finalized_at IS NOT NULL AND state <> 'completed'), max(finalized_at)
			FROM river_job WHERE id = ANY($1)`, ids).Scan(&open, &notCompleted, &last)
		if err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			if notCompleted > 0 {
				t.Errorf("%d of the dead replica's jobs ended other than completed", notCompleted)
			}
			if last == nil {
				return time.Now()
			}
			return *last
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of the dead replica's jobs still not finished", open)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// workersOfCompletedJobs counts completed jobs by the River client that
// finished them.
func workersOfCompletedJobs(t *testing.T, ctx context.Context, db *store.DB) map[string]int {
	t.Helper()
	rows, err := db.PgxPool().Query(ctx, `SELECT COALESCE(attempted_by[array_length(attempted_by, 1)], ''), count(*)
		FROM river_job WHERE state = 'completed' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var by string
		var n int
		if err := rows.Scan(&by, &n); err != nil {
			t.Fatal(err)
		}
		out[by] = n
	}
	return out
}

// BenchmarkIngestReplicas measures acknowledged deliveries per second for 1
// and 3 replicas on PostgreSQL and 1 on SQLite, each a child process, with
// 16 concurrent senders spread across the replicas (3,000 deliveries an
// iteration). It is a benchmark, so go test runs it only when asked:
//
//	INVITER_TEST_POSTGRES_URL=… go test ./cmd/inviter -run '^$' -bench IngestReplicas -benchtime 1x
func BenchmarkIngestReplicas(b *testing.B) {
	const n = 3000
	for _, c := range []struct {
		backend  string
		replicas int
	}{{store.BackendPostgres, 1}, {store.BackendPostgres, 3}, {store.BackendSQLite, 1}} {
		b.Run(fmt.Sprintf("%s_x%d", c.backend, c.replicas), func(b *testing.B) {
			dsn := storetest.SQLiteDSN(b)
			if c.backend == store.BackendPostgres {
				dsn = storetest.PostgresDSN(b) // skips without INVITER_TEST_POSTGRES_URL
			}
			measureIngest(b, dsn, c.replicas, n)
		})
	}
}

// measureIngest starts replicas on dsn and, each iteration, posts n new
// deliveries from 16 senders, reporting acknowledgements per second and the
// p50/p99 time to acknowledge.
func measureIngest(b *testing.B, dsn string, replicas, n int) {
	ctx := testContext(b)
	tenant := isctest.NewServer(isctest.Options{})
	b.Cleanup(tenant.Close)
	token := randomToken()
	var ds []*daemon
	for range replicas {
		ds = append(ds, startChild(b, tenant, dsn, token, "--replicas", fmt.Sprint(replicas)))
	}
	f := newFleet(ds, token)
	for b.Loop() {
		b.StopTimer()
		ids := identityIDs(tenant.CreateIdentities(n, nil))
		lat := make([]time.Duration, n)
		next := make(chan int)
		var wg sync.WaitGroup
		b.StartTimer()
		start := time.Now()
		for range 16 {
			wg.Go(func() {
				for i := range next {
					t0 := time.Now()
					if _, err := f.deliver(ctx, i, payload(ids[i], "Figure")); err != nil {
						b.Errorf("delivery %d: %v", i, err)
					}
					lat[i] = time.Since(t0)
				}
			})
		}
		for i := range ids {
			next <- i
		}
		close(next)
		wg.Wait()
		elapsed := time.Since(start)
		slices.Sort(lat)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "acked/s")
		b.ReportMetric(figureMillis(lat[n/2]), "p50_ms")
		b.ReportMetric(figureMillis(lat[n*99/100]), "p99_ms")
	}
	for _, d := range ds {
		_ = d.stop()
	}
}

// figureMillis is d in milliseconds, for the figures.
func figureMillis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
