package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// MetaInitialisedAt is the inviter_meta key holding the RFC 3339 time of the
// first Migrate: the cut-off before which reconciliation leaves identities
// alone (the backlog is not ours to mail).
const MetaInitialisedAt = "initialised_at"

// migration is one version of inviter's own schema. Statements run in order
// in one transaction; sqlite and postgres differ only where the dialects do.
type migration struct {
	version  int
	name     string
	sqlite   []string
	postgres []string
}

// migrations are inviter's own schema versions, oldest first. Never edit a
// released one; add a new version.
var migrations = []migration{
	{
		version: 1,
		name:    "inviter tables",
		sqlite: []string{
			`CREATE TABLE inviter_meta (
				key   TEXT PRIMARY KEY,
				value TEXT NOT NULL
			)`,
			`CREATE TABLE inviter_deliveries (
				id            INTEGER PRIMARY KEY AUTOINCREMENT,
				identity_id   TEXT NOT NULL,
				identity_name TEXT NOT NULL DEFAULT '',
				payload       TEXT NOT NULL,
				received_at   TIMESTAMP NOT NULL,
				job_id        INTEGER
			)`,
			`CREATE INDEX inviter_deliveries_identity_id ON inviter_deliveries (identity_id)`,
			`CREATE TABLE inviter_identities (
				identity_id   TEXT PRIMARY KEY,
				state         TEXT NOT NULL CHECK (state IN ('pending', 'invited', 'failed', 'skipped')),
				first_seen_at TIMESTAMP NOT NULL,
				event_at      TIMESTAMP,
				invited_at    TIMESTAMP,
				invite_count  INTEGER NOT NULL DEFAULT 0,
				last_outcome  TEXT NOT NULL DEFAULT '',
				last_reason   TEXT NOT NULL DEFAULT '',
				cc_id         TEXT NOT NULL DEFAULT '',
				api           TEXT NOT NULL DEFAULT '',
				task_id       TEXT NOT NULL DEFAULT '',
				updated_at    TIMESTAMP NOT NULL
			)`,
			`CREATE INDEX inviter_identities_state ON inviter_identities (state)`,
			`CREATE TABLE inviter_audit (
				id          INTEGER PRIMARY KEY AUTOINCREMENT,
				identity_id TEXT NOT NULL,
				at          TIMESTAMP NOT NULL,
				outcome     TEXT NOT NULL,
				reason      TEXT NOT NULL DEFAULT '',
				api         TEXT NOT NULL DEFAULT '',
				cc_id       TEXT NOT NULL DEFAULT '',
				task_id     TEXT NOT NULL DEFAULT '',
				batch_id    TEXT NOT NULL DEFAULT '',
				attempt     INTEGER NOT NULL DEFAULT 0,
				source      TEXT NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX inviter_audit_identity_id ON inviter_audit (identity_id, id)`,
		},
		postgres: []string{
			`CREATE TABLE inviter_meta (
				key   TEXT PRIMARY KEY,
				value TEXT NOT NULL
			)`,
			`CREATE TABLE inviter_deliveries (
				id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				identity_id   TEXT NOT NULL,
				identity_name TEXT NOT NULL DEFAULT '',
				payload       TEXT NOT NULL,
				received_at   TIMESTAMPTZ NOT NULL,
				job_id        BIGINT
			)`,
			`CREATE INDEX inviter_deliveries_identity_id ON inviter_deliveries (identity_id)`,
			`CREATE TABLE inviter_identities (
				identity_id   TEXT PRIMARY KEY,
				state         TEXT NOT NULL CHECK (state IN ('pending', 'invited', 'failed', 'skipped')),
				first_seen_at TIMESTAMPTZ NOT NULL,
				event_at      TIMESTAMPTZ,
				invited_at    TIMESTAMPTZ,
				invite_count  INTEGER NOT NULL DEFAULT 0,
				last_outcome  TEXT NOT NULL DEFAULT '',
				last_reason   TEXT NOT NULL DEFAULT '',
				cc_id         TEXT NOT NULL DEFAULT '',
				api           TEXT NOT NULL DEFAULT '',
				task_id       TEXT NOT NULL DEFAULT '',
				updated_at    TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX inviter_identities_state ON inviter_identities (state)`,
			`CREATE TABLE inviter_audit (
				id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				identity_id TEXT NOT NULL,
				at          TIMESTAMPTZ NOT NULL,
				outcome     TEXT NOT NULL,
				reason      TEXT NOT NULL DEFAULT '',
				api         TEXT NOT NULL DEFAULT '',
				cc_id       TEXT NOT NULL DEFAULT '',
				task_id     TEXT NOT NULL DEFAULT '',
				batch_id    TEXT NOT NULL DEFAULT '',
				attempt     INTEGER NOT NULL DEFAULT 0,
				source      TEXT NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX inviter_audit_identity_id ON inviter_audit (identity_id, id)`,
		},
	},
	{
		version: 2,
		name:    "delivery kind, error kinds, task completion, process liveness, retention indexes",
		sqlite: []string{
			`ALTER TABLE inviter_deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'event'`,
			`CREATE INDEX inviter_deliveries_received_at ON inviter_deliveries (received_at)`,
			`CREATE INDEX inviter_deliveries_kind ON inviter_deliveries (kind, id)`,
			`ALTER TABLE inviter_audit ADD COLUMN completion_status TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE inviter_audit ADD COLUMN error_kind TEXT NOT NULL DEFAULT ''`,
			`CREATE INDEX inviter_audit_at ON inviter_audit (at)`,
			`ALTER TABLE inviter_identities ADD COLUMN last_error_kind TEXT NOT NULL DEFAULT ''`,
			`CREATE TABLE inviter_processes (
				client_id    TEXT PRIMARY KEY,
				pid          INTEGER NOT NULL,
				host         TEXT NOT NULL,
				started_at   TIMESTAMP NOT NULL,
				heartbeat_at TIMESTAMP NOT NULL
			)`,
		},
		postgres: []string{
			`ALTER TABLE inviter_deliveries ADD COLUMN kind TEXT NOT NULL DEFAULT 'event'`,
			`CREATE INDEX inviter_deliveries_received_at ON inviter_deliveries (received_at)`,
			`CREATE INDEX inviter_deliveries_kind ON inviter_deliveries (kind, id)`,
			`ALTER TABLE inviter_audit ADD COLUMN completion_status TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE inviter_audit ADD COLUMN error_kind TEXT NOT NULL DEFAULT ''`,
			`CREATE INDEX inviter_audit_at ON inviter_audit (at)`,
			`ALTER TABLE inviter_identities ADD COLUMN last_error_kind TEXT NOT NULL DEFAULT ''`,
			`CREATE TABLE inviter_processes (
				client_id    TEXT PRIMARY KEY,
				pid          INTEGER NOT NULL,
				host         TEXT NOT NULL,
				started_at   TIMESTAMPTZ NOT NULL,
				heartbeat_at TIMESTAMPTZ NOT NULL
			)`,
		},
	},
}

// createMigrationsTable creates the table of applied versions before any
// versioned migration runs; %s is the backend's timestamp type.
const createMigrationsTable = `CREATE TABLE IF NOT EXISTS inviter_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at %s NOT NULL
)`

// pgMigrateLockKey is the PostgreSQL advisory lock that serialises Migrate
// across replicas starting together ("inviter" in ASCII).
const pgMigrateLockKey int64 = 0x696e7669746572

// Migrate brings inviter's own tables up to date: each version in its own
// transaction, recorded in inviter_migrations. On the first run it records
// MetaInitialisedAt. It is idempotent, and on PostgreSQL replicas calling it
// at once take turns (an advisory lock). River's tables are package queue's:
// queue.Migrate migrates both.
func (db *DB) Migrate(ctx context.Context) error { return db.MigrateAfter(ctx, nil) }

// MigrateAfter is Migrate that first runs first (when not nil), the
// migrations of another schema in the same database, under the same lock:
// package queue migrates River's tables so. An error of first is returned
// as is, and inviter's tables are then left alone.
func (db *DB) MigrateAfter(ctx context.Context, first func(context.Context) error) error {
	if db.pool != nil {
		conn, err := db.pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Release()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, pgMigrateLockKey); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer func() {
			_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, pgMigrateLockKey)
		}()
	}
	if first != nil {
		if err := first(ctx); err != nil {
			return err
		}
	}
	if err := db.migrateOwn(ctx); err != nil {
		return fmt.Errorf("migrate inviter: %w", err)
	}
	return nil
}

func (db *DB) migrateOwn(ctx context.Context) error {
	tsType := "TIMESTAMP"
	if db.pool != nil {
		tsType = "TIMESTAMPTZ"
	}
	if _, err := db.q.exec(ctx, fmt.Sprintf(createMigrationsTable, tsType)); err != nil {
		return err
	}
	applied, err := db.appliedVersions(ctx)
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		stmts := m.sqlite
		if db.pool != nil {
			stmts = m.postgres
		}
		err := db.InTx(ctx, func(tx *Tx) error {
			for _, s := range stmts {
				if _, err := tx.q.exec(ctx, s); err != nil {
					return err
				}
			}
			_, err := tx.q.exec(ctx, `INSERT INTO inviter_migrations (version, applied_at) VALUES ($1, $2)`,
				m.version, utc(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("version %d (%s): %w", m.version, m.name, err)
		}
		db.logger.InfoContext(ctx, "applied migration", "version", m.version, "name", m.name)
	}
	_, err = db.q.exec(ctx, `INSERT INTO inviter_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		MetaInitialisedAt, time.Now().UTC().Format(time.RFC3339))
	return err
}

func (db *DB) appliedVersions(ctx context.Context) (map[int]bool, error) {
	rs, err := db.q.query(ctx, `SELECT version FROM inviter_migrations`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	applied := map[int]bool{}
	for rs.Next() {
		var v int
		if err := rs.Scan(&v); err != nil {
			return nil, err
		}
		applied[v] = true
	}
	return applied, rs.Err()
}

// MigrationsApplied reports whether every migration of inviter's own tables
// has been applied. A database never migrated reports false and no error.
// queue.MigrationsApplied checks River's tables too.
func (db *DB) MigrationsApplied(ctx context.Context) (bool, error) {
	exists, err := db.tableExists(ctx, "inviter_migrations")
	if err != nil || !exists {
		return false, err
	}
	applied, err := db.appliedVersions(ctx)
	if err != nil {
		return false, err
	}
	for _, m := range migrations {
		if !applied[m.version] {
			return false, nil
		}
	}
	return true, nil
}

func (db *DB) tableExists(ctx context.Context, name string) (bool, error) {
	var n int
	var err error
	if db.pool != nil {
		err = db.q.queryRow(ctx, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = $1`, name).Scan(&n)
	} else {
		err = db.q.queryRow(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = $1`, name).Scan(&n)
	}
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// InitialisedAt returns the time of the first Migrate (MetaInitialisedAt),
// or ErrNotFound before it.
func (db *DB) InitialisedAt(ctx context.Context) (time.Time, error) {
	v, err := db.Meta(ctx, MetaInitialisedAt)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("inviter_meta %s: %w", MetaInitialisedAt, err)
	}
	return t, nil
}

// Meta returns the inviter_meta value under key, or ErrNotFound.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.q.queryRow(ctx, `SELECT value FROM inviter_meta WHERE key = $1`, key).Scan(&v)
	if isNoRows(err) {
		return "", fmt.Errorf("meta %q: %w", key, ErrNotFound)
	}
	return v, err
}

// SetMeta stores value under key in inviter_meta, replacing any old value.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	_, err := db.q.exec(ctx, `INSERT INTO inviter_meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// isNoRows reports whether err says a single-row query found nothing; pgx's
// ErrNoRows wraps database/sql's.
func isNoRows(err error) bool {
	return err != nil && errors.Is(err, sqlErrNoRows)
}
