// Package storetest opens throwaway inviter databases for tests: a SQLite
// file in t.TempDir, and, when INVITER_TEST_POSTGRES_URL is set, a fresh
// PostgreSQL schema that is dropped when the test ends.
//
// "Migrated" here means inviter's own tables (store.DB.Migrate). River's
// tables belong to package queue: a test that enqueues or reads jobs calls
// queue.Migrate on the database too (it is idempotent).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inviter/inviter/store"
)

// PostgresURLEnv names the environment variable holding the URL of a
// PostgreSQL database tests may create schemas in, e.g.
// postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable.
const PostgresURLEnv = "INVITER_TEST_POSTGRES_URL"

// Backend is a way to open a fresh, migrated database for a test.
type Backend struct {
	// Name is store.BackendSQLite or store.BackendPostgres.
	Name string
	// Open returns a fresh database, inviter's tables migrated, closed (and on PostgreSQL
	// dropped) by t.Cleanup. It skips t when the backend is unavailable.
	Open func(t testing.TB) *store.DB
	// DSN returns the INVITER_DB value of a fresh, empty database, removed
	// by t.Cleanup. It skips t when the backend is unavailable.
	DSN func(t testing.TB) string
}

// Backends returns SQLite and PostgreSQL; the PostgreSQL Open skips when
// PostgresURLEnv is empty.
func Backends() []Backend {
	return []Backend{
		{Name: store.BackendSQLite, Open: OpenSQLite, DSN: SQLiteDSN},
		{Name: store.BackendPostgres, Open: OpenPostgres, DSN: PostgresDSN},
	}
}

// OpenSQLite opens a new SQLite file in t.TempDir and migrates inviter's
// tables.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	db := OpenSQLiteUnmigrated(t)
	migrate(t, db)
	return db
}

// OpenSQLiteUnmigrated opens a new SQLite file in t.TempDir without
// migrating it.
func OpenSQLiteUnmigrated(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "inviter.db"), nil)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// OpenPostgres creates a schema in the database PostgresURLEnv names, opens
// it (search_path set to the schema) and migrates inviter's tables. It
// skips t when the variable is empty.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	db := OpenPostgresUnmigrated(t)
	migrate(t, db)
	return db
}

// OpenPostgresUnmigrated is OpenPostgres without the migration.
func OpenPostgresUnmigrated(t testing.TB) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, PostgresDSN(t), nil)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() }) // runs before the schema is dropped
	return db
}

// SQLiteDSN returns the path of a new SQLite file in t.TempDir, for tests
// that open the database themselves (or hand it to a child process).
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "inviter.db")
}

// PostgresDSN creates a schema in the database PostgresURLEnv names and
// returns a URL whose search_path is that schema; the schema is dropped
// when t ends. It skips t when the variable is empty.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skipf("%s is not set", PostgresURLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "inviter_test_" + hex.EncodeToString(b[:])

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", PostgresURLEnv, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func migrate(t testing.TB, db *store.DB) {
	t.Helper()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}
