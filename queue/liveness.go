package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/inviter/inviter/store"
)

// How a dead process's jobs come back, on PostgreSQL. River's own rescuer
// runs every 30 s on the leader and only takes jobs running longer than
// RescueStuckJobsAfter (internal/maintenance/job_rescuer.go in River
// v0.51.2, JobRescuerIntervalDefault; not settable through river.Config),
// and a new leader takes over only after the dead one's lease lapses. So
// each serve process also writes a heartbeat, and every process hands back
// the running jobs of processes whose heartbeat is older than OrphanAfter.
// The bound from a SIGKILL to its jobs being available again is
// OrphanAfter + HeartbeatEvery (the next scan) + a scan's jitter; River then
// fetches them within its poll interval (1 s) and works them as new.
const (
	// OrphanAfter is how long a process may go without a heartbeat before
	// the running jobs it holds are handed back to the others.
	OrphanAfter = 15 * time.Second
	// HeartbeatEvery is how often each process writes its heartbeat and
	// looks for orphaned jobs.
	HeartbeatEvery = 3 * time.Second
)

// liveness keeps a serve process's heartbeat and hands back the jobs of
// dead processes: on SQLite once, at start, when this process holds the
// file's serve lock (store.DB.LockForServe); on PostgreSQL continuously.
type liveness struct {
	db       *store.DB
	clientID string // the River client's id: what attempted_by records
	logger   *slog.Logger
	started  time.Time

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// newClientID returns a River client id unique to this process:
// host, pid and a random suffix.
func newClientID() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "_", "-", "_", ":", "_").Replace(host)
	if len(host) > 40 {
		host = host[:40]
	}
	if host == "" {
		host = "unknown_host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s_%d_%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func newLiveness(db *store.DB, clientID string, logger *slog.Logger) *liveness {
	return &liveness{db: db, clientID: clientID, logger: logger, started: time.Now()}
}

// start hands back what a dead process left running (SQLite, with the serve
// lock) or writes the first heartbeat and keeps writing it (PostgreSQL). It
// must run before the River client starts fetching.
func (l *liveness) start(ctx context.Context) error {
	switch l.db.Backend() {
	case store.BackendSQLite:
		if !l.db.HoldsServeLock() {
			return nil
		}
		n, err := l.db.HandBackRunningJobs(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			l.logger.WarnContext(ctx, "jobs left running by a process that died are handed back", "jobs", n)
		}
		return nil
	case store.BackendPostgres:
		if err := l.db.Heartbeat(ctx, l.clientID, l.started); err != nil {
			return err
		}
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		l.mu.Lock()
		l.cancel, l.done = cancel, make(chan struct{})
		l.mu.Unlock()
		go l.run(lctx, l.done)
	}
	return nil
}

func (l *liveness) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.db.Heartbeat(ctx, l.clientID, l.started); err != nil {
			if ctx.Err() == nil {
				l.logger.ErrorContext(ctx, "heartbeat", "error", err)
			}
			continue
		}
		ids, err := l.db.HandBackOrphanedJobs(ctx, OrphanAfter)
		if err != nil && ctx.Err() == nil {
			l.logger.ErrorContext(ctx, "handing back the jobs of dead processes", "error", err)
		}
		if len(ids) > 0 {
			l.logger.WarnContext(ctx, "jobs of a process without heartbeat for "+OrphanAfter.String()+" handed back", "jobs", len(ids))
		}
	}
}

// stop ends the heartbeat and marks this process gone, so that any job it
// still holds goes to the others at their next scan.
func (l *liveness) stop(ctx context.Context) {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel = nil
	l.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	ectx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer c()
	if err := l.db.EndHeartbeat(ectx, l.clientID); err != nil {
		l.logger.WarnContext(ectx, "ending the heartbeat", "error", err)
	}
}
