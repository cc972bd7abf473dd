// Package store keeps inviter's own tables (deliveries, identity state, the
// audit trail, metadata) and opens the database that River shares with them:
// a SQLite file for one node (the default) or PostgreSQL for several.
//
// SQL is written once where the dialects agree (both accept $1 placeholders,
// ON CONFLICT and RETURNING) and per backend only where they differ (column
// types in the migrations). Everything that assumes SQLite stays in the SQLite
// code path: the DSN pragmas, the single connection, the time format.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Backend names, as Backend returns them.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// ErrNotFound is returned by lookups of a single row that does not exist.
var ErrNotFound = errors.New("not found")

// sqlitePragmas are the connection settings every SQLite connection gets.
//
// journal_mode(WAL) lets readers and the writer proceed together and makes a
// commit one append to the WAL. synchronous(FULL) fsyncs the WAL on every
// commit, so a transaction that returned is durable across power loss as well
// as process crashes; NORMAL would fsync only at checkpoints and could lose
// the last commits on power loss (never on a process crash). FULL is what the
// "a delivery that got a 2xx is never lost" guarantee needs; its cost, one
// fsync per commit, is shared by the deliveries of one group commit (package
// groupcommit, used by the queue's intake).
// busy_timeout(5000) waits up to 5 s for another process's lock instead of
// failing with SQLITE_BUSY, foreign_keys(1) enforces references.
// _time_format=sqlite writes time.Time as "2006-01-02 15:04:05.999999999-07:00",
// which SQLite's date functions read and which sorts as text when every time
// is UTC (store converts all times to UTC).
const sqlitePragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_time_format=sqlite"

// pgMinConns is the PostgreSQL pool size Open uses unless the DSN sets
// pool_max_conns.
const pgMinConns = 16

// DB is inviter's database: a SQLite file or a PostgreSQL database holding
// River's tables and inviter's own. It is safe for concurrent use.
//
// On SQLite the pool has exactly one connection (River's parallel work hits
// SQLITE_BUSY otherwise). Consequently nothing may call the DB, or a River
// method that is not the Tx variant, while a transaction from InTx is open on
// the same goroutine: it would wait forever for the only connection.
type DB struct {
	backend string
	sqlDB   *sql.DB       // SQLite only
	pool    *pgxpool.Pool // PostgreSQL only
	q       querier       // over sqlDB or pool
	logger  *slog.Logger
	dur     *durability // SQLite only: the file's identity, the serve lock
	probe   writeProbe  // Ready's write probe
}

// IsPostgresDSN reports whether dsn names a PostgreSQL database
// (postgres:// or postgresql://) rather than a SQLite file.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database dsn names: a URL starting postgres:// or
// postgresql:// opens PostgreSQL through a pgx pool; anything else is the path
// of a SQLite file, created if missing (a "file:" prefix is accepted, query
// parameters are not). A PostgreSQL URL takes pgx's parameters (sslmode,
// search_path, pool_max_conns, which defaults to 16 here). Open checks the
// connection but does not migrate; call Migrate for that. logger may be nil.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if IsPostgresDSN(dsn) {
		return openPostgres(ctx, dsn, logger)
	}
	return openSQLite(ctx, dsn, logger)
}

func openSQLite(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	path = strings.TrimPrefix(path, "file:")
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite %q: the path must not contain ? or #", path)
	}
	// Connections keep the statements they run compiled (stmtcache.go).
	connector, err := newSQLiteConnector("file:" + path + "?" + sqlitePragmas)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqlDB := sql.OpenDB(connector)
	sqlDB.SetMaxOpenConns(1)
	// Keep the one connection: reopening it would redo the pragmas and drop
	// SQLite's page cache.
	sqlDB.SetMaxIdleConns(1)
	sqlDB.SetConnMaxLifetime(0)
	sqlDB.SetConnMaxIdleTime(0)
	db := &DB{backend: BackendSQLite, sqlDB: sqlDB, q: sqlQuerier{sqlDB}, logger: logger}
	if err := db.Ping(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The connection is open, so the file exists: remember which file it
	// is, to notice it being deleted or replaced under us.
	id, err := statIdentity(path)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.dur = &durability{path: path, identity: id, minFree: DefaultMinFreeBytes}
	return db, nil
}

func openPostgres(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx errors can quote the DSN, password included.
		return nil, fmt.Errorf("open postgres %s: invalid connection string", redactDSN(dsn))
	}
	if !strings.Contains(dsn, "pool_max_conns") && cfg.MaxConns < pgMinConns {
		// River keeps one connection for LISTEN and its producer, completer
		// and maintenance need more; pgx's default (4 on 2 cores) starves
		// 200 concurrent invite jobs.
		cfg.MaxConns = pgMinConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redactDSN(dsn), err)
	}
	db := &DB{backend: BackendPostgres, pool: pool, q: pgxQuerier{pool}, logger: logger}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redactDSN(dsn), err)
	}
	return db, nil
}

// redactDSN returns dsn with any password replaced, fit for messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Close closes the database and releases the serve lock. Stop every River
// client using it first.
func (db *DB) Close() error {
	if db.pool != nil {
		db.pool.Close()
		return nil
	}
	err := db.sqlDB.Close()
	db.dur.unlock()
	return err
}

// Backend returns BackendSQLite or BackendPostgres.
func (db *DB) Backend() string { return db.backend }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if db.pool != nil {
		return db.pool.Ping(ctx)
	}
	return db.sqlDB.PingContext(ctx)
}

// Logger returns the logger given to Open (a discarding one when that was
// nil), for the other schemas of the database to log their migrations to.
func (db *DB) Logger() *slog.Logger { return db.logger }

// SQLDB returns the SQLite connection pool, for River's SQLite driver;
// nil on PostgreSQL.
func (db *DB) SQLDB() *sql.DB { return db.sqlDB }

// PgxPool returns the PostgreSQL pool, for River's pgx driver; nil on
// SQLite.
func (db *DB) PgxPool() *pgxpool.Pool { return db.pool }

// Tx is a database transaction in the type River's driver for the backend
// uses (*sql.Tx for SQLite, pgx.Tx for PostgreSQL), so that inviter's writes
// and River's InsertTx commit or roll back together. A Tx is valid only
// inside the function given to InTx and is not safe for concurrent use.
type Tx struct {
	sqlTx *sql.Tx
	pg    *pgTx
	q     querier
}

// SQLTx returns the transaction as River's SQLite driver takes it; nil
// on PostgreSQL.
func (tx *Tx) SQLTx() *sql.Tx { return tx.sqlTx }

// PgxTx returns the transaction as River's pgx driver takes it; nil on
// SQLite. Its BEGIN goes out with its first statement and its COMMIT with
// the statements the store queues for it, so that a transaction costs no
// round trip of its own.
func (tx *Tx) PgxTx() pgx.Tx {
	if tx.pg == nil {
		return nil
	}
	return tx.pg
}

// InTx runs fn in a transaction and commits it if fn returns nil, or rolls it
// back and returns fn's error. When InTx returns nil the transaction is
// committed and durable. On SQLite it also returns an error wrapping
// ErrDatabaseGone when, after the commit, the file at the path is no longer
// the one written: what was committed will not be read again, so it must
// not be acknowledged.
//
// On SQLite, fn must not use db (or River's non-Tx methods) while it runs:
// the transaction holds the only connection.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	if db.pool != nil {
		return db.inPgxTx(ctx, fn)
	}
	return db.inSQLTx(ctx, fn)
}

func (db *DB) inPgxTx(ctx context.Context, fn func(tx *Tx) error) error {
	ptx, err := beginPgTx(ctx, db.pool)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if ptx.conn != nil { // fn panicked
			ptx.abort(ctx)
		}
	}()
	if err := fn(&Tx{pg: ptx, q: pgxQuerier{ptx}}); err != nil {
		// Rolled back on a context of its own: ctx may be why fn failed,
		// and the connection must go back to the pool clean.
		ptx.abort(ctx)
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (db *DB) inSQLTx(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := db.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&Tx{sqlTx: stx, q: sqlQuerier{stx}}); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		_ = stx.Rollback()
		return fmt.Errorf("commit: %w", err)
	}
	return db.checkFile()
}

// querier is what the store's SQL runs on: a pool or a transaction of
// either backend. Statements use $n placeholders, which both accept.
type querier interface {
	exec(ctx context.Context, query string, args ...any) (int64, error)
	queryRow(ctx context.Context, query string, args ...any) scanner
	query(ctx context.Context, query string, args ...any) (rows, error)
}

type scanner interface{ Scan(dest ...any) error }

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type sqlQuerier struct{ c sqlConn }

func (s sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.c.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQuerier) queryRow(ctx context.Context, query string, args ...any) scanner {
	return s.c.QueryRowContext(ctx, query, args...)
}

func (s sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := s.c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

type sqlRows struct{ *sql.Rows }

// Close closes the rows, dropping the error as pgx.Rows does.
func (r sqlRows) Close() { _ = r.Rows.Close() }

type pgxConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type pgxQuerier struct{ c pgxConn }

func (p pgxQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.c.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p pgxQuerier) queryRow(ctx context.Context, query string, args ...any) scanner {
	return p.c.QueryRow(ctx, query, args...)
}

func (p pgxQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	return p.c.Query(ctx, query, args...)
}

// utc returns t in UTC, the only zone the store writes (SQLite compares
// times as text).
func utc(t time.Time) time.Time { return t.UTC() }

// nullTime returns nil for the zero time and t in UTC otherwise.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// nullInt returns nil for 0 and n otherwise.
func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}
