package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/inviter/inviter"
)

// TransientFailures returns identities that gave up (inviter.StateFailed) on a
// failure that was not theirs, for reconciliation to enqueue again: a
// transient one (ErrorKindTransient), a configuration problem
// (ErrorKindConfig), or, recorded before error kinds were, retries
// exhausted (no kind and a reason starting "giving up after"). Least
// recently updated first, at most limit (100 when limit <= 0).
func (db *DB) TransientFailures(ctx context.Context, limit int) ([]Identity, error) {
	if limit <= 0 {
		limit = 100
	}
	rs, err := db.q.query(ctx, `SELECT `+identityCols+` FROM inviter_identities
		WHERE state = $1 AND (last_error_kind IN ($2, $3) OR (last_error_kind = '' AND last_reason LIKE 'giving up after %'))
		ORDER BY updated_at, identity_id LIMIT $4`, string(inviter.StateFailed), string(ErrorKindTransient), string(ErrorKindConfig), limit)
	if err != nil {
		return nil, fmt.Errorf("identities failed on a transient error: %w", err)
	}
	return scanIdentities(rs, "identities failed on a transient error")
}

// TestDeliveries returns how many test deliveries (DeliveryTest) are stored
// and when the latest arrived (zero when none).
func (db *DB) TestDeliveries(ctx context.Context) (int64, time.Time, error) {
	var n int64
	if err := db.q.queryRow(ctx, `SELECT count(*) FROM inviter_deliveries WHERE kind = $1`, string(DeliveryTest)).Scan(&n); err != nil {
		return 0, time.Time{}, fmt.Errorf("count test deliveries: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	last, err := db.RecentTestDeliveries(ctx, 1)
	if err != nil || len(last) == 0 {
		return n, time.Time{}, err
	}
	return n, last[0].ReceivedAt, nil
}

// RecentTestDeliveries returns the latest test deliveries, newest first, at
// most limit (100 when limit <= 0).
func (db *DB) RecentTestDeliveries(ctx context.Context, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	rs, err := db.q.query(ctx, deliveryCols+` WHERE kind = $1 ORDER BY id DESC LIMIT $2`, string(DeliveryTest), limit)
	if err != nil {
		return nil, fmt.Errorf("list test deliveries: %w", err)
	}
	return scanDeliveries(rs)
}

// NamedAuditEntry is an audit row with the identity's display name, taken
// from its latest delivery that carried one; empty when none is stored (no
// delivery, or pruned).
type NamedAuditEntry struct {
	AuditEntry
	Name string
}

// namedAuditFields are the columns of a NamedAuditEntry of inviter_audit
// a, the name coming from a correlated lookup (index
// inviter_deliveries_identity_id); namedAuditCols selects them.
const (
	namedAuditFields = `SELECT a.id, a.identity_id, a.at, a.outcome, a.reason, a.api, a.cc_id, a.task_id,
	a.batch_id, a.attempt, a.source, a.completion_status, a.error_kind,
	COALESCE((SELECT d.identity_name FROM inviter_deliveries d
		WHERE d.identity_id = a.identity_id AND d.identity_name <> '' ORDER BY d.id DESC LIMIT 1), '')`
	namedAuditCols = namedAuditFields + `
	FROM inviter_audit a`
)

// AuditNamed is Audit with each row's identity name, in one query; outcomes,
// when given, keeps only rows with one of them.
func (db *DB) AuditNamed(ctx context.Context, identityID string, outcomes []inviter.Outcome, limit int) ([]NamedAuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	where, args := "", []any{}
	if identityID != "" {
		args = append(args, identityID)
		where = ` WHERE a.identity_id = $1`
	}
	if len(outcomes) > 0 {
		in := ""
		for i, o := range outcomes {
			args = append(args, string(o))
			if i > 0 {
				in += ", "
			}
			in += fmt.Sprintf("$%d", len(args))
		}
		if where == "" {
			where = ` WHERE a.outcome IN (` + in + `)`
		} else {
			where += ` AND a.outcome IN (` + in + `)`
		}
	}
	args = append(args, limit)
	rs, err := db.q.query(ctx, namedAuditCols+where+fmt.Sprintf(` ORDER BY a.id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return scanNamedAudit(rs)
}

// CurrentError is an identity's latest error that still matters, with its
// name and its invite state now.
type CurrentError struct {
	NamedAuditEntry
	// State is the identity's invite state now: a not_found that was
	// retried and is pending reads "pending".
	State inviter.InviteState
}

// CurrentErrors returns, for each identity neither invited nor skipped, its
// latest failed, not_found or retrying audit row with its name and state,
// newest first, at most limit (100 when limit <= 0): the errors that still
// matter, in one query.
func (db *DB) CurrentErrors(ctx context.Context, limit int) ([]CurrentError, error) {
	if limit <= 0 {
		limit = 100
	}
	rs, err := db.q.query(ctx, namedAuditFields+`, i.state
		FROM inviter_audit a JOIN inviter_identities i ON i.identity_id = a.identity_id
		WHERE a.outcome IN ($1, $2, $6) AND i.state NOT IN ($3, $4)
		AND a.id = (SELECT max(b.id) FROM inviter_audit b WHERE b.identity_id = a.identity_id AND b.outcome IN ($1, $2, $6))
		ORDER BY a.id DESC LIMIT $5`,
		string(inviter.OutcomeFailed), string(inviter.OutcomeNotFound), string(inviter.StateInvited), string(inviter.StateSkipped), limit, string(inviter.OutcomeRetrying))
	if err != nil {
		return nil, fmt.Errorf("list current errors: %w", err)
	}
	defer rs.Close()
	var out []CurrentError
	for rs.Next() {
		var (
			e     CurrentError
			state string
		)
		if err := scanNamedAuditRow(rs, &e.NamedAuditEntry, &state); err != nil {
			return nil, fmt.Errorf("list current errors: %w", err)
		}
		e.State = inviter.InviteState(state)
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list current errors: %w", err)
	}
	return out, nil
}

func scanNamedAudit(rs rows) ([]NamedAuditEntry, error) {
	defer rs.Close()
	var out []NamedAuditEntry
	for rs.Next() {
		var e NamedAuditEntry
		if err := scanNamedAuditRow(rs, &e); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		out = append(out, e)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// scanNamedAuditRow scans a row of namedAuditCols into e, and the columns
// after them into extra.
func scanNamedAuditRow(s scanner, e *NamedAuditEntry, extra ...any) error {
	var outcome, api, errKind string
	dest := append([]any{&e.ID, &e.IdentityID, &e.At, &outcome, &e.Reason, &api, &e.CCID, &e.TaskID,
		&e.BatchID, &e.Attempt, &e.Source, &e.CompletionStatus, &errKind, &e.Name}, extra...)
	if err := s.Scan(dest...); err != nil {
		return err
	}
	e.Outcome = inviter.Outcome(outcome)
	e.API = inviter.API(api)
	e.ErrorKind = ErrorKind(errKind)
	return nil
}

// MetaReconcileRun is the inviter_meta key holding the latest reconcile run
// (ReconcileRun as JSON).
const MetaReconcileRun = "reconcile_run"

// ReconcileRun is what the latest reconciliation did, for the status page.
type ReconcileRun struct {
	At       time.Time `json:"at"`      // when it ran
	CutOff   time.Time `json:"cut_off"` // identities created before it are left alone
	Enqueued int       `json:"enqueued"`
	Err      string    `json:"error,omitempty"` // why it failed; empty on success
}

// SetReconcileRun records the latest reconciliation.
func (db *DB) SetReconcileRun(ctx context.Context, r ReconcileRun) error {
	r.At, r.CutOff = r.At.UTC(), r.CutOff.UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := db.SetMeta(ctx, MetaReconcileRun, string(b)); err != nil {
		return fmt.Errorf("record reconcile run: %w", err)
	}
	return nil
}

// ReconcileRun returns the latest reconciliation, or an error wrapping
// ErrNotFound before the first.
func (db *DB) ReconcileRun(ctx context.Context) (ReconcileRun, error) {
	v, err := db.Meta(ctx, MetaReconcileRun)
	if err != nil {
		return ReconcileRun{}, err
	}
	var r ReconcileRun
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return ReconcileRun{}, fmt.Errorf("inviter_meta %s: %w", MetaReconcileRun, err)
	}
	return r, nil
}

// pruneBatch is how many rows one DELETE of a prune removes: small enough
// that the SQLite connection is not held long from the webhook.
const pruneBatch = 500

// PruneDeliveries deletes deliveries received before before, in batches,
// and returns how many it deleted. The identities and the audit trail stay.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (int64, error) {
	return db.prune(ctx, "inviter_deliveries", "received_at", before)
}

// PruneAudit deletes audit rows recorded before before, in batches, and
// returns how many it deleted.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	return db.prune(ctx, "inviter_audit", "at", before)
}

func (db *DB) prune(ctx context.Context, table, col string, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, errors.New("prune: zero cut-off")
	}
	var total int64
	for {
		n, err := db.q.exec(ctx, `DELETE FROM `+table+` WHERE id IN
			(SELECT id FROM `+table+` WHERE `+col+` < $1 ORDER BY id LIMIT $2)`, utc(before), pruneBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", table, err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}
