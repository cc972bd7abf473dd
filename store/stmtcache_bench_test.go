package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSQLiteStatements measures one EnsureIdentity (an INSERT … ON
// CONFLICT and a SELECT of the row, in a transaction) on SQLite through connections that keep
// their statements compiled (as Open makes them) and through the plain
// driver, which compiles each statement's SQL at every call. The gap is
// what compiling costs on every hot path (the intake's group commit,
// River's inserts and its per-job completions).
func BenchmarkSQLiteStatements(b *testing.B) {
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cached=%t", cached), func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "bench.db")
			db, err := Open(ctx, path, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			if !cached {
				plain, err := sql.Open("sqlite", "file:"+path+"?"+sqlitePragmas)
				if err != nil {
					b.Fatal(err)
				}
				plain.SetMaxOpenConns(1)
				defer plain.Close()
				db = &DB{backend: BackendSQLite, sqlDB: plain, q: sqlQuerier{plain}}
			}
			now := time.Now()
			n := 0
			b.ReportAllocs()
			// One transaction around all calls, so that the commit's fsync
			// does not hide the statements' own cost.
			err = db.InTx(ctx, func(tx *Tx) error {
				for b.Loop() {
					n++
					if _, _, err := tx.EnsureIdentity(ctx, fmt.Sprintf("id%d", n%1000), now, now); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
