package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// StatusMeta is what inviter_meta records that a status report shows.
type StatusMeta struct {
	// InitialisedAt is the time of the first Migrate (MetaInitialisedAt);
	// zero when it is not recorded.
	InitialisedAt time.Time
	// ReconcileRun is the latest reconciliation (MetaReconcileRun); nil
	// before the first, or when its record cannot be read.
	ReconcileRun *ReconcileRun
	// Values holds the recorded values of the other keys asked for.
	Values map[string]string
}

// StatusMeta reads MetaInitialisedAt, MetaReconcileRun and the keys named
// in one query.
func (db *DB) StatusMeta(ctx context.Context, keys ...string) (StatusMeta, error) {
	m := StatusMeta{Values: map[string]string{}}
	args := []any{MetaInitialisedAt, MetaReconcileRun}
	in := "$1, $2"
	for _, k := range keys {
		args = append(args, k)
		in += fmt.Sprintf(", $%d", len(args))
	}
	rs, err := db.q.query(ctx, `SELECT key, value FROM inviter_meta WHERE key IN (`+in+`)`, args...)
	if err != nil {
		return m, fmt.Errorf("read inviter_meta: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var k, v string
		if err := rs.Scan(&k, &v); err != nil {
			return m, fmt.Errorf("read inviter_meta: %w", err)
		}
		switch k {
		case MetaInitialisedAt:
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return m, fmt.Errorf("inviter_meta %s: %w", MetaInitialisedAt, err)
			}
			m.InitialisedAt = t
		case MetaReconcileRun:
			var r ReconcileRun
			if json.Unmarshal([]byte(v), &r) == nil {
				m.ReconcileRun = &r
			}
		default:
			m.Values[k] = v
		}
	}
	if err := rs.Err(); err != nil {
		return m, fmt.Errorf("read inviter_meta: %w", err)
	}
	return m, nil
}
