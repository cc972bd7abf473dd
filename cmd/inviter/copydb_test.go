package main

import (
	"strings"
	"testing"
	"time"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/isctest"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

func TestCopyDBRefusesWrongDatabases(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"from postgres", []string{"--from", "postgres://h/db", "--to", "postgres://h/db2"}, 2, "--from must be a SQLite file"},
		{"to sqlite", []string{"--from", "a.db", "--to", "b.db"}, 2, "--to must be a postgres"},
		{"no to", []string{"--from", "a.db"}, 2, "--to is required"},
		{"missing from", []string{"--from", t.TempDir() + "/none.db", "--to", "postgres://127.0.0.1:1/x"}, 1, "no database at"},
	}
	for _, tt := range tests {
		res := runInviter(t, ctx, nil, append([]string{"copy-db"}, tt.args...)...)
		if res.err == nil || exitCode(res.err) != tt.code || !strings.Contains(res.err.Error(), tt.want) {
			t.Errorf("%s: err = %v (exit %d), want exit %d and %q", tt.name, res.err, exitCode(res.err), tt.code, tt.want)
		}
	}
	// INVITER_DB is --from's default.
	res := runInviter(t, ctx, map[string]string{"INVITER_DB": "postgres://h/db"}, "copy-db", "--to", "postgres://h/db2")
	if res.err == nil || !strings.Contains(res.err.Error(), "--from must be a SQLite file") {
		t.Errorf("INVITER_DB=postgres://…: err = %v, want --from refused", res.err)
	}
}

func TestCopyDBRefusesWhileTheDaemonRuns(t *testing.T) {
	t.Parallel()
	tenant := isctest.NewServer(isctest.Options{Users: 1})
	t.Cleanup(tenant.Close)
	dsn := storetest.SQLiteDSN(t)
	startServe(t, tenant, dsn)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The target is never reached: the check comes first.
		res := runInviter(t, testContext(t), nil, "copy-db", "--from", dsn, "--to", "postgres://127.0.0.1:1/x")
		if res.err != nil && strings.Contains(res.err.Error(), "a daemon is running on --from") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("copy-db with serve running: err = %v, want a refusal naming the running daemon", res.err)
		}
		time.Sleep(200 * time.Millisecond) // polling: River's leader election in serve announces nothing
	}
}

// TestCopyDBMovesQueuedWork copies a SQLite database with invite jobs in
// every unfinished state to PostgreSQL, then starts serve there: every
// queued identity is invited once, the finished one is not, and the cut-off
// is the source's.
func TestCopyDBMovesQueuedWork(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	to := storetest.PostgresDSN(t) // skips without PostgreSQL
	from := storetest.SQLiteDSN(t)
	tenant := isctest.NewServer(isctest.Options{Users: 10})
	t.Cleanup(tenant.Close)
	idents := identityIDs(tenant.CreateIdentities(6, nil))
	avail, sched, retry, running, done, dead := idents[0], idents[1], idents[2], idents[3], idents[4], idents[5]

	// The source, as a killed daemon leaves it.
	src, err := store.Open(ctx, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := queue.Migrate(ctx, src); err != nil {
		t.Fatal(err)
	}
	cutoff := time.Now().Add(-90 * 24 * time.Hour).UTC().Truncate(time.Second)
	if err := src.SetMeta(ctx, store.MetaInitialisedAt, cutoff.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	q, err := queue.New(src, queue.Config{InsertOnly: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobOf := map[string]int64{}
	for _, id := range []string{avail, retry, running, done, dead} {
		res, err := q.AcceptDelivery(ctx, inviter.IdentityCreated{Identity: inviter.IdentityRef{ID: id, Name: "N"}}, payload(id, "N"), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		jobOf[id] = res.JobID
	}
	schedAt := time.Now().Add(3 * time.Second).UTC().Truncate(time.Millisecond)
	res, err := q.Enqueue(ctx, sched, inviter.SourceCLI, &queue.EnqueueOpts{ScheduledAt: schedAt})
	if err != nil {
		t.Fatal(err)
	}
	jobOf[sched] = res.JobID
	sqlDB := src.SQLDB()
	for _, u := range []struct {
		set string
		id  string
	}{
		{`state = 'retryable', attempt = 1, attempted_at = datetime('now', 'subsec'), scheduled_at = datetime('now', '+2 seconds', 'subsec')`, retry},
		{`state = 'running', attempt = 1, attempted_at = datetime('now', '-1 minute', 'subsec'), attempted_by = '["killed"]'`, running},
		{`state = 'completed', attempt = 1, attempted_at = datetime('now', 'subsec'), finalized_at = datetime('now', 'subsec')`, done},
		{`state = 'cancelled', attempt = 1, attempted_at = datetime('now', 'subsec'), finalized_at = datetime('now', 'subsec')`, dead},
	} {
		if _, err := sqlDB.ExecContext(ctx, `UPDATE river_job SET `+u.set+` WHERE id = $1`, jobOf[u.id]); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Record(ctx, store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{
		IdentityID: done, Outcome: inviter.OutcomeInvited, API: inviter.APIPublic}}); err != nil {
		t.Fatal(err)
	}
	src.Close()

	out := runInviter(t, ctx, map[string]string{"INVITER_DB": from}, "copy-db", "--to", to)
	if out.err != nil {
		t.Fatalf("copy-db: %v\n%s", out.err, out.stderr)
	}
	t.Logf("copy-db output:\n%s", out.stdout)
	for _, want := range []string{"inviter_identities  6 rows", "inviter_deliveries  5 rows", "inviter_audit       1 rows",
		"4 re-enqueued", "available 1, scheduled 1, retryable 1, running (daemon killed) 1", "1 failed invite jobs",
		"initialised_at " + cutoff.Format(time.RFC3339)} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// The target has the source's cut-off (queue.TestCopy checks the jobs
	// themselves).
	dst, err := store.Open(ctx, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if at, _ := dst.InitialisedAt(ctx); !at.Equal(cutoff) {
		t.Errorf("target cut-off %v, want the source's %v", at, cutoff)
	}

	// Again without --force: refused. With --force: nothing is queued twice.
	again := runInviter(t, ctx, nil, "copy-db", "--from", from, "--to", to)
	if again.err == nil || !strings.Contains(again.err.Error(), "--force") {
		t.Errorf("second copy-db: err = %v, want a refusal naming --force", again.err)
	}
	again = runInviter(t, ctx, nil, "copy-db", "--from", from, "--to", to, "--force")
	if again.err != nil || !strings.Contains(again.stdout, "4 of them were already queued") {
		t.Errorf("copy-db --force: %v\n%s", again.err, again.stdout)
	}

	// A daemon on the target works the queue the SQLite daemon left.
	d := startServe(t, tenant, to)
	queued := []string{avail, sched, retry, running}
	waitInvited(t, tenant, queued, 30*time.Second)
	assertInvitedOnce(t, tenant, queued, d)
	if n := tenant.InviteCount(done) + tenant.InviteCount(dead); n != 0 {
		t.Errorf("finished jobs were worked again: %d invites", n)
	}
}
