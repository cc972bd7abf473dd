package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/harness"
	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// IngestResult is what the ingest scenario measured, of inviter's webhook
// or of River's bare InsertTx.
type IngestResult struct {
	// Backend is store.BackendSQLite or store.BackendPostgres.
	Backend string
	// Senders is the concurrent senders; Sent the deliveries (or jobs).
	Senders, Sent int
	// Acked is the 200 answers (each after its commit); Failed the other
	// answers and transport errors.
	Acked, Failed int
	// Stored is the deliveries the daemon's intake committed.
	Stored int
	// Wall is the time from the first send to the last answer.
	Wall time.Duration
	// P50 and P99 are the times to an acknowledgement.
	P50, P99 time.Duration
	// Reference is River's bare InsertTx in the same run, when measured.
	Reference *IngestResult
}

// PerSecond is the acknowledged deliveries a second.
func (r IngestResult) PerSecond() float64 { return float64(r.Acked) / r.Wall.Seconds() }

// ReferenceRatio is inviter's acknowledged deliveries a second ÷ River's
// bare inserts a second; 0 without a reference.
func (r IngestResult) ReferenceRatio() float64 {
	if r.Reference == nil || r.Reference.Acked == 0 {
		return 0
	}
	return r.PerSecond() / r.Reference.PerSecond()
}

// Ingest posts valid Identity Created payloads straight to the webhook of
// a running daemon from cfg.Senders goroutines and times each answer. The
// daemon works the invite jobs meanwhile, as it would in production.
func Ingest(ctx context.Context, cfg Config) (IngestResult, error) {
	res := IngestResult{Senders: cfg.Senders, Sent: cfg.Deliveries}
	var stored atomic.Int64
	o := cfg.rigOptions(inviter.APIPublic, 0)
	o.OnDelivery = func(inviter.IdentityCreated, bool) { stored.Add(1) }
	r, err := harness.Start(ctx, o)
	if err != nil {
		return res, err
	}
	defer r.Close()
	if cfg.Faults {
		r.Tenant.SetFaults(harness.StandardFaults())
	}
	res.Backend = store.BackendSQLite
	if store.IsPostgresDSN(r.DB()) {
		res.Backend = store.BackendPostgres
	}
	// Identities the tenant knows (no subscription: no events from it), so
	// the daemon's invites succeed.
	idents := r.Tenant.CreateIdentities(cfg.Deliveries, nil)
	payloads := make([][]byte, len(idents))
	for i, id := range idents {
		if payloads[i], err = harness.Payload(id); err != nil {
			return res, err
		}
	}
	p, err := r.Post(ctx, payloads, cfg.Senders)
	if err != nil {
		return res, err
	}
	res.Wall = p.Wall
	res.Acked, res.Failed = len(p.Acked), p.Failed()
	res.Stored = int(stored.Load())
	res.P50, res.P99 = harness.Percentile(p.Acked, 50), harness.Percentile(p.Acked, 99)
	if err := r.Stop(); err != nil {
		return res, fmt.Errorf("the daemon stopped with an error: %w", err)
	}
	return res, nil
}

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

// RiverInsertTx measures River's bare InsertTx on a fresh database of
// backend (a new schema in cfg.DB on PostgreSQL): cfg.Senders goroutines,
// cfg.Deliveries jobs, one transaction per job, no HTTP and none of
// inviter's rows. It is the reference inviter's intake is compared with.
func RiverInsertTx(ctx context.Context, cfg Config, backend string) (IngestResult, error) {
	res := IngestResult{Backend: backend, Senders: cfg.Senders, Sent: cfg.Deliveries}
	var bare queue.BareInsert
	if backend == store.BackendPostgres {
		pool, drop, err := referenceSchema(ctx, cfg.DB)
		if err != nil {
			return res, err
		}
		defer drop()
		if bare, err = queue.NewBareInsert(nil, pool); err != nil {
			return res, err
		}
	} else {
		sqlDB, done, err := referenceSQLite(ctx)
		if err != nil {
			return res, err
		}
		defer done()
		if bare, err = queue.NewBareInsert(sqlDB, nil); err != nil {
			return res, err
		}
	}
	insert := func(ctx context.Context, i int) error {
		return bare(ctx, riverRefArgs{IdentityID: fmt.Sprintf("ref%031d", i)})
	}

	lat := make([]time.Duration, cfg.Deliveries)
	ok := make([]bool, cfg.Deliveries)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.Deliveries || ctx.Err() != nil {
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
	res.Wall = time.Since(start)
	var acked []time.Duration
	for i := range ok {
		if ok[i] {
			acked = append(acked, lat[i])
		}
	}
	res.Acked, res.Stored = len(acked), len(acked)
	res.Failed = res.Sent - res.Acked
	res.P50, res.P99 = harness.Percentile(acked, 50), harness.Percentile(acked, 99)
	return res, ctx.Err()
}

// referenceSQLite makes a SQLite file in a new temporary directory with
// River's tables (queue.Migrate) and opens it as inviter's own
// connections are, one connection; done closes and removes it.
func referenceSQLite(ctx context.Context) (_ *sql.DB, done func(), err error) {
	dir, err := os.MkdirTemp("", "inviter-bench-")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	dsn := filepath.Join(dir, "inviter.db")
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		return nil, nil, err
	}
	err = queue.Migrate(ctx, db)
	db.Close()
	if err != nil {
		return nil, nil, err
	}
	sqlDB, err := sql.Open("sqlite", "file:"+dsn+"?"+riverRefSQLitePragmas)
	if err != nil {
		return nil, nil, err
	}
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	return sqlDB, func() { sqlDB.Close(); os.RemoveAll(dir) }, nil
}

// referenceSchema makes a new schema in the PostgreSQL database dsn with
// River's tables (queue.Migrate), and returns a pool using it and
// a function dropping it.
func referenceSchema(ctx context.Context, dsn string) (*pgxpool.Pool, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "inviter_bench_ref_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", redact.DSN(dsn), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, nil, fmt.Errorf("creating schema %s: %w", schema, err)
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		drop()
		return nil, nil, fmt.Errorf("--db: invalid URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := store.Open(ctx, u.String(), nil)
	if err != nil {
		drop()
		return nil, nil, err
	}
	if err := queue.Migrate(ctx, db); err != nil {
		db.Close()
		drop()
		return nil, nil, err
	}
	return db.PgxPool(), func() { db.Close(); drop() }, nil
}
