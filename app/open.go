package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/inviter/inviter/internal/redact"
	"github.com/inviter/inviter/queue"
	"github.com/inviter/inviter/store"
)

// OpenExisting opens the database dsn names for a command that reads it. It
// neither creates nor migrates one: a SQLite path that does not exist and a
// database that was never migrated are errors that say what to run.
func OpenExisting(ctx context.Context, dsn string) (*store.DB, error) {
	name := redact.DSN(dsn)
	if !store.IsPostgresDSN(dsn) {
		path := strings.TrimPrefix(dsn, "file:")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s (--db, INVITER_DB); point --db at the file inviter serve uses, or create one with inviter migrate --db %s", path, path)
		} else if err != nil {
			return nil, fmt.Errorf("database %s: %w", path, err)
		}
	}
	db, err := store.Open(ctx, dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("opening the database (INVITER_DB): %w", err)
	}
	ok, err := queue.MigrationsApplied(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: checking its schema: %w", name, err)
	}
	if !ok {
		_, ierr := db.InitialisedAt(ctx)
		db.Close()
		if ierr == nil {
			return nil, fmt.Errorf("database %s has an older schema than this inviter: run inviter migrate with the same --db (inviter serve also migrates on start)", name)
		}
		return nil, fmt.Errorf("database %s was never migrated, so inviter has not run on it: start inviter serve or run inviter migrate with the same --db", name)
	}
	return db, nil
}
