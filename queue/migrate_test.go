package queue

import (
	"context"
	"testing"

	"github.com/inviter/inviter"
	"github.com/inviter/inviter/internal/storetest"
	"github.com/inviter/inviter/store"
)

// withRiver returns open with River's tables migrated too (Migrate):
// storetest migrates inviter's tables only.
func withRiver(open func(testing.TB) *store.DB) func(testing.TB) *store.DB {
	return func(t testing.TB) *store.DB {
		t.Helper()
		db := open(t)
		if err := Migrate(context.Background(), db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return db
	}
}

// TestMigrate: Migrate makes River's tables and inviter's, and is
// idempotent; MigrationsApplied needs both.
func TestMigrate(t *testing.T) {
	t.Parallel()
	for _, b := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{
		{store.BackendSQLite, storetest.OpenSQLiteUnmigrated},
		{store.BackendPostgres, storetest.OpenPostgresUnmigrated},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.open(t)
			if ok, err := MigrationsApplied(ctx, db); ok || err != nil {
				t.Errorf("MigrationsApplied before any migration = %v, %v; want false, nil", ok, err)
			}
			// inviter's tables alone are not the whole schema.
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if ok, err := MigrationsApplied(ctx, db); ok || err != nil {
				t.Errorf("MigrationsApplied without River's tables = %v, %v; want false, nil", ok, err)
			}
			for range 2 {
				if err := Migrate(ctx, db); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := MigrationsApplied(ctx, db); !ok || err != nil {
				t.Errorf("MigrationsApplied after Migrate = %v, %v; want true, nil", ok, err)
			}
			q, err := New(db, Config{InsertOnly: true}, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := q.Enqueue(ctx, "id1", inviter.SourceCLI, nil); err != nil {
				t.Errorf("Enqueue on a migrated database: %v", err)
			}
		})
	}
}

// TestBareInsert: River's bare InsertTx inserts jobs of any kind, each in
// a transaction of its own, on either backend.
func TestBareInsert(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) *store.DB) {
		ctx := context.Background()
		db := open(t)
		insert, err := NewBareInsert(db.SQLDB(), db.PgxPool())
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := insert(ctx, otherArgs{}); err != nil {
				t.Fatal(err)
			}
		}
		q, err := New(db, Config{InsertOnly: true}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		jobs, err := q.ListJobs(ctx, "available", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 3 || jobs[0].Kind != "other" {
			t.Errorf("jobs = %+v, want 3 of kind other", jobs)
		}
	})
}
