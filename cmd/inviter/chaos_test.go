//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// The chaos suite: serve as a child process, killed, refused, its database
// taken away, and what an operator and ISC see afterwards. Time bounds are
// asserted on what happened (the tenant's record of each invitation
// against the moment of the kill), never by sleeping for them.

// deliverAll posts one Identity Created delivery per id to d from 8
// senders and returns how many were answered each status.
func deliverAll(t *testing.T, ctx context.Context, d *daemon, ids []string, name string) map[int]int {
	t.Helper()
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		next  = make(chan string)
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		wg.Go(func() {
			for id := range next {
				code, err := deliverOne(ctx, client, d, payload(id, name))
				if err != nil {
					code = 0 // no answer
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return codes
}

// deliverOne posts one delivery and returns the status.
func deliverOne(ctx context.Context, client *http.Client, d *daemon, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", d.url+"/hooks/identity-created", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// readyz returns GET /readyz's status and body.
func readyz(t *testing.T, d *daemon) (int, string) {
	t.Helper()
	resp, err := http.Get(d.url + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// lastInviteAt returns the latest time the tenant mailed one of ids.
func lastInviteAt(tenant *isctest.Server, ids []string) time.Time {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var last time.Time
	for _, inv := range tenant.Invites() {
		if want[inv.IdentityID] && inv.At.After(last) {
			last = inv.At
		}
	}
	return last
}

// waitRecordedInvited waits until the database shows n identities invited.
func waitRecordedInvited(t *testing.T, ctx context.Context, db *store.DB, n int64) {
	t.Helper()
	for {
		c, err := db.Counts(ctx)
		if err == nil && c.Identities[inviter.StateInvited] >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("fewer than %d identities recorded invited (last count %+v, %v)", n, c.Identities, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitJobsRunning waits until no invite job is waiting to be fetched and n
// are running.
func waitJobsRunning(t *testing.T, ctx context.Context, db *store.DB, n int) {
	t.Helper()
	for {
		jobs, err := db.CountJobs(ctx)
		if err == nil && jobs["available"] == 0 && jobs["running"] >= int64(n) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("jobs never all fetched: %v, %v", jobs, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestChaosSIGKILLMidWaveSQLite: a serve on SQLite is SIGKILLed in the
// middle of a wave, with jobs running (some identities invited, the rest
// held in its batcher), and restarted at once with the default settings.
// Every acknowledged delivery is invited, each once, within 10 s of the
// kill: the restart, holding the file's lock, hands back at start the jobs
// the dead process left running instead of waiting for River's rescuer.
func TestChaosSIGKILLMidWaveSQLite(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dsn := storetest.SQLiteDSN(t)
	const n, batch = 239, 50
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(n, nil))
	token := randomToken()

	// Full batches go at once; the last, partial one waits a minute in the
	// batcher, its jobs running, when the kill comes.
	first := startChild(t, tenant, dsn, token, "--batch-size", fmt.Sprint(batch), "--batch-window", "1m")
	codes := deliverAll(t, ctx, first, ids, "Wave")
	if codes[200] != n {
		t.Fatalf("answers %v, want %d × 200", codes, n)
	}
	db, err := store.Open(ctx, dsn, nil) // a reader beside the serve
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Kill once every batch ISC answered is recorded: a kill between
	// ISC's answer and the commit is the one window that can mail twice,
	// and this test is about the jobs left running, not that window.
	waitRecordedInvited(t, ctx, db, int64(n/batch*batch))
	waitJobsRunning(t, ctx, db, n%batch)
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killAt := time.Now()
	<-first.exited
	invitedBefore := len(tenant.Invites())
	jobs, err := db.CountJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if jobs["running"] == 0 {
		t.Fatalf("no job left running by the killed serve (jobs %v): the test did not exercise the hand-back", jobs)
	}
	left := jobs["running"]
	t.Logf("jobs at the kill: %v", jobs)

	second := startChild(t, tenant, dsn, token) // the defaults, as an operator restarts it
	restartedAt := time.Now()
	waitInvited(t, tenant, ids, time.Minute)
	assertInvitedOnce(t, tenant, ids, second)
	took := lastInviteAt(tenant, ids).Sub(killAt)
	if took > 10*time.Second {
		t.Errorf("the last acknowledged delivery was invited %s after the SIGKILL, want within 10 s", took.Round(time.Millisecond))
	}
	t.Logf("SQLite SIGKILL mid-wave: %d acknowledged, %d invited before the kill, %d jobs left running; restart ready %s after the kill; all %d invited once, the last %s after the kill",
		n, invitedBefore, left, restartedAt.Sub(killAt).Round(time.Millisecond), n, took.Round(time.Millisecond))
	if err := second.stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, second.out)
	}
	// The child has exited: its output is complete and no longer written.
	if !strings.Contains(second.out.String(), "handed back") {
		t.Errorf("the restart did not log the hand-back:\n%s", second.out)
	}
}

// TestChaosSecondServeRefused: a second serve on the same SQLite file
// refuses to start, naming the file and the process that holds it, while
// the operator's read commands keep working beside the running serve.
func TestChaosSecondServeRefused(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dsn := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	token := randomToken()
	first := startChild(t, tenant, dsn, token)

	cmd := exec.CommandContext(ctx, inviterBinary(t), serveArgs("127.0.0.1:0", dsn)...)
	cmd.Env = append(os.Environ(), "INVITER_WEBHOOK_TOKEN="+token)
	for k, v := range tenantEnv(tenant) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the second serve started on a file in use:\n%s", out)
	}
	for _, want := range []string{dsn, fmt.Sprintf("pid %d", first.cmd.Process.Pid), "in use by another inviter serve"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the refusal does not name %q:\n%s", want, out)
		}
	}
	if code, body := readyz(t, first); code != 200 {
		t.Errorf("the first serve after the refused second: /readyz %d %s", code, body)
	}
	for _, args := range [][]string{{"status", "--db", dsn}, {"jobs", "list", "--db", dsn}, {"audit", "--db", dsn}} {
		if res := runInviter(t, ctx, nil, args...); res.err != nil {
			t.Errorf("inviter %s beside a running serve: %v\n%s", strings.Join(args, " "), res.err, res.stderr)
		}
	}
	if err := first.stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, first.out)
	}
}

// TestChaosSQLiteFileDeleted: the SQLite file deleted under a running
// serve: every later delivery is answered 503 (ISC resends it) instead of
// 200 and lost, and /readyz reports not ready, naming the file.
func TestChaosSQLiteFileDeleted(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dsn := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(71, nil))
	d := startChild(t, tenant, dsn, randomToken())
	if codes := deliverAll(t, ctx, d, ids[:1], "Before"); codes[200] != 1 {
		t.Fatalf("the delivery before the deletion: %v", codes)
	}
	if err := os.Remove(dsn); err != nil {
		t.Fatal(err)
	}
	codes := deliverAll(t, ctx, d, ids[1:], "After")
	if codes[503] != len(ids)-1 {
		t.Errorf("answers after the deletion %v, want all %d 503 (none 200 and lost)", codes, len(ids)-1)
	}
	code, body := readyz(t, d)
	if code != 503 || !strings.Contains(body, "deleted") || !strings.Contains(body, dsn) {
		t.Errorf("/readyz after the deletion: %d %q, want 503 saying %s was deleted", code, body, dsn)
	}
	t.Logf("SQLite file deleted: %d later deliveries answered %v; /readyz %d %q", len(ids)-1, codes, code, strings.TrimSpace(body))
}

// TestChaosReplicaKilledPostgres: two serve replicas on PostgreSQL with the
// default settings; the one holding jobs is SIGKILLed. The survivor hands
// back its jobs once its heartbeat is OrphanAfter old and invites them:
// every acknowledged delivery is invited, each once, within 60 s of the
// kill.
func TestChaosReplicaKilledPostgres(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t) // skips without INVITER_TEST_POSTGRES_URL
	ctx := testContext(t)
	const n = 100
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(n, nil))
	token := randomToken()
	survivor := startChild(t, tenant, dsn, token)
	// The victim holds every job it fetches in its batcher for a minute, so
	// that it surely dies holding jobs and with nothing in flight at ISC.
	victim := startChild(t, tenant, dsn, token, "--batch-window", "1m", "--batch-size", "1000")
	codes := deliverAll(t, ctx, victim, ids, "Replica")
	if codes[200] != n {
		t.Fatalf("answers %v, want %d × 200", codes, n)
	}
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Wait until the jobs are running, most of them in the victim's hands.
	var held int
	for {
		err := db.PgxPool().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'invite' AND state = 'running'`).Scan(&held)
		if err != nil {
			t.Fatal(err)
		}
		if held > 0 && len(tenant.Invites())+held >= n {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the jobs never ran: %d running, %d invited", held, len(tenant.Invites()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killAt := time.Now()
	<-victim.exited
	waitInvited(t, tenant, ids, 90*time.Second)
	assertInvitedOnce(t, tenant, ids, survivor)
	took := lastInviteAt(tenant, ids).Sub(killAt)
	if took > 60*time.Second {
		t.Errorf("the dead replica's identities were invited %s after the SIGKILL, want within 60 s", took.Round(time.Millisecond))
	}
	t.Logf("PostgreSQL replica SIGKILLed holding %d jobs: all %d invited once, the last %s after the kill (heartbeat stale after %s, scanned every %s)",
		held, n, took.Round(time.Millisecond), queue.OrphanAfter, queue.HeartbeatEvery)
	if err := survivor.stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, survivor.out)
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted at
// cleanup (after the serves it holds are stopped). A real file system that
// fills up is what the disk-full case needs; making one takes the right to
// mount (root, as in CI's container).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("a full disk needs a small file system: mount tmpfs: %v (run as root)", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillTo writes ballast into dir until at most free bytes are left (0:
// until the file system refuses), and returns the ballast's path.
func fillTo(t *testing.T, dir string, free int64) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		left := int64(st.Bavail) * st.Bsize
		if left <= free || left == 0 {
			return path
		}
		n := min(int64(len(chunk)), left-free)
		if free == 0 {
			n = int64(len(chunk))
		}
		if _, err := f.Write(chunk[:n]); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// TestChaosDiskFull: a serve on SQLite whose disk fills up. Under the free
// space floor /readyz reports not ready; with the disk full while ISC
// answers invite calls, the outcomes that cannot be written are kept and
// written once there is room: every identity is mailed exactly once and
// recorded invited, nothing acknowledged is lost.
func TestChaosDiskFull(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := mountTmpfs(t, 48<<20)
	dsn := filepath.Join(dir, "inviter.db")
	const n = 100
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(n, nil))
	d := startChild(t, tenant, dsn, randomToken())

	// Below the floor (32 MiB) but not full: not ready.
	ballast := fillTo(t, dir, 20<<20)
	if code, body := readyz(t, d); code != 503 || !strings.Contains(body, "disk nearly full") {
		t.Errorf("/readyz with 20 MiB free: %d %q, want 503 disk nearly full", code, body)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitReady(t, d)

	// ISC slow enough that the invite calls are in flight when the disk
	// fills; the deliveries are acknowledged before.
	tenant.SetFaults(isctest.Faults{SlowRate: 1, SlowDelay: 1500 * time.Millisecond})
	if codes := deliverAll(t, ctx, d, ids, "Disk"); codes[200] != n {
		t.Fatalf("answers %v, want %d × 200", codes, n)
	}
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Fill the disk once every job is fetched (fetching writes too) and
	// ISC is being asked.
	waitJobsRunning(t, ctx, db, n)
	fillTo(t, dir, 0)
	waitInvited(t, tenant, ids, time.Minute) // ISC mails while the disk is full
	code, body := readyz(t, d)
	if code != 503 {
		t.Errorf("/readyz with the disk full: %d %q, want 503", code, body)
	}
	fullFor := time.Now()
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recordedWhileFull := c.Identities[inviter.StateInvited]
	if err := os.Remove(filepath.Join(dir, "ballast")); err != nil {
		t.Fatal(err)
	}
	tenant.SetFaults(isctest.Faults{})
	waitRecordedInvited(t, ctx, db, n)
	waitReady(t, d)
	assertInvitedOnce(t, tenant, ids, d)
	t.Logf("disk full: /readyz %d %q; %d of %d invitations recorded while full, all %d recorded %s after room came back; each mailed once",
		code, strings.TrimSpace(body), recordedWhileFull, n, n, time.Since(fullFor).Round(time.Millisecond))
	if err := d.stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, d.out)
	}
}

// TestChaosLongOutage: ISC down far longer than any attempt budget
// would survive, then back: nobody is lost. The outage is compressed: with
// --retry-backoff-max 1s (jittered: 0.5 to 1 s), 25 s of outage cost each
// job about as many retries as two hours cost with the default 5-minute cap
// (some 35), and
// --visibility-delay 5s leaves the jobs 16 attempts: an outage that used
// attempts would fail them all.
func TestChaosLongOutage(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			testLongOutage(t, b.DSN(t))
		})
	}
}

func testLongOutage(t *testing.T, dsn string) {
	ctx := testContext(t)
	const n, outage = 20, 25 * time.Second
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(n, nil))
	d := startChild(t, tenant, dsn, randomToken(), "--retry-backoff-max", "1s", "--visibility-delay", "5s")
	tenant.Outage(isctest.OutageErrors, outage)
	outageEnds := time.Now().Add(outage)
	if codes := deliverAll(t, ctx, d, ids, "Outage"); codes[200] != n {
		t.Fatalf("answers %v, want %d × 200", codes, n)
	}
	waitInvited(t, tenant, ids, outage+30*time.Second)
	assertInvitedOnce(t, tenant, ids, d)
	db := reopenChild(t, d, dsn)
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Identities[inviter.StateFailed] != 0 || c.Identities[inviter.StateInvited] != n {
		t.Errorf("after the outage: %v, want all %d invited and none failed", c.Identities, n)
	}
	var refused int
	for _, call := range tenant.Calls() {
		if call.Status == http.StatusServiceUnavailable {
			refused++
		}
	}
	t.Logf("outage of %s (a 2 h outage at the 5 min cap, compressed): %d ISC calls refused with 503, all %d invited once, the last %s after it ended; identities %v",
		outage, refused, n, lastInviteAt(tenant, ids).Sub(outageEnds).Round(time.Millisecond), c.Identities)
}

// reopenChild stops the child serve d gracefully and opens its database.
func reopenChild(t *testing.T, d *daemon, dsn string) *store.DB {
	t.Helper()
	if err := d.stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, d.out)
	}
	db, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestChaosShutdownDuringCalls: SIGTERM with --shutdown-wait 1s while ISC
// takes 3 s to answer each call: the calls in flight finish and their
// outcomes are recorded before the process exits, so the restart sends
// nobody twice.
func TestChaosShutdownDuringCalls(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			testShutdownDuringCalls(t, b.DSN(t))
		})
	}
}

func testShutdownDuringCalls(t *testing.T, dsn string) {
	ctx := testContext(t)
	const n = 400
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(n, nil))
	token := randomToken()
	first := startChild(t, tenant, dsn, token, "--shutdown-wait", "1s")
	tenant.SetFaults(isctest.Faults{SlowRate: 1, SlowDelay: 3 * time.Second})
	if codes := deliverAll(t, ctx, first, ids, "Shutdown"); codes[200] != n {
		t.Fatalf("answers %v, want %d × 200", codes, n)
	}
	// SIGTERM once invite calls are on the wire.
	for inviteCalls(tenant) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("no invite call reached the tenant")
		case <-time.After(20 * time.Millisecond):
		}
	}
	inFlight := inviteCalls(tenant)
	if err := first.stop(); err != nil {
		t.Errorf("stop: %v\n%s", err, first.out)
	}
	mailedByFirst := len(tenant.Invites())
	tenant.SetFaults(isctest.Faults{})
	second := startChild(t, tenant, dsn, token)
	waitInvited(t, tenant, ids, time.Minute)
	assertInvitedOnce(t, tenant, ids, second)
	t.Logf("SIGTERM with --shutdown-wait 1s, tenant answering in 3 s: %d invite calls in flight at the signal, %d identities mailed by the stopping serve, all %d mailed once after the restart",
		inFlight, mailedByFirst, n)
	if err := second.stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, second.out)
	}
}

// inviteCalls counts the invite calls the tenant has received, on any
// path and version.
func inviteCalls(tenant *isctest.Server) int {
	n := 0
	for _, c := range tenant.Calls() {
		if strings.HasSuffix(c.Endpoint, "/invite") {
			n++
		}
	}
	return n
}

// capture is a server that counts the requests reaching it and whether any
// carried a secret.
type capture struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests int
	secrets  int
}

func newCapture(t *testing.T, secrets ...string) *capture {
	c := &capture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.requests++
		all := string(body) + r.URL.String() + fmt.Sprint(r.Header)
		for _, s := range secrets {
			if s != "" && strings.Contains(all, s) {
				c.secrets++
			}
		}
		if r.Header.Get("Authorization") != "" {
			c.secrets++
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, c.secrets
}

// TestChaosRedirectsLeakNothing: a 307 on /oauth/token (at start) and on
// the invite call (same host, another port) is never followed: the
// redirect target sees no request at all, so neither the client secret
// nor the bearer token. serve refuses to start on the first (exit 2,
// naming SAIL_BASE_URL); on the second the identities wait as a
// configuration problem: pending, none failed, none mailed.
func TestChaosRedirectsLeakNothing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dsn := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	target := newCapture(t, tenant.ClientSecret())
	ids := identityIDs(tenant.CreateIdentities(10, nil))

	tenant.SetFaults(isctest.Faults{RedirectRate: 1, RedirectStatus: 307, RedirectTo: target.srv.URL + "/oauth/token",
		Endpoints: []string{"POST /oauth/token"}})
	cmd := exec.CommandContext(ctx, inviterBinary(t), serveArgs("127.0.0.1:0", dsn)...)
	cmd.Env = append(os.Environ(), "INVITER_WEBHOOK_TOKEN="+randomToken())
	for k, v := range tenantEnv(tenant) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !bytes.Contains(out, []byte("SAIL_BASE_URL")) {
		t.Errorf("serve with /oauth/token redirected: %v, want exit 2 naming SAIL_BASE_URL\n%s", err, out)
	}

	tenant.SetFaults(isctest.Faults{})
	d := startChild(t, tenant, dsn, randomToken())
	tenant.SetFaults(isctest.Faults{RedirectRate: 1, RedirectStatus: 307, RedirectTo: target.srv.URL + "/v2025/identities/invite",
		Endpoints: []string{"POST /v2025/identities/invite", "POST /beta/identities/invite"}})
	if codes := deliverAll(t, ctx, d, ids, "Redirect"); codes[200] != len(ids) {
		t.Fatalf("answers %v, want %d × 200", codes, len(ids))
	}
	for inviteCalls(tenant) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("no invite call reached the tenant")
		case <-time.After(20 * time.Millisecond):
		}
	}
	redirected := inviteCalls(tenant)
	db := reopenChild(t, d, dsn)
	if n := len(tenant.Invites()); n != 0 {
		t.Errorf("%d identities mailed through a redirected invite call", n)
	}
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Identities[inviter.StatePending] != int64(len(ids)) {
		t.Errorf("after a redirected invite: %v, want all %d pending (a configuration problem, not the identities' fault)", c.Identities, len(ids))
	}
	reqs, secrets := target.counts()
	if reqs != 0 || secrets != 0 {
		t.Errorf("the redirect target got %d requests, %d with a secret or token; want none", reqs, secrets)
	}
	t.Logf("307 on /oauth/token: serve exit 2; 307 on invite: %d redirected invite calls, none followed, identities %v; the redirect target saw %d requests, %d secrets",
		redirected, c.Identities, reqs, secrets)
}

// inviteEndpoints are the tenant's invite routes, whichever API family the
// client uses.
var inviteEndpoints = []string{"POST /beta/identities/invite", "POST /v2025/identities/invite"}

// waitAudit waits until the database holds n audit rows of identities in
// ids with an error kind of kind, and returns one of them.
func waitAudit(t *testing.T, ctx context.Context, db *store.DB, ids []string, kind store.ErrorKind, n int) store.AuditEntry {
	t.Helper()
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	for {
		rows, err := db.Audit(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		var got []store.AuditEntry
		seen := map[string]bool{}
		for _, a := range rows {
			if want[a.IdentityID] && a.ErrorKind == kind && !seen[a.IdentityID] {
				seen[a.IdentityID] = true
				got = append(got, a)
			}
		}
		if len(got) >= n {
			return got[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d identities have an audit row of kind %q", len(got), n, kind)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestChaosUnauthorizedIsAConfigurationProblem: every invite call answered
// 401, even with a fresh token. The identities are not at fault: they wait
// (pending, an audit row of kind config naming the 401), nobody is failed
// or mailed.
func TestChaosUnauthorizedIsAConfigurationProblem(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dsn := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(20, nil))
	d := startChild(t, tenant, dsn, randomToken())
	tenant.SetFaults(isctest.Faults{UnauthorizedRate: 1, Endpoints: inviteEndpoints})
	if codes := deliverAll(t, ctx, d, ids, "Unauthorized"); codes[200] != len(ids) {
		t.Fatalf("answers %v, want %d × 200", codes, len(ids))
	}
	reader, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	a := waitAudit(t, ctx, reader, ids, store.ErrorKindConfig, len(ids))
	calls := inviteCalls(tenant)
	db := reopenChild(t, d, dsn)
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Identities[inviter.StatePending] != int64(len(ids)) || len(tenant.Invites()) != 0 || !strings.Contains(a.Reason, "401") {
		t.Errorf("after 401s: identities %v, %d mailed, audit %q; want all pending, none mailed, the reason naming the 401", c.Identities, len(tenant.Invites()), a.Reason)
	}
	t.Logf("401 on every invite call: %d invite calls, identities %v, audit %q", calls, c.Identities, a.Reason)
}

// TestChaosRetryAfterSnoozesTheJobs: a 429 asking for a day: the jobs are
// put off for the cap (10 minutes), at once, without a batch held for its
// job timeout; nobody is failed.
func TestChaosRetryAfterSnoozesTheJobs(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dsn := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{})
	t.Cleanup(tenant.Close)
	ids := identityIDs(tenant.CreateIdentities(20, nil))
	d := startChild(t, tenant, dsn, randomToken())
	tenant.SetFaults(isctest.Faults{TooManyRate: 1, RetryAfter: 86400, Endpoints: inviteEndpoints})
	if codes := deliverAll(t, ctx, d, ids, "RetryAfter"); codes[200] != len(ids) {
		t.Fatalf("answers %v, want %d × 200", codes, len(ids))
	}
	acked := time.Now()
	reader, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	a := waitAudit(t, ctx, reader, ids, store.ErrorKindTransient, len(ids))
	waitJobsScheduled(t, ctx, reader, len(ids))
	putOff := time.Since(acked)
	if putOff > 30*time.Second {
		t.Errorf("the jobs were put off %s after the deliveries: a batch was held, want at once", putOff.Round(time.Millisecond))
	}
	db := reopenChild(t, d, dsn)
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Identities[inviter.StatePending] != int64(len(ids)) || !strings.Contains(a.Reason, "10m0s") {
		t.Errorf("after Retry-After 86400: identities %v, audit %q; want all pending, put off for the 10 min cap", c.Identities, a.Reason)
	}
	t.Logf("Retry-After 86400: %d invite calls, all %d jobs scheduled %s after the deliveries; audit %q", inviteCalls(tenant), len(ids), putOff.Round(time.Millisecond), a.Reason)
}

// waitJobsScheduled waits until n invite jobs are scheduled for later and
// none is running (held).
func waitJobsScheduled(t *testing.T, ctx context.Context, db *store.DB, n int) {
	t.Helper()
	for {
		jobs, err := db.CountJobs(ctx)
		if err == nil && jobs["scheduled"] >= int64(n) && jobs["running"] == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("jobs not all put off: %v, %v", jobs, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
