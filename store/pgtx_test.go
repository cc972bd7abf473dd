package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// intakeGroup stores n deliveries of new identities and links them to
// jobs, as the intake's group commit does (River's insert aside).
func intakeGroup(ctx context.Context, tx *store.Tx, prefix string, n int) error {
	now := time.Now()
	ds := make([]store.Delivery, n)
	seen := make([]store.IdentitySeen, n)
	for i := range ds {
		id := fmt.Sprintf("%s-%d", prefix, i)
		ds[i] = store.Delivery{IdentityID: id, IdentityName: "N", Payload: []byte(`{}`), ReceivedAt: now}
		seen[i] = store.IdentitySeen{IdentityID: id, EventAt: now, Now: now}
	}
	ids, _, err := tx.InsertDeliveriesAndIdentities(ctx, ds, seen)
	if err != nil {
		return err
	}
	links := make([]store.DeliveryJob, len(ids))
	for i, id := range ids {
		links[i] = store.DeliveryJob{DeliveryID: id, JobID: 1000 + id}
	}
	return tx.SetDeliveryJobs(ctx, links)
}

// decisions returns n accepted invitations of new identities.
func decisions(prefix string, n int) []store.Decision {
	ds := make([]store.Decision, n)
	for i := range ds {
		ds[i] = store.Decision{AuditEntry: store.AuditEntry{IdentityID: fmt.Sprintf("%s-%d", prefix, i), At: time.Now(),
			Outcome: inviter.OutcomeInvited, API: inviter.APIPublic, TaskID: "task", BatchID: "batch", Attempt: 1, Source: inviter.SourceEvent},
			State: inviter.StateInvited}
	}
	return ds
}

// countRows counts the rows of table.
func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.PgxPool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkPoolIdle fails unless the pool's connections are all back and idle
// and a transaction runs on them.
func checkPoolIdle(t *testing.T, db *store.DB) {
	t.Helper()
	if s := db.PgxPool().Stat(); s.AcquiredConns() != 0 {
		t.Errorf("%d connections still acquired", s.AcquiredConns())
	}
	ctx := context.Background()
	var one int
	err := db.InTx(ctx, func(tx *store.Tx) error { return tx.PgxTx().QueryRow(ctx, "SELECT 1").Scan(&one) })
	if err != nil || one != 1 {
		t.Errorf("transaction after: %v, %d", err, one)
	}
}

// TestPostgresTxRoundTrips counts the round trips of PostgreSQL
// transactions: BEGIN shares the first statement's, the link update
// COMMIT's, and a transaction without statements sends nothing.
func TestPostgresTxRoundTrips(t *testing.T) {
	db, rt := storetest.OpenCounted(t, migrateStore)
	ctx := context.Background()
	// The first group prepares the statements on the connection.
	if err := db.InTx(ctx, func(tx *store.Tx) error { return intakeGroup(ctx, tx, "warm", 8) }); err != nil {
		t.Fatal(err)
	}
	groups := 0
	for _, c := range []struct {
		name string
		fn   func(tx *store.Tx) error
		want int64
	}{
		{"group of 8", func(tx *store.Tx) error {
			groups++
			return intakeGroup(ctx, tx, fmt.Sprint("g", groups), 8)
		}, 2},
		{"no statement", func(*store.Tx) error { return nil }, 0},
		{"one statement", func(tx *store.Tx) error {
			_, err := tx.PgxTx().Exec(ctx, "SELECT 1")
			return err
		}, 2},
		{"several statements", func(tx *store.Tx) error {
			_, err := tx.PgxTx().Exec(ctx, "SELECT 1; SELECT 2")
			return err
		}, 2},
		{"one query", func(tx *store.Tx) error {
			var n int
			return tx.PgxTx().QueryRow(ctx, "SELECT 2").Scan(&n)
		}, 2},
		{"outcomes of 8", func(tx *store.Tx) error {
			groups++
			return tx.RecordMany(ctx, decisions(fmt.Sprint("o", groups), 8))
		}, 1},
		{"link update only", func(tx *store.Tx) error {
			return tx.SetDeliveryJobs(ctx, []store.DeliveryJob{{DeliveryID: 1, JobID: 9}})
		}, 1},
	} {
		// Each case runs twice: the first prepares its statements.
		for run := range 2 {
			before := rt.Count()
			if err := db.InTx(ctx, c.fn); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := rt.Count() - before; run == 1 && got != c.want {
				t.Errorf("%s: %d round trips, want %d", c.name, got, c.want)
			}
		}
	}
	if n := countRows(t, db, "inviter_deliveries"); n != 24 {
		t.Errorf("%d deliveries stored, want 24", n)
	}
}

// TestPostgresTxFailures checks that a PostgreSQL transaction that fails
// anywhere stores nothing and leaves its connection clean for the next.
func TestPostgresTxFailures(t *testing.T) {
	db, _ := storetest.OpenCounted(t, migrateStore)
	ctx := context.Background()
	cases := []struct {
		name  string
		ctx   func() (context.Context, context.CancelFunc)
		fn    func(ctx context.Context, cancel context.CancelFunc, tx *store.Tx) error
		check func(error) bool
	}{
		{
			name: "link update of a missing delivery fails the commit",
			fn: func(ctx context.Context, _ context.CancelFunc, tx *store.Tx) error {
				if err := intakeGroup(ctx, tx, "missing", 3); err != nil {
					return err
				}
				return tx.SetDeliveryJobs(ctx, []store.DeliveryJob{{DeliveryID: 1 << 40, JobID: 1}})
			},
			check: func(err error) bool { return errors.Is(err, store.ErrNotFound) },
		},
		{
			name: "failing statement queued for commit",
			fn: func(ctx context.Context, _ context.CancelFunc, tx *store.Tx) error {
				if err := intakeGroup(ctx, tx, "bad", 3); err != nil {
					return err
				}
				return store.ExecAtCommit(ctx, tx, "SELECT 1/0")
			},
			check: func(err error) bool {
				var pgErr *pgconn.PgError
				return errors.As(err, &pgErr) && pgErr.Code == "22012"
			},
		},
		{
			name: "outcomes failing on the server",
			fn: func(ctx context.Context, _ context.CancelFunc, tx *store.Tx) error {
				if err := intakeGroup(ctx, tx, "outcomes", 2); err != nil {
					return err
				}
				// PostgreSQL's text holds no NUL: the statements queued for
				// the commit fail there.
				return tx.RecordMany(ctx, append(decisions("ok", 2), decisions("bad\x00", 1)...))
			},
			check: func(err error) bool {
				var pgErr *pgconn.PgError
				return errors.As(err, &pgErr) && strings.HasPrefix(err.Error(), "commit: record decisions: ")
			},
		},
		{
			name: "commit answered ROLLBACK",
			fn: func(ctx context.Context, _ context.CancelFunc, tx *store.Tx) error {
				if _, err := tx.InsertDeliveries(ctx, []store.Delivery{{IdentityID: "aborted", Payload: []byte(`{}`), ReceivedAt: time.Now()}}); err != nil {
					return err
				}
				// The failure is ignored, so the transaction is aborted when
				// it commits.
				_, _ = tx.PgxTx().Exec(ctx, "SELECT 1/0")
				return nil
			},
			check: func(err error) bool { return errors.Is(err, pgx.ErrTxCommitRollback) },
		},
		{
			name: "commit answered ROLLBACK, statements queued",
			fn: func(ctx context.Context, _ context.CancelFunc, tx *store.Tx) error {
				if err := intakeGroup(ctx, tx, "aborted-queued", 2); err != nil {
					return err
				}
				_, _ = tx.PgxTx().Exec(ctx, "SELECT 1/0") // ignored, as above
				return tx.RecordMany(ctx, decisions("aborted-queued", 2))
			},
			check: func(err error) bool { return errors.Is(err, pgx.ErrTxCommitRollback) },
		},
		{
			name: "cancelled between statements",
			ctx:  func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) },
			fn: func(ctx context.Context, cancel context.CancelFunc, tx *store.Tx) error {
				if err := intakeGroup(ctx, tx, "cancelled", 3); err != nil {
					return err
				}
				cancel()
				_, err := tx.PgxTx().Exec(ctx, "SELECT 1")
				return err
			},
			check: func(err error) bool { return errors.Is(err, context.Canceled) },
		},
		{
			name: "cancelled before commit",
			ctx:  func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) },
			fn: func(ctx context.Context, cancel context.CancelFunc, tx *store.Tx) error {
				if err := intakeGroup(ctx, tx, "cancelled-commit", 3); err != nil {
					return err
				}
				cancel()
				return nil
			},
			check: func(err error) bool { return errors.Is(err, context.Canceled) },
		},
		{
			name: "first statement several, failing",
			fn: func(ctx context.Context, _ context.CancelFunc, tx *store.Tx) error {
				_, err := tx.PgxTx().Exec(ctx, `INSERT INTO inviter_deliveries (identity_id, identity_name, payload, received_at, kind)
					VALUES ('several', '', '{}', now(), 'event'); SELECT 1/0`)
				return err
			},
			check: func(err error) bool {
				var pgErr *pgconn.PgError
				return errors.As(err, &pgErr) && pgErr.Code == "22012"
			},
		},
		{
			name: "first statement's arguments not encodable",
			fn: func(ctx context.Context, _ context.CancelFunc, tx *store.Tx) error {
				if _, err := tx.PgxTx().Exec(ctx, "SELECT $1::int", make(chan int)); err == nil {
					return errors.New("a channel was encoded")
				}
				// Whatever the failure left of the connection, what follows
				// is not stored: fn fails.
				if err := intakeGroup(ctx, tx, "encode", 2); err != nil {
					return err
				}
				return errFn
			},
			check: func(err error) bool { return err != nil },
		},
		{
			name: "fn fails",
			fn: func(ctx context.Context, _ context.CancelFunc, tx *store.Tx) error {
				if err := intakeGroup(ctx, tx, "fnerr", 3); err != nil {
					return err
				}
				return errFn
			},
			check: func(err error) bool { return errors.Is(err, errFn) },
		},
	}
	for _, c := range cases {
		before := countRows(t, db, "inviter_deliveries")
		tctx, cancel := ctx, context.CancelFunc(func() {})
		if c.ctx != nil {
			tctx, cancel = c.ctx()
		}
		err := db.InTx(tctx, func(tx *store.Tx) error { return c.fn(tctx, cancel, tx) })
		cancel()
		if !c.check(err) {
			t.Errorf("%s: InTx = %v", c.name, err)
		}
		if n := countRows(t, db, "inviter_deliveries"); n != before {
			t.Errorf("%s: %d deliveries stored", c.name, n-before)
		}
		if n := countRows(t, db, "inviter_audit"); n != 0 {
			t.Errorf("%s: %d audit rows stored", c.name, n)
		}
		checkPoolIdle(t, db)
	}

	t.Run("panic", func(t *testing.T) {
		before := countRows(t, db, "inviter_deliveries")
		func() {
			defer func() {
				if recover() == nil {
					t.Error("InTx did not pass the panic on")
				}
			}()
			_ = db.InTx(ctx, func(tx *store.Tx) error {
				if err := intakeGroup(ctx, tx, "panic", 3); err != nil {
					return err
				}
				panic("fn")
			})
		}()
		if n := countRows(t, db, "inviter_deliveries"); n != before {
			t.Errorf("%d deliveries stored", n-before)
		}
		checkPoolIdle(t, db)
	})

	t.Run("savepoint", func(t *testing.T) {
		before, beforeAudit := countRows(t, db, "inviter_deliveries"), countRows(t, db, "inviter_audit")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			sp, err := tx.PgxTx().Begin(ctx)
			if err != nil {
				return err
			}
			if _, err := sp.Exec(ctx, `INSERT INTO inviter_deliveries (identity_id, identity_name, payload, received_at, kind)
				VALUES ('rolled-back', '', '{}', now(), 'event')`); err != nil {
				return err
			}
			if err := sp.Rollback(ctx); err != nil {
				return err
			}
			if _, err := sp.Exec(ctx, "SELECT 1"); !errors.Is(err, pgx.ErrTxClosed) {
				return fmt.Errorf("statement after the savepoint's rollback: %v, want ErrTxClosed", err)
			}
			// The statements the store would send with COMMIT run in the
			// savepoint, and its rollback undoes them.
			sp, err = tx.PgxTx().Begin(ctx)
			if err != nil {
				return err
			}
			if err := tx.RecordMany(ctx, decisions("savepoint-undone", 2)); err != nil {
				return err
			}
			if err := sp.Rollback(ctx); err != nil {
				return err
			}
			sp, err = tx.PgxTx().Begin(ctx)
			if err != nil {
				return err
			}
			if err := intakeGroup(ctx, tx, "kept", 2); err != nil {
				return err
			}
			return sp.Commit(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, "inviter_deliveries"); n != before+2 {
			t.Errorf("%d deliveries stored, want 2", n-before)
		}
		if n := countRows(t, db, "inviter_audit"); n != beforeAudit {
			t.Errorf("%d audit rows stored, want none: the savepoint was rolled back", n-beforeAudit)
		}
		checkPoolIdle(t, db)
	})

	t.Run("closed", func(t *testing.T) {
		var kept pgx.Tx
		if err := db.InTx(ctx, func(tx *store.Tx) error { kept = tx.PgxTx(); return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := kept.Exec(ctx, "SELECT 1"); !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("Exec after the transaction: %v, want ErrTxClosed", err)
		}
		if err := kept.Rollback(ctx); !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("Rollback after the transaction: %v, want ErrTxClosed", err)
		}
		lo := kept.LargeObjects()
		if _, err := lo.Create(ctx, 0); !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("LargeObjects: %v, want ErrTxClosed", err)
		}
	})
}

var errFn = errors.New("fn failed")

// migrateStore migrates inviter's tables of db (storetest.OpenCounted's
// migration for the store's own tests).
func migrateStore(ctx context.Context, db *store.DB) error { return db.Migrate(ctx) }
