package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrDatabaseGone is wrapped by the errors of a SQLite database whose file
// was deleted or replaced while it was open: the open connection still
// writes to the old file, which nobody will read again, so the store
// refuses to report such writes as done.
var ErrDatabaseGone = errors.New("the database file is gone")

// DefaultMinFreeBytes is the free space under which Ready reports a SQLite
// database not ready (SetMinFreeBytes changes it): 32 MiB, room for the WAL
// to grow and checkpoint while the operator is alerted.
const DefaultMinFreeBytes = 32 << 20

// probeEvery is how often Ready writes to the database to prove it can.
const probeEvery = time.Second

// metaReadyProbe is the inviter_meta key Ready's write probe updates.
const metaReadyProbe = "ready_probe"

// fileIdentity is what names a file on its file system: device and inode.
type fileIdentity struct{ dev, ino uint64 }

// durability is the SQLite-only state behind LockForServe and Ready.
type durability struct {
	path     string       // the SQLite file
	identity fileIdentity // of path when it was opened
	minFree  int64

	lockMu sync.Mutex
	lock   *os.File // held by LockForServe until Close
}

// writeProbe is the last result of Ready's write probe, for both backends.
type writeProbe struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// LockedError is LockForServe's error when another process holds the lock.
type LockedError struct {
	Path     string // the SQLite file
	LockPath string // the lock file beside it
	Holder   string // what the holder wrote in the lock file; may be empty
}

func (e *LockedError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "process unknown"
	}
	return fmt.Sprintf("database %s is in use by another inviter serve (%s; lock file %s): "+
		"only one serve may use a SQLite file; stop the other one, or use PostgreSQL to run several", e.Path, holder, e.LockPath)
}

// LockPath returns the lock file LockForServe uses for the SQLite file
// path: the file's real path (symbolic links resolved, so that two names
// of one file share the lock) with ".lock" appended.
func LockPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return path + ".lock"
}

// LockForServe makes this process the only one serving the database: on
// SQLite it takes an exclusive OS lock (flock) on LockPath, held until
// Close or the process's end, and writes its pid, host and start time there
// for the message another process gets. A second LockForServe on the same
// file, in any process, returns a *LockedError. Commands that only read or
// enqueue (status, jobs, audit) do not lock. On PostgreSQL it does nothing:
// replicas share a database by design.
func (db *DB) LockForServe() error {
	d := db.dur
	if d == nil {
		return nil
	}
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	if d.lock != nil {
		return nil
	}
	lp := LockPath(d.path)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock %s: %w", lp, err)
	}
	locked, err := tryLock(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("lock %s: %w", lp, err)
	}
	if !locked {
		b, _ := os.ReadFile(lp)
		f.Close()
		return &LockedError{Path: d.path, LockPath: lp, Holder: strings.TrimSpace(string(b))}
	}
	host, _ := os.Hostname()
	info := fmt.Sprintf("pid %d on host %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(info), 0)
	}
	d.lock = f
	return nil
}

// HoldsServeLock reports whether LockForServe succeeded in this DB.
func (db *DB) HoldsServeLock() bool {
	if db.dur == nil {
		return false
	}
	db.dur.lockMu.Lock()
	defer db.dur.lockMu.Unlock()
	return db.dur.lock != nil
}

func (d *durability) unlock() {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	if d.lock != nil {
		_ = d.lock.Close() // closing the descriptor releases the flock
		d.lock = nil
	}
}

// SetMinFreeBytes sets the free space on the SQLite file's file system under
// which Ready reports not ready (default DefaultMinFreeBytes; 0 disables the
// check). It does nothing on PostgreSQL.
func (db *DB) SetMinFreeBytes(n int64) {
	if db.dur != nil {
		db.dur.minFree = n
	}
}

// checkFile returns an error wrapping ErrDatabaseGone when the SQLite file
// is no longer the one opened (deleted, or replaced by another file). It is
// one stat call; nil on PostgreSQL.
func (db *DB) checkFile() error {
	d := db.dur
	if d == nil {
		return nil
	}
	id, err := statIdentity(d.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s was deleted while open", ErrDatabaseGone, d.path)
	case err != nil:
		return fmt.Errorf("database file %s: %w", d.path, err)
	case id != d.identity:
		return fmt.Errorf("%w: %s was replaced by another file while open", ErrDatabaseGone, d.path)
	}
	return nil
}

// Ready reports whether the database can do its work, as a readiness probe
// asks (web.Readiness): it answers, it is migrated, and it takes writes (a
// one-row write at most once a second, so a full disk shows on PostgreSQL
// too). On SQLite also: the open file is still the one at the path (not
// deleted or replaced) and its file system has at least the minimum free
// space (SetMinFreeBytes).
func (db *DB) Ready(ctx context.Context) error {
	if err := db.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if err := db.checkFile(); err != nil {
		return err
	}
	ok, err := db.MigrationsApplied(ctx)
	if err != nil {
		return fmt.Errorf("checking migrations: %w", err)
	}
	if !ok {
		return errors.New("database migrations not applied (run inviter migrate)")
	}
	if d := db.dur; d != nil && d.minFree > 0 {
		free, err := freeBytes(filepath.Dir(d.path))
		if err != nil {
			return fmt.Errorf("free space for %s: %w", d.path, err)
		}
		if free < d.minFree {
			return fmt.Errorf("disk nearly full: %d MiB free for %s, want at least %d MiB", free>>20, d.path, d.minFree>>20)
		}
	}
	return db.probeWrite(ctx)
}

// probeWrite writes one inviter_meta row, at most once every probeEvery,
// and returns the latest result. Replicas share the row: each holds its
// lock for one short transaction a second at most.
func (db *DB) probeWrite(ctx context.Context) error {
	p := &db.probe
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < probeEvery {
		return p.err
	}
	err := db.InTx(ctx, func(tx *Tx) error {
		_, err := tx.q.exec(ctx, `INSERT INTO inviter_meta (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, metaReadyProbe, time.Now().UTC().Format(time.RFC3339Nano))
		return err
	})
	if err != nil {
		err = fmt.Errorf("database not writable: %w", err)
	}
	p.at, p.err = time.Now(), err
	return err
}
