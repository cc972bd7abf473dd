package queue

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/inviter/inviter/store"
)

// riverDB is River on one inviter database with its transaction type
// hidden: riverOn[*sql.Tx] over riversqlite, riverOn[pgx.Tx] over
// riverpgxv5. riverFor is the one place that picks the driver.
type riverDB interface {
	// client returns a River client on the database; without cfg.Workers
	// it only inserts and reads jobs.
	client(cfg *river.Config) (backend, error)
	// migrator returns River's migrations on the database.
	migrator(cfg *rivermigrate.Config) (riverMigrator, error)
	// bareInserter returns River's InsertTx of one job, in a transaction
	// of its own on the pool, with a client made of cfg.
	bareInserter(cfg *river.Config) (BareInsert, error)
}

// riverMigrator is rivermigrate.Migrator with its transaction type hidden.
type riverMigrator interface {
	Migrate(ctx context.Context, direction rivermigrate.Direction, opts *rivermigrate.MigrateOpts) (*rivermigrate.MigrateResult, error)
	Validate(ctx context.Context, opts *rivermigrate.ValidateOpts) (*rivermigrate.ValidateResult, error)
}

// riverFor returns River on db, with the driver for db's backend.
func riverFor(db *store.DB) (riverDB, error) {
	return riverOver(db.Backend(), db.SQLDB(), db.PgxPool())
}

// riverOver returns River on sqlDB (store.BackendSQLite) or pool
// (store.BackendPostgres).
func riverOver(backend string, sqlDB *sql.DB, pool *pgxpool.Pool) (riverDB, error) {
	switch backend {
	case store.BackendSQLite:
		return &riverOn[*sql.Tx]{driver: riversqlite.New(sqlDB), txOf: (*store.Tx).SQLTx,
			inTx: func(ctx context.Context, fn func(*sql.Tx) error) error {
				tx, err := sqlDB.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				if err := fn(tx); err != nil {
					_ = tx.Rollback()
					return err
				}
				return tx.Commit()
			}}, nil
	case store.BackendPostgres:
		return &riverOn[pgx.Tx]{driver: riverpgxv5.New(pool), txOf: (*store.Tx).PgxTx,
			inTx: func(ctx context.Context, fn func(pgx.Tx) error) error { return pgx.BeginFunc(ctx, pool, fn) }}, nil
	}
	return nil, fmt.Errorf("unknown backend %q", backend)
}

// riverOn is riverDB for one driver; TTx is *sql.Tx for riversqlite and
// pgx.Tx for riverpgxv5.
type riverOn[TTx any] struct {
	driver riverdriver.Driver[TTx]
	txOf   func(*store.Tx) TTx // the store transaction as River's type
	// inTx runs fn in a transaction of the driver's pool, committed when
	// fn returns nil.
	inTx func(ctx context.Context, fn func(TTx) error) error
}

func (r *riverOn[TTx]) client(cfg *river.Config) (backend, error) {
	return newRiverBackend(r.driver, cfg, r.txOf)
}

func (r *riverOn[TTx]) bareInserter(cfg *river.Config) (BareInsert, error) {
	client, err := river.NewClient(r.driver, cfg)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, args river.JobArgs) error {
		return r.inTx(ctx, func(tx TTx) error {
			_, err := client.InsertTx(ctx, tx, args, nil)
			return err
		})
	}, nil
}

func (r *riverOn[TTx]) migrator(cfg *rivermigrate.Config) (riverMigrator, error) {
	return rivermigrate.New(r.driver, cfg)
}

// Migrate brings db's whole schema up to date: River's tables (its
// rivermigrate migrations, logged to db.Logger()), then inviter's own
// (store.DB.Migrate), under one lock so that PostgreSQL replicas calling it
// at once take turns. It is idempotent.
func Migrate(ctx context.Context, db *store.DB) error {
	return db.MigrateAfter(ctx, func(ctx context.Context) error {
		if err := migrateRiver(ctx, db); err != nil {
			return fmt.Errorf("migrate river: %w", err)
		}
		return nil
	})
}

func migrateRiver(ctx context.Context, db *store.DB) error {
	r, err := riverFor(db)
	if err != nil {
		return err
	}
	m, err := r.migrator(&rivermigrate.Config{Logger: db.Logger()})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// MigrationsApplied reports whether every migration of River's tables and
// of inviter's own has been applied to db. A database never migrated
// reports false and no error.
func MigrationsApplied(ctx context.Context, db *store.DB) (bool, error) {
	r, err := riverFor(db)
	if err != nil {
		return false, err
	}
	m, err := r.migrator(&rivermigrate.Config{Logger: db.Logger()})
	if err != nil {
		return false, err
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("validate river migrations: %w", err)
	}
	if !res.OK {
		return false, nil
	}
	return db.MigrationsApplied(ctx)
}

// BareInsert inserts a job of args' kind with River's InsertTx and default
// options, in a transaction of its own. It is safe for concurrent use.
type BareInsert func(ctx context.Context, args river.JobArgs) error

// NewBareInsert returns River's bare InsertTx over sqlDB (when not nil, a
// SQLite database) or pool (PostgreSQL), outside inviter's store: the
// reference that inviter's intake is measured against. The database must
// have River's tables (Migrate); jobs of any kind are accepted, and none is
// worked.
func NewBareInsert(sqlDB *sql.DB, pool *pgxpool.Pool) (BareInsert, error) {
	backend := store.BackendPostgres
	if sqlDB != nil {
		backend = store.BackendSQLite
	}
	r, err := riverOver(backend, sqlDB, pool)
	if err != nil {
		return nil, err
	}
	return r.bareInserter(&river.Config{SkipUnknownJobCheck: true})
}
