package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// HandBackRunningJobs makes every River job left running available again
// and returns how many there were. It is for SQLite at start-up, with the
// serve lock held (LockForServe) and before the queue starts: then no other
// process can be working on the file, so a running job belongs to a process
// that died. The attempt that died counts as an attempt. It refuses without
// the lock, and on PostgreSQL, where other replicas may be alive
// (HandBackOrphanedJobs is for that).
func (db *DB) HandBackRunningJobs(ctx context.Context) (int64, error) {
	if db.pool != nil {
		return 0, errors.New("hand back running jobs: not on PostgreSQL (other replicas may hold them)")
	}
	if !db.HoldsServeLock() {
		return 0, errors.New("hand back running jobs: the serve lock is not held")
	}
	n, err := db.q.exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec')
		WHERE state = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("hand back running jobs: %w", err)
	}
	return n, nil
}

// Heartbeat records that the process running River client clientID is
// alive, now by the database's clock (so replicas' clocks need not agree).
// startedAt is when the process started.
func (db *DB) Heartbeat(ctx context.Context, clientID string, startedAt time.Time) error {
	host, _ := os.Hostname()
	now := `now()`
	if db.pool == nil {
		now = `datetime('now', 'subsec')`
	}
	_, err := db.q.exec(ctx, `INSERT INTO inviter_processes (client_id, pid, host, started_at, heartbeat_at)
		VALUES ($1, $2, $3, $4, `+now+`)
		ON CONFLICT (client_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
		clientID, os.Getpid(), host, utc(startedAt))
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// EndHeartbeat marks clientID's process as gone (a graceful stop), so that
// any job it still held is handed back by the next HandBackOrphanedJobs of
// another replica without waiting for the heartbeat to go stale.
func (db *DB) EndHeartbeat(ctx context.Context, clientID string) error {
	_, err := db.q.exec(ctx, `UPDATE inviter_processes SET heartbeat_at = $2 WHERE client_id = $1`,
		clientID, time.Unix(0, 0).UTC())
	if err != nil {
		return fmt.Errorf("end heartbeat: %w", err)
	}
	return nil
}

// HandBackOrphanedJobs makes available again the River jobs left running by
// processes whose heartbeat (Heartbeat) is older than staleAfter, on
// PostgreSQL, and returns their ids. A job's holder is the last River client
// in its attempted_by. Jobs of a client that never sent a heartbeat are left
// to River's own rescuer (RescueStuckJobsAfter): such a process may be alive.
// Rows of processes silent for a day are deleted. On SQLite it does nothing:
// there, one process owns the file (LockForServe, HandBackRunningJobs).
//
// The bound is the caller's: a process paused longer than staleAfter (not
// dead) may find its jobs taken by another, and an invitation in flight then
// can be sent twice; staleAfter should be well above a heartbeat interval and
// any pause a healthy process shows.
func (db *DB) HandBackOrphanedJobs(ctx context.Context, staleAfter time.Duration) ([]int64, error) {
	if db.pool == nil {
		return nil, nil
	}
	if staleAfter <= 0 {
		return nil, fmt.Errorf("hand back orphaned jobs: staleAfter must be positive, got %s", staleAfter)
	}
	rs, err := db.pool.Query(ctx, `UPDATE river_job j SET state = 'available', scheduled_at = now()
		FROM inviter_processes p
		WHERE j.state = 'running'
		AND p.client_id = j.attempted_by[array_length(j.attempted_by, 1)]
		AND p.heartbeat_at < now() - make_interval(secs => $1)
		RETURNING j.id`, staleAfter.Seconds())
	if err != nil {
		return nil, fmt.Errorf("hand back orphaned jobs: %w", err)
	}
	defer rs.Close()
	var ids []int64
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, fmt.Errorf("hand back orphaned jobs: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("hand back orphaned jobs: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM inviter_processes WHERE heartbeat_at < now() - interval '1 day'
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.state = 'running'
			AND j.attempted_by[array_length(j.attempted_by, 1)] = inviter_processes.client_id)`); err != nil {
		return ids, fmt.Errorf("forget silent processes: %w", err)
	}
	return ids, nil
}
