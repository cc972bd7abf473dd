package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// TestStoreRecords covers the columns and queries of schema version 2 on
// every backend.
func TestStoreRecords(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			runRecordsSuite(t, withRiver(b.Open))
		})
	}
}

func runRecordsSuite(t *testing.T, open func(t testing.TB) *store.DB) {
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

	t.Run("TestDeliveries", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		if n, last, err := db.TestDeliveries(ctx); err != nil || n != 0 || !last.IsZero() {
			t.Fatalf("TestDeliveries on an empty database = %d, %v, %v", n, last, err)
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: "real", Payload: []byte(`{}`), ReceivedAt: at}); err != nil {
				return err
			}
			for i := range 2 {
				if _, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: "sample", IdentityName: "Michael Michaels",
					Payload: []byte(`{}`), ReceivedAt: at.Add(time.Duration(i) * time.Minute), Kind: store.DeliveryTest}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		n, last, err := db.TestDeliveries(ctx)
		if err != nil || n != 2 || !last.Equal(at.Add(time.Minute)) {
			t.Errorf("TestDeliveries = %d, %v, %v; want 2, %v", n, last, err, at.Add(time.Minute))
		}
		ds, err := db.Deliveries(ctx, "real", 10)
		if err != nil || len(ds) != 1 || ds[0].Kind != store.DeliveryEvent {
			t.Errorf("a delivery stored without a kind reads back as %+v, %v; want kind event", ds, err)
		}
		tds, err := db.RecentTestDeliveries(ctx, 10)
		if err != nil || len(tds) != 2 || tds[0].Kind != store.DeliveryTest || tds[0].IdentityName != "Michael Michaels" {
			t.Errorf("RecentTestDeliveries = %+v, %v", tds, err)
		}
	})

	t.Run("ErrorKindsAndCompletion", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		rec := func(id string, o inviter.Outcome, s inviter.InviteState, kind store.ErrorKind) {
			t.Helper()
			if err := db.Record(ctx, store.Decision{State: s, AuditEntry: store.AuditEntry{IdentityID: id, At: at, Outcome: o,
				Reason: "r", TaskID: "task-" + id, CompletionStatus: "SUCCESS", ErrorKind: kind}}); err != nil {
				t.Fatal(err)
			}
		}
		rec("transient", inviter.OutcomeFailed, inviter.StateFailed, store.ErrorKindTransient)
		rec("permanent", inviter.OutcomeFailed, inviter.StateFailed, store.ErrorKindPermanent)
		rec("retrying", inviter.OutcomeFailed, "", store.ErrorKindTransient) // still pending
		rec("recovered", inviter.OutcomeFailed, inviter.StateFailed, store.ErrorKindTransient)
		rec("recovered", inviter.OutcomeInvited, inviter.StateInvited, "")
		rec("config", inviter.OutcomeFailed, inviter.StateFailed, store.ErrorKindConfig)
		// A dead letter recorded before error kinds existed.
		if err := db.Record(ctx, store.Decision{State: inviter.StateFailed, AuditEntry: store.AuditEntry{IdentityID: "legacy", At: at.Add(time.Second),
			Outcome: inviter.OutcomeFailed, Reason: "giving up after 27 attempts: 503"}}); err != nil {
			t.Fatal(err)
		}

		got, err := db.TransientFailures(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, i := range got {
			gotIDs = append(gotIDs, i.IdentityID)
		}
		slices.Sort(gotIDs)
		if strings.Join(gotIDs, ",") != "config,legacy,transient" {
			t.Errorf("TransientFailures = %v, want config,legacy,transient (failed, not through the identity's fault)", gotIDs)
		}
		if i, err := db.Identity(ctx, "recovered"); err != nil || i.LastErrorKind != "" {
			t.Errorf("after a success LastErrorKind = %q, %v; want empty", i.LastErrorKind, err)
		}
		a, err := db.Audit(ctx, "permanent", 1)
		if err != nil || len(a) != 1 || a[0].CompletionStatus != "SUCCESS" || a[0].TaskID != "task-permanent" || a[0].ErrorKind != store.ErrorKindPermanent {
			t.Errorf("audit = %+v, %v", a, err)
		}
	})

	t.Run("NamesInOneQuery", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for _, d := range []store.Delivery{
				{IdentityID: "a", IdentityName: "Ann Old", ReceivedAt: at},
				{IdentityID: "a", IdentityName: "Ann New", ReceivedAt: at.Add(time.Second)},
				{IdentityID: "a", IdentityName: "", ReceivedAt: at.Add(2 * time.Second)},
				{IdentityID: "b", IdentityName: "Bob", ReceivedAt: at},
			} {
				d.Payload = []byte(`{}`)
				if _, err := tx.InsertDelivery(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []store.Decision{
			{State: inviter.StateFailed, AuditEntry: store.AuditEntry{IdentityID: "a", Outcome: inviter.OutcomeFailed, Reason: "first"}},
			{State: inviter.StateFailed, AuditEntry: store.AuditEntry{IdentityID: "a", Outcome: inviter.OutcomeNotFound, Reason: "second"}},
			{State: inviter.StateFailed, AuditEntry: store.AuditEntry{IdentityID: "b", Outcome: inviter.OutcomeFailed, Reason: "b failed"}},
			{State: inviter.StateInvited, AuditEntry: store.AuditEntry{IdentityID: "b", Outcome: inviter.OutcomeInvited}},
			{State: inviter.StateFailed, AuditEntry: store.AuditEntry{IdentityID: "c", Outcome: inviter.OutcomeFailed, Reason: "nameless"}},
		} {
			if err := db.Record(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		all, err := db.AuditNamed(ctx, "", nil, 10)
		if err != nil || len(all) != 5 {
			t.Fatalf("AuditNamed = %d rows, %v", len(all), err)
		}
		names := map[string]string{}
		for _, e := range all {
			names[e.IdentityID] = e.Name
		}
		if names["a"] != "Ann New" || names["b"] != "Bob" || names["c"] != "" {
			t.Errorf("names = %v, want a: Ann New (latest non-empty), b: Bob, c: none", names)
		}
		inv, err := db.AuditNamed(ctx, "b", []inviter.Outcome{inviter.OutcomeInvited}, 10)
		if err != nil || len(inv) != 1 || inv[0].Name != "Bob" || inv[0].Outcome != inviter.OutcomeInvited {
			t.Errorf("AuditNamed(b, invited) = %+v, %v", inv, err)
		}
		cur, err := db.CurrentErrors(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range cur {
			got = append(got, e.IdentityID+":"+e.Reason+":"+e.Name)
		}
		if want := "c:nameless:,a:second:Ann New"; strings.Join(got, ",") != want {
			t.Errorf("CurrentErrors = %v, want %s (b was invited since; one row per identity, its latest)", got, want)
		}
	})

	t.Run("ReconcileRun", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		if _, err := db.ReconcileRun(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ReconcileRun before any = %v, want ErrNotFound", err)
		}
		want := store.ReconcileRun{At: at, CutOff: at.Add(-time.Hour), Enqueued: 3, Err: "boom"}
		if err := db.SetReconcileRun(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := db.ReconcileRun(ctx)
		if err != nil || !got.At.Equal(want.At) || !got.CutOff.Equal(want.CutOff) || got.Enqueued != 3 || got.Err != "boom" {
			t.Errorf("ReconcileRun = %+v, %v; want %+v", got, err, want)
		}
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		now := time.Now().UTC()
		err := db.InTx(ctx, func(tx *store.Tx) error {
			for i := range 1200 { // more than one batch
				if _, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: "old" + strconv.Itoa(i), Payload: []byte(`{"name":"x"}`),
					ReceivedAt: now.Add(-31 * 24 * time.Hour)}); err != nil {
					return err
				}
			}
			_, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: "new", Payload: []byte(`{}`), ReceivedAt: now.Add(-29 * 24 * time.Hour)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []store.AuditEntry{{IdentityID: "old0", At: now.Add(-401 * 24 * time.Hour)}, {IdentityID: "new", At: now}} {
			if err := db.Record(ctx, store.Decision{State: inviter.StateInvited, AuditEntry: store.AuditEntry{IdentityID: e.IdentityID, At: e.At, Outcome: inviter.OutcomeInvited}}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := db.PruneDeliveries(ctx, now.Add(-30*24*time.Hour))
		if err != nil || n != 1200 {
			t.Errorf("PruneDeliveries = %d, %v; want 1200", n, err)
		}
		c, _ := db.Counts(ctx)
		if c.Deliveries != 1 {
			t.Errorf("%d deliveries left, want 1 (the recent one)", c.Deliveries)
		}
		n, err = db.PruneAudit(ctx, now.Add(-400*24*time.Hour))
		if err != nil || n != 1 {
			t.Errorf("PruneAudit = %d, %v; want 1", n, err)
		}
		if i, err := db.Identity(ctx, "old0"); err != nil || i.State != inviter.StateInvited {
			t.Errorf("identity after the prunes = %+v, %v; its state must stay (it stops a second invite)", i, err)
		}
	})

	t.Run("Ready", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		if err := db.Ready(ctx); err != nil {
			t.Errorf("Ready on a fresh database: %v", err)
		}
	})

	t.Run("HandBackOrphanedJobs", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		if db.Backend() != store.BackendPostgres {
			if ids, err := db.HandBackOrphanedJobs(ctx, time.Second); err != nil || ids != nil {
				t.Errorf("HandBackOrphanedJobs on SQLite = %v, %v; want nothing", ids, err)
			}
			return
		}
		dead, alive, unknown := insertJob(t, db), insertJob(t, db), insertJob(t, db)
		setRunning(t, db, dead, "client-dead")
		setRunning(t, db, alive, "client-alive")
		setRunning(t, db, unknown, "client-without-heartbeat")
		start := time.Now()
		for _, c := range []string{"client-dead", "client-alive"} {
			if err := db.Heartbeat(ctx, c, start); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.PgxPool().Exec(ctx, `UPDATE inviter_processes SET heartbeat_at = now() - interval '20 seconds' WHERE client_id = 'client-dead'`); err != nil {
			t.Fatal(err)
		}
		ids, err := db.HandBackOrphanedJobs(ctx, 15*time.Second)
		if err != nil || len(ids) != 1 || ids[0] != dead {
			t.Errorf("HandBackOrphanedJobs = %v, %v; want only job %d (its holder silent for 20 s)", ids, err, dead)
		}
		for id, want := range map[int64]string{dead: "available", alive: "running", unknown: "running"} {
			if got := jobState(t, db, id); got != want {
				t.Errorf("job %d is %s, want %s", id, got, want)
			}
		}
		// A graceful stop ends the heartbeat: the next scan takes its jobs.
		if err := db.EndHeartbeat(ctx, "client-alive"); err != nil {
			t.Fatal(err)
		}
		if ids, err := db.HandBackOrphanedJobs(ctx, 15*time.Second); err != nil || len(ids) != 1 || ids[0] != alive {
			t.Errorf("after EndHeartbeat HandBackOrphanedJobs = %v, %v; want %d", ids, err, alive)
		}
	})
}

// noopArgs is a job kind for tests that need rows in river_job.
type noopArgs struct{}

func (noopArgs) Kind() string { return "noop" }

// insertJob inserts an available job with River's own client.
func insertJob(t *testing.T, db *store.DB) int64 {
	t.Helper()
	ctx := context.Background()
	if db.Backend() == store.BackendPostgres {
		c, err := river.NewClient(riverpgxv5.New(db.PgxPool()), &river.Config{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Insert(ctx, noopArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Job.ID
	}
	c, err := river.NewClient(riversqlite.New(db.SQLDB()), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Insert(ctx, noopArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Job.ID
}

// setRunning makes job id running, attempted by client, as a fetch does.
func setRunning(t *testing.T, db *store.DB, id int64, client string) {
	t.Helper()
	var err error
	if db.Backend() == store.BackendPostgres {
		_, err = db.PgxPool().Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = 1,
			attempted_at = now(), attempted_by = ARRAY[$2::text] WHERE id = $1`, id, client)
	} else {
		_, err = db.SQLDB().Exec(`UPDATE river_job SET state = 'running', attempt = 1,
			attempted_at = datetime('now', 'subsec'), attempted_by = json_array($2) WHERE id = $1`, id, client)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func jobState(t *testing.T, db *store.DB, id int64) string {
	t.Helper()
	var s string
	var err error
	if db.Backend() == store.BackendPostgres {
		err = db.PgxPool().QueryRow(context.Background(), `SELECT state::text FROM river_job WHERE id = $1`, id).Scan(&s)
	} else {
		err = db.SQLDB().QueryRow(`SELECT state FROM river_job WHERE id = $1`, id).Scan(&s)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServeLock: one process (here, one DB) holds a SQLite file's serve
// lock; another gets a message naming the file and the holder, and gets
// the lock once the first closes. Readers need no lock.
func TestServeLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inviter.db")
	first, err := store.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.LockForServe(); err != nil {
		t.Fatal(err)
	}
	if !first.HoldsServeLock() {
		t.Error("HoldsServeLock = false after LockForServe")
	}
	second, err := store.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("a reader could not open the locked file: %v", err)
	}
	defer second.Close()
	err = second.LockForServe()
	var le *store.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second LockForServe = %v, want a *LockedError", err)
	}
	msg := err.Error()
	for _, want := range []string{path, "pid " + strconv.Itoa(os.Getpid()), store.LockPath(path)} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not name %q", msg, want)
		}
	}
	if second.HoldsServeLock() {
		t.Error("HoldsServeLock = true without the lock")
	}
	if _, err := second.HandBackRunningJobs(ctx); err == nil {
		t.Error("HandBackRunningJobs without the lock succeeded")
	}
	// Another name of the same file shares the lock.
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	third, err := store.Open(ctx, link, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if err := third.LockForServe(); !errors.As(err, &le) {
		t.Errorf("LockForServe through a symbolic link = %v, want a *LockedError", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := second.LockForServe(); err != nil {
		t.Errorf("LockForServe after the holder closed: %v", err)
	}
}

// TestHandBackRunningJobs: with the serve lock, every running job of the
// file is a dead process's and becomes available.
func TestHandBackRunningJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := withRiver(storetest.OpenSQLite)(t)
	running, waiting := insertJob(t, db), insertJob(t, db)
	setRunning(t, db, running, "dead")
	if err := db.LockForServe(); err != nil {
		t.Fatal(err)
	}
	n, err := db.HandBackRunningJobs(ctx)
	if err != nil || n != 1 {
		t.Fatalf("HandBackRunningJobs = %d, %v; want 1", n, err)
	}
	if s := jobState(t, db, running); s != "available" {
		t.Errorf("the dead process's job is %s, want available", s)
	}
	if s := jobState(t, db, waiting); s != "available" {
		t.Errorf("the waiting job is %s, want available", s)
	}
}

// TestDatabaseFileGone: once the SQLite file is deleted or replaced, Ready
// says so and a commit is reported as failed (what it wrote nobody will
// read), so nothing is acknowledged.
func TestDatabaseFileGone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, how := range []string{"deleted", "replaced"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "inviter.db")
			db, err := store.Open(ctx, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := db.Ready(ctx); err != nil {
				t.Fatalf("Ready before: %v", err)
			}
			if how == "deleted" {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				other := path + ".new"
				if err := os.WriteFile(other, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(other, path); err != nil {
					t.Fatal(err)
				}
			}
			err = db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.InsertDelivery(ctx, store.Delivery{IdentityID: "x", Payload: []byte(`{}`), ReceivedAt: time.Now()})
				return err
			})
			if !errors.Is(err, store.ErrDatabaseGone) || !strings.Contains(err.Error(), how) {
				t.Errorf("InTx after the file was %s = %v, want ErrDatabaseGone saying %s", how, err, how)
			}
			if err := db.Ready(ctx); !errors.Is(err, store.ErrDatabaseGone) {
				t.Errorf("Ready after the file was %s = %v, want ErrDatabaseGone", how, err)
			}
		})
	}
}

// TestReadyDiskFloor: less free space than the floor is not ready.
func TestReadyDiskFloor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := withRiver(storetest.OpenSQLite)(t)
	db.SetMinFreeBytes(1 << 62) // more than any disk has free
	if err := db.Ready(ctx); err == nil || !strings.Contains(err.Error(), "disk nearly full") {
		t.Errorf("Ready with the floor above the free space = %v, want disk nearly full", err)
	}
	db.SetMinFreeBytes(0)
	if err := db.Ready(ctx); err != nil {
		t.Errorf("Ready with the check off: %v", err)
	}
}
