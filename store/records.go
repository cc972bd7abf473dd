package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/inviter/inviter"
)

var sqlErrNoRows = sql.ErrNoRows

// DeliveryKind says what a stored delivery was.
type DeliveryKind string

const (
	// DeliveryEvent is a real event about an identity (the default).
	DeliveryEvent DeliveryKind = "event"
	// DeliveryTest is ISC's sample payload, sent by "Test subscription":
	// stored to show the subscription works, never invited.
	DeliveryTest DeliveryKind = "test"
)

// Delivery is one webhook delivery as it arrived, kept as the record of what
// ISC sent. Payloads carry personal data and are pruned after the retention
// period (PruneDeliveries).
type Delivery struct {
	ID           int64
	IdentityID   string
	IdentityName string
	Payload      []byte // the raw JSON body
	ReceivedAt   time.Time
	JobID        int64        // the invite job it led to; 0 when none
	Kind         DeliveryKind // empty is stored as DeliveryEvent
}

// ErrorKind classifies the failure behind an outcome, as package isc's
// typed errors do; empty when there was no failure.
type ErrorKind string

const (
	// ErrorKindTransient is a failure worth retrying (5xx, network, 429,
	// not yet visible): reconcile re-enqueues identities that gave up on one.
	ErrorKindTransient ErrorKind = "transient"
	// ErrorKindPermanent is ISC refusing the identity itself (4xx).
	ErrorKindPermanent ErrorKind = "permanent"
	// ErrorKindConfig is a problem of inviter's own credentials or rights
	// (401 after a token refresh, 403, a redirect).
	ErrorKindConfig ErrorKind = "config"
	// ErrorKindNotFound is ISC not showing the identity within the
	// visibility window: reconcile enqueues it again once ISC lists it.
	ErrorKindNotFound ErrorKind = "not_found"
)

// Identity is the current invite state of one identity (a row of
// inviter_identities). It, not River's unique jobs, decides whether an
// identity was already invited.
type Identity struct {
	IdentityID  string
	State       inviter.InviteState
	FirstSeenAt time.Time
	EventAt     time.Time // when its Identity Created event arrived; zero if none did
	InvitedAt   time.Time // last accepted invitation; zero if never
	InviteCount int       // invitations ISC accepted so far
	LastOutcome inviter.Outcome
	LastReason  string
	CCID        string
	API         inviter.API
	TaskID      string
	UpdatedAt   time.Time
	// LastErrorKind classifies the failure of the last outcome; empty when
	// the last outcome was not a failure.
	LastErrorKind ErrorKind
}

// AuditEntry is one row of the append-only audit trail: a decision about one
// identity.
type AuditEntry struct {
	ID         int64
	IdentityID string
	At         time.Time
	Outcome    inviter.Outcome
	Reason     string
	API        inviter.API
	CCID       string
	TaskID     string
	BatchID    string         // groups the identities sent in one ISC call
	Attempt    int            // the River job attempt that decided it
	Source     inviter.Source // what asked for the invite: event, reconcile, cli, reinvite
	// CompletionStatus is the completionStatus of ISC's task (TaskID), when
	// read: SUCCESS, WARNING, ERROR, …; empty when not known.
	CompletionStatus string
	// ErrorKind classifies the failure behind Outcome; empty for none.
	ErrorKind ErrorKind
}

// Decision is an outcome to record: an audit row, and optionally a new state
// for the identity.
type Decision struct {
	AuditEntry
	// State is the identity's new state; empty leaves the state as it is
	// (a retry in progress still updates last_outcome and last_reason).
	State inviter.InviteState
}

// InsertDelivery stores a delivery and returns its id. JobID may be 0 and
// set later with SetDeliveryJob.
func (tx *Tx) InsertDelivery(ctx context.Context, d Delivery) (int64, error) {
	return insertDelivery(ctx, tx.q, d)
}

func insertDelivery(ctx context.Context, q querier, d Delivery) (int64, error) {
	var id int64
	if d.Kind == "" {
		d.Kind = DeliveryEvent
	}
	err := q.queryRow(ctx, `INSERT INTO inviter_deliveries (identity_id, identity_name, payload, received_at, job_id, kind)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		d.IdentityID, d.IdentityName, string(d.Payload), utc(d.ReceivedAt), nullInt(d.JobID), string(d.Kind)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert delivery: %w", err)
	}
	return id, nil
}

// SetDeliveryJob records the invite job a delivery led to.
func (tx *Tx) SetDeliveryJob(ctx context.Context, deliveryID, jobID int64) error {
	n, err := tx.q.exec(ctx, `UPDATE inviter_deliveries SET job_id = $1 WHERE id = $2`, nullInt(jobID), deliveryID)
	if err != nil {
		return fmt.Errorf("set delivery job: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("set delivery job: delivery %d: %w", deliveryID, ErrNotFound)
	}
	return nil
}

// SetDeliveryKind changes what a stored delivery is taken for (a delivery
// of ISC's sample identity that turns out to be a real joiner's).
func (tx *Tx) SetDeliveryKind(ctx context.Context, deliveryID int64, kind DeliveryKind) error {
	n, err := tx.q.exec(ctx, `UPDATE inviter_deliveries SET kind = $1 WHERE id = $2`, string(kind), deliveryID)
	if err != nil {
		return fmt.Errorf("set delivery kind: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("set delivery kind: delivery %d: %w", deliveryID, ErrNotFound)
	}
	return nil
}

// Deliveries returns the latest deliveries, newest first, for identityID
// (all identities when empty), at most limit (100 when limit <= 0).
func (db *DB) Deliveries(ctx context.Context, identityID string, limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	var (
		rs  rows
		err error
	)
	if identityID == "" {
		rs, err = db.q.query(ctx, deliveryCols+` ORDER BY id DESC LIMIT $1`, limit)
	} else {
		rs, err = db.q.query(ctx, deliveryCols+` WHERE identity_id = $1 ORDER BY id DESC LIMIT $2`, identityID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return scanDeliveries(rs)
}

// deliveryCols selects a Delivery from inviter_deliveries.
const deliveryCols = `SELECT id, identity_id, identity_name, payload, received_at, job_id, kind FROM inviter_deliveries`

func scanDeliveries(rs rows) ([]Delivery, error) {
	defer rs.Close()
	var out []Delivery
	for rs.Next() {
		var (
			d       Delivery
			payload string
			kind    string
			jobID   sql.NullInt64
		)
		if err := rs.Scan(&d.ID, &d.IdentityID, &d.IdentityName, &payload, &d.ReceivedAt, &jobID, &kind); err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		d.Payload = []byte(payload)
		d.JobID = jobID.Int64
		d.Kind = DeliveryKind(kind)
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// EnsureIdentity adds identityID as pending, first seen at now, unless it is
// already known, and returns its row and whether it was added. eventAt, when
// not zero, fills event_at if it is still empty.
func (tx *Tx) EnsureIdentity(ctx context.Context, identityID string, eventAt, now time.Time) (Identity, bool, error) {
	return ensureIdentity(ctx, tx.q, identityID, eventAt, now)
}

// EnsureIdentity is Tx.EnsureIdentity outside a transaction.
func (db *DB) EnsureIdentity(ctx context.Context, identityID string, eventAt, now time.Time) (Identity, bool, error) {
	return ensureIdentity(ctx, db.q, identityID, eventAt, now)
}

func ensureIdentity(ctx context.Context, q querier, identityID string, eventAt, now time.Time) (Identity, bool, error) {
	n, err := q.exec(ctx, `INSERT INTO inviter_identities (identity_id, state, first_seen_at, event_at, updated_at)
		VALUES ($1, $2, $3, $4, $3) ON CONFLICT (identity_id) DO NOTHING`,
		identityID, string(inviter.StatePending), utc(now), nullTime(eventAt))
	if err != nil {
		return Identity{}, false, fmt.Errorf("ensure identity %s: %w", identityID, err)
	}
	created := n > 0
	if !created && !eventAt.IsZero() {
		if _, err := q.exec(ctx, `UPDATE inviter_identities SET event_at = $1 WHERE identity_id = $2 AND event_at IS NULL`,
			utc(eventAt), identityID); err != nil {
			return Identity{}, false, fmt.Errorf("ensure identity %s: %w", identityID, err)
		}
	}
	ident, err := getIdentity(ctx, q, identityID)
	return ident, created, err
}

const identityCols = `identity_id, state, first_seen_at, event_at, invited_at, invite_count,
	last_outcome, last_reason, cc_id, api, task_id, updated_at, last_error_kind`

func scanIdentity(s scanner) (Identity, error) {
	var (
		i                  Identity
		state, outcome     string
		api, errKind       string
		eventAt, invitedAt sql.NullTime
	)
	err := s.Scan(&i.IdentityID, &state, &i.FirstSeenAt, &eventAt, &invitedAt, &i.InviteCount,
		&outcome, &i.LastReason, &i.CCID, &api, &i.TaskID, &i.UpdatedAt, &errKind)
	if err != nil {
		return Identity{}, err
	}
	i.State = inviter.InviteState(state)
	i.LastOutcome = inviter.Outcome(outcome)
	i.API = inviter.API(api)
	i.LastErrorKind = ErrorKind(errKind)
	i.EventAt = eventAt.Time
	i.InvitedAt = invitedAt.Time
	return i, nil
}

// Identity returns the state of identityID, or an error wrapping ErrNotFound.
func (db *DB) Identity(ctx context.Context, identityID string) (Identity, error) {
	return getIdentity(ctx, db.q, identityID)
}

// Identity is DB.Identity inside the transaction.
func (tx *Tx) Identity(ctx context.Context, identityID string) (Identity, error) {
	return getIdentity(ctx, tx.q, identityID)
}

func getIdentity(ctx context.Context, q querier, identityID string) (Identity, error) {
	i, err := scanIdentity(q.queryRow(ctx, `SELECT `+identityCols+` FROM inviter_identities WHERE identity_id = $1`, identityID))
	if isNoRows(err) {
		return Identity{}, fmt.Errorf("identity %s: %w", identityID, ErrNotFound)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("identity %s: %w", identityID, err)
	}
	return i, nil
}

// Identities returns identities in state (all states when empty), most
// recently updated first, at most limit (100 when limit <= 0).
func (db *DB) Identities(ctx context.Context, state inviter.InviteState, limit int) ([]Identity, error) {
	if limit <= 0 {
		limit = 100
	}
	var (
		rs  rows
		err error
	)
	if state == "" {
		rs, err = db.q.query(ctx, `SELECT `+identityCols+` FROM inviter_identities
			ORDER BY updated_at DESC, identity_id LIMIT $1`, limit)
	} else {
		rs, err = db.q.query(ctx, `SELECT `+identityCols+` FROM inviter_identities WHERE state = $1
			ORDER BY updated_at DESC, identity_id LIMIT $2`, string(state), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	return scanIdentities(rs, "list identities")
}

// scanIdentities reads every row of rs and closes it; errors are prefixed
// with what.
func scanIdentities(rs rows, what string) ([]Identity, error) {
	defer rs.Close()
	var out []Identity
	for rs.Next() {
		i, err := scanIdentity(rs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, i)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Record stores a decision in one transaction: it appends the audit row and
// updates the identity (adding it first if unknown). An invited outcome with
// State inviter.StateInvited also counts the invitation and sets invited_at. A zero
// At means now.
func (db *DB) Record(ctx context.Context, d Decision) error {
	return db.InTx(ctx, func(tx *Tx) error { return tx.Record(ctx, d) })
}

// Record is DB.Record inside the transaction.
func (tx *Tx) Record(ctx context.Context, d Decision) error {
	return tx.RecordMany(ctx, []Decision{d})
}

// RecordMany stores decisions as Record does each, in order, with a few
// statements for all of them: the audit rows in one insert, the unknown
// identities in one more, and the identities' updates in one (one per
// repetition when an identity has several decisions). On PostgreSQL the
// statements go out with COMMIT, in its round trip: the transaction's
// other statements do not see their rows, and their failure fails the
// commit.
func (tx *Tx) RecordMany(ctx context.Context, ds []Decision) error {
	if len(ds) == 0 {
		return nil
	}
	ds = slices.Clone(ds)
	now := time.Now()
	seen := make([]IdentitySeen, len(ds))
	for i := range ds {
		if ds[i].IdentityID == "" {
			return fmt.Errorf("record decision: empty identity id")
		}
		if ds[i].At.IsZero() {
			ds[i].At = now
		}
		seen[i] = IdentitySeen{IdentityID: ds[i].IdentityID, Now: ds[i].At}
	}
	fail := func(err error) error { return fmt.Errorf("record decisions: %w", err) }
	if err := tx.addIdentities(ctx, mergeSeen(seen), nil, fail); err != nil {
		return fail(err)
	}
	entries := make([]AuditEntry, len(ds))
	for i, d := range ds {
		entries[i] = d.AuditEntry
	}
	if err := tx.appendAudits(ctx, entries, fail); err != nil {
		return fail(err)
	}
	// An UPDATE applies one change per row: an identity's second decision
	// goes into a second UPDATE, after its first.
	for wave := range waves(ds) {
		wrap := fail
		if len(wave) == 1 {
			id := wave[0].IdentityID
			wrap = func(err error) error { return fmt.Errorf("record decision for %s: %w", id, err) }
		}
		if err := tx.updateIdentities(ctx, wave, wrap); err != nil {
			return wrap(err)
		}
	}
	return nil
}

// AppendAudit appends one audit row without touching the identity's state. A
// zero At means now.
func (db *DB) AppendAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return appendAudit(ctx, db.q, e)
}

// AppendAudit is DB.AppendAudit inside the transaction.
func (tx *Tx) AppendAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return appendAudit(ctx, tx.q, e)
}

func appendAudit(ctx context.Context, q querier, e AuditEntry) error {
	_, err := q.exec(ctx, `INSERT INTO inviter_audit
		(identity_id, at, outcome, reason, api, cc_id, task_id, batch_id, attempt, source, completion_status, error_kind)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.IdentityID, utc(e.At), string(e.Outcome), e.Reason, string(e.API), e.CCID, e.TaskID, e.BatchID, e.Attempt, e.Source,
		e.CompletionStatus, string(e.ErrorKind))
	if err != nil {
		return fmt.Errorf("append audit for %s: %w", e.IdentityID, err)
	}
	return nil
}

// Audit returns the audit trail of identityID (every identity when empty),
// newest first, at most limit rows (100 when limit <= 0).
func (db *DB) Audit(ctx context.Context, identityID string, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	var (
		rs  rows
		err error
	)
	if identityID == "" {
		rs, err = db.q.query(ctx, auditCols+` ORDER BY id DESC LIMIT $1`, limit)
	} else {
		rs, err = db.q.query(ctx, auditCols+` WHERE identity_id = $1 ORDER BY id DESC LIMIT $2`, identityID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return scanAudit(rs)
}

// auditCols selects an AuditEntry from inviter_audit.
const auditCols = `SELECT id, identity_id, at, outcome, reason, api, cc_id, task_id, batch_id, attempt, source,
	completion_status, error_kind FROM inviter_audit`

// AuditErrors returns the audit rows with a failed, not_found or retrying outcome,
// every identity, newest first, at most limit (100 when limit <= 0).
func (db *DB) AuditErrors(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rs, err := db.q.query(ctx, auditCols+` WHERE outcome IN ($1, $2, $4) ORDER BY id DESC LIMIT $3`,
		string(inviter.OutcomeFailed), string(inviter.OutcomeNotFound), limit, string(inviter.OutcomeRetrying))
	if err != nil {
		return nil, fmt.Errorf("list audit errors: %w", err)
	}
	return scanAudit(rs)
}

func scanAudit(rs rows) ([]AuditEntry, error) {
	defer rs.Close()
	var out []AuditEntry
	for rs.Next() {
		var (
			e                     AuditEntry
			outcome, api, errKind string
		)
		if err := rs.Scan(&e.ID, &e.IdentityID, &e.At, &outcome, &e.Reason, &api, &e.CCID, &e.TaskID,
			&e.BatchID, &e.Attempt, &e.Source, &e.CompletionStatus, &errKind); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.Outcome = inviter.Outcome(outcome)
		e.API = inviter.API(api)
		e.ErrorKind = ErrorKind(errKind)
		out = append(out, e)
	}
	return out, rs.Err()
}

// Counts are totals for a status page.
type Counts struct {
	// Identities counts identities by state; every state is present.
	Identities map[inviter.InviteState]int64
	// Deliveries is the number of deliveries stored.
	Deliveries int64
	// Jobs counts River jobs by River state (available, running, retryable,
	// scheduled, completed, cancelled, discarded, pending), all kinds.
	// Finished jobs disappear after River's retention periods.
	Jobs map[string]int64
}

// Counts returns the totals a status page shows, in one query.
func (db *DB) Counts(ctx context.Context) (Counts, error) {
	c := Counts{Identities: map[inviter.InviteState]int64{}, Jobs: map[string]int64{}}
	for _, s := range inviter.InviteStates {
		c.Identities[s] = 0
	}
	// river_job's state column is River's public schema on both backends.
	rs, err := db.q.query(ctx, `SELECT 'i', state, count(*) FROM inviter_identities GROUP BY state
		UNION ALL SELECT 'd', '', count(*) FROM inviter_deliveries
		UNION ALL SELECT 'j', CAST(state AS TEXT), count(*) FROM river_job GROUP BY state`)
	if err != nil {
		return Counts{}, fmt.Errorf("count identities, deliveries and jobs: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			table, k string
			n        int64
		)
		if err := rs.Scan(&table, &k, &n); err != nil {
			return Counts{}, fmt.Errorf("count identities, deliveries and jobs: %w", err)
		}
		switch table {
		case "i":
			c.Identities[inviter.InviteState(k)] = n
		case "d":
			c.Deliveries = n
		case "j":
			c.Jobs[k] = n
		}
	}
	if err := rs.Err(); err != nil {
		return Counts{}, fmt.Errorf("count identities, deliveries and jobs: %w", err)
	}
	return c, nil
}

// CountJobs counts River jobs (all kinds) by River state; states with no
// job are absent.
func (db *DB) CountJobs(ctx context.Context) (map[string]int64, error) {
	jobs := map[string]int64{}
	// river_job's state column is River's public schema on both backends.
	if err := countBy(ctx, db.q, `SELECT CAST(state AS TEXT), count(*) FROM river_job GROUP BY state`, func(k string, n int64) {
		jobs[k] = n
	}); err != nil {
		return nil, fmt.Errorf("count jobs: %w", err)
	}
	return jobs, nil
}

func countBy(ctx context.Context, q querier, query string, set func(string, int64)) error {
	rs, err := q.query(ctx, query)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var (
			k string
			n int64
		)
		if err := rs.Scan(&k, &n); err != nil {
			return err
		}
		set(k, n)
	}
	return rs.Err()
}

// DueForReinvite returns invited identities whose last invitation was sent
// before invitedBefore and that have been invited at most maxCount times,
// oldest invitation first, at most limit (100 when limit <= 0).
func (db *DB) DueForReinvite(ctx context.Context, invitedBefore time.Time, maxCount, limit int) ([]Identity, error) {
	if limit <= 0 {
		limit = 100
	}
	rs, err := db.q.query(ctx, `SELECT `+identityCols+` FROM inviter_identities
		WHERE state = $1 AND invited_at < $2 AND invite_count <= $3
		ORDER BY invited_at, identity_id LIMIT $4`, string(inviter.StateInvited), invitedBefore.UTC(), maxCount, limit)
	if err != nil {
		return nil, fmt.Errorf("identities due for re-invite: %w", err)
	}
	return scanIdentities(rs, "identities due for re-invite")
}
