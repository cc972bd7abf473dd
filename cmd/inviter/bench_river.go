package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// riverRefArgs are the arguments of the reference jobs: as small as an
// invite job's.
type riverRefArgs struct {
	IdentityID string `json:"identity_id"`
}

func (riverRefArgs) Kind() string { return "bench_reference" }

// riverRefSQLitePragmas are the connection settings of the reference on
// SQLite: those of inviter's own connections (WAL, synchronous FULL), on the
// same driver, without inviter's compiled-statement cache.
const riverRefSQLitePragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"

// runRiverReference measures River's bare InsertTx on a fresh database of
// the ingest scenario's backend: o.senders goroutines, o.deliveries jobs,
// one transaction per job, no HTTP and none of inviter's rows. It is the
// reference inviter's intake is compared with.
func (o *benchOptions) runRiverReference(ctx context.Context, backend string) (ingestResult, error) {
	res := ingestResult{backend: backend, senders: o.senders, sent: o.deliveries}
	var (
		insert func(ctx context.Context, i int) error
		done   func()
	)
	if backend == store.BackendPostgres {
		pool, drop, err := o.referenceSchema(ctx)
		if err != nil {
			return res, err
		}
		done = drop
		bare, err := queue.NewBareInsert(nil, pool)
		if err != nil {
			done()
			return res, err
		}
		insert = func(ctx context.Context, i int) error {
			return bare(ctx, riverRefArgs{IdentityID: fmt.Sprintf("ref%031d", i)})
		}
	} else {
		dsn, cleanup, err := o.freshSQLite()
		if err != nil {
			return res, err
		}
		// River's tables, made by queue.Migrate.
		db, err := store.Open(ctx, dsn, nil)
		if err != nil {
			cleanup()
			return res, err
		}
		err = queue.Migrate(ctx, db)
		db.Close()
		if err != nil {
			cleanup()
			return res, err
		}
		sqlDB, err := sql.Open("sqlite", "file:"+dsn+"?"+riverRefSQLitePragmas)
		if err != nil {
			cleanup()
			return res, err
		}
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		done = func() { sqlDB.Close(); cleanup() }
		bare, err := queue.NewBareInsert(sqlDB, nil)
		if err != nil {
			done()
			return res, err
		}
		insert = func(ctx context.Context, i int) error {
			return bare(ctx, riverRefArgs{IdentityID: fmt.Sprintf("ref%031d", i)})
		}
	}
	defer done()

	lat := make([]time.Duration, o.deliveries)
	ok := make([]bool, o.deliveries)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range o.senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= o.deliveries || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := insert(ctx, i); err == nil {
					lat[i], ok[i] = time.Since(t0), true
				}
			}
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	var acked []time.Duration
	for i := range ok {
		if ok[i] {
			acked = append(acked, lat[i])
		}
	}
	res.acked, res.stored = len(acked), len(acked)
	res.failed = res.sent - res.acked
	res.p50, res.p99 = percentile(acked, 50), percentile(acked, 99)
	return res, ctx.Err()
}

// freshSQLite returns the path of a SQLite file in a new temporary
// directory and a function removing it.
func (o *benchOptions) freshSQLite() (string, func(), error) {
	saved := o.db
	o.db = ""
	defer func() { o.db = saved }()
	return o.database()
}

// referenceSchema makes a new schema in the --db PostgreSQL database with
// River's tables (by inviter's migrations), and returns a pool using it and
// a function dropping it.
func (o *benchOptions) referenceSchema(ctx context.Context) (*pgxpool.Pool, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "inviter_bench_ref_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, o.db)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", redact.DSN(o.db), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, nil, fmt.Errorf("creating schema %s: %w", schema, err)
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), o.db)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	u, err := url.Parse(o.db)
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("--db: invalid URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		drop()
		return nil, nil, err
	}
	if err := queue.Migrate(ctx, db); err != nil {
		db.Close()
		drop()
		return nil, nil, err
	}
	pool := db.PgxPool()
	return pool, func() { db.Close(); drop() }, nil
}
