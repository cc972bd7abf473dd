package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/inviter/inviter"
)

// The statements of this file write the rows of many deliveries or
// decisions at once, for the group commits of the intake and of the invite
// outcomes: one statement per group on PostgreSQL
// (the rows travel as arrays, unnest turns them back into rows), so that a
// group costs the same few round trips whatever its size; multi-row VALUES
// on SQLite, in chunks of a power of two rows, so that a connection keeps
// a handful of compiled variants of each statement (stmtcache.go).

// maxChunk is the most rows one SQLite statement of this file writes or
// reads.
const maxChunk = 128

// chunks returns the sizes of the SQLite statements that handle n rows:
// powers of two, largest first, at most maxChunk, summing to n.
func chunks(n int) []int {
	var out []int
	for size := maxChunk; n > 0; size /= 2 {
		for n >= size {
			out = append(out, size)
			n -= size
		}
	}
	return out
}

// valuesList returns "(?, …), (?, …)": rows tuples of cols placeholders
// each, for a multi-row VALUES.
func valuesList(rows, cols int) string {
	tuple := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(rows * (len(tuple) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// InsertDeliveries stores deliveries, as InsertDelivery does each, and
// returns their ids in the order of ds. JobIDs may be 0 and set later with
// SetDeliveryJobs.
func (tx *Tx) InsertDeliveries(ctx context.Context, ds []Delivery) ([]int64, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(ds))
	var err error
	if tx.pg != nil {
		ids, err = tx.insertDeliveriesPostgres(ctx, ds, ids)
	} else {
		ids, err = tx.insertDeliveriesSQLite(ctx, ds, ids)
	}
	if err != nil {
		return nil, fmt.Errorf("insert deliveries: %w", err)
	}
	if len(ids) != len(ds) {
		return nil, fmt.Errorf("insert deliveries: %d ids returned for %d deliveries", len(ids), len(ds))
	}
	// Ids are handed out in the order the rows are inserted, which is ds's;
	// RETURNING does not promise to list them in that order.
	slices.Sort(ids)
	return ids, nil
}

const pgInsertDeliveries = `INSERT INTO inviter_deliveries (identity_id, identity_name, payload, received_at, job_id, kind)
	SELECT identity_id, identity_name, payload, received_at, job_id, kind
	FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::text[])
		WITH ORDINALITY AS d(identity_id, identity_name, payload, received_at, job_id, kind, ord)
	ORDER BY ord
	RETURNING id`

func (tx *Tx) insertDeliveriesPostgres(ctx context.Context, ds []Delivery, ids []int64) ([]int64, error) {
	rs, err := tx.q.query(ctx, pgInsertDeliveries, pgDeliveryArgs(ds)...)
	if err != nil {
		return nil, err
	}
	return scanIDs(rs, ids)
}

// pgDeliveryArgs are the arguments of pgInsertDeliveries for ds.
func pgDeliveryArgs(ds []Delivery) []any {
	var (
		identities = make([]string, len(ds))
		names      = make([]string, len(ds))
		payloads   = make([]string, len(ds))
		received   = make([]time.Time, len(ds))
		jobs       = make([]*int64, len(ds))
		kinds      = make([]string, len(ds))
	)
	for i, d := range ds {
		identities[i], names[i], payloads[i], received[i] = d.IdentityID, d.IdentityName, string(d.Payload), utc(d.ReceivedAt)
		if d.JobID != 0 {
			jobs[i] = &ds[i].JobID
		}
		kinds[i] = string(deliveryKind(d.Kind))
	}
	return []any{identities, names, payloads, received, jobs, kinds}
}

func (tx *Tx) insertDeliveriesSQLite(ctx context.Context, ds []Delivery, ids []int64) ([]int64, error) {
	const cols = 6
	for _, n := range chunks(len(ds)) {
		part := ds[:n]
		ds = ds[n:]
		args := make([]any, 0, n*cols)
		for _, d := range part {
			args = append(args, d.IdentityID, d.IdentityName, string(d.Payload), utc(d.ReceivedAt), nullInt(d.JobID), string(deliveryKind(d.Kind)))
		}
		rs, err := tx.q.query(ctx, `INSERT INTO inviter_deliveries (identity_id, identity_name, payload, received_at, job_id, kind)
			VALUES `+valuesList(n, cols)+` RETURNING id`, args...)
		if err != nil {
			return nil, err
		}
		if ids, err = scanIDs(rs, ids); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// deliveryKind is k, or DeliveryEvent when k is empty.
func deliveryKind(k DeliveryKind) DeliveryKind {
	if k == "" {
		return DeliveryEvent
	}
	return k
}

// scanIDs appends the int64 of each row of rs to ids and closes rs.
func scanIDs(rs rows, ids []int64) ([]int64, error) {
	defer rs.Close()
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rs.Err()
}

// InsertDeliveriesAndIdentities is InsertDeliveries(ds) followed by
// EnsureIdentities(seen), in one round trip on PostgreSQL when every
// identity of seen is new.
func (tx *Tx) InsertDeliveriesAndIdentities(ctx context.Context, ds []Delivery, seen []IdentitySeen) ([]int64, map[string]Identity, error) {
	if tx.pg == nil || len(ds) == 0 || len(seen) == 0 {
		ids, err := tx.InsertDeliveries(ctx, ds)
		if err != nil {
			return nil, nil, err
		}
		idents, err := tx.EnsureIdentities(ctx, seen)
		if err != nil {
			return nil, nil, err
		}
		return ids, idents, nil
	}
	want := mergeSeen(seen)
	b := &pgx.Batch{}
	b.Queue(pgInsertDeliveries, pgDeliveryArgs(ds)...)
	b.Queue(pgAddIdentities+" RETURNING "+identityCols, pgIdentityArgs(want)...)
	br := tx.pg.SendBatch(ctx, b)
	ids, idents, err := readDeliveriesAndIdentities(br, len(ds))
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	idents, err = tx.ensureKnown(ctx, want, idents)
	if err != nil {
		return nil, nil, fmt.Errorf("ensure identities: %w", err)
	}
	return ids, idents, nil
}

// readDeliveriesAndIdentities reads the results of InsertDeliveriesAndIdentities's batch: the
// ids of n deliveries, then the identities added.
func readDeliveriesAndIdentities(br pgx.BatchResults, n int) ([]int64, map[string]Identity, error) {
	rs, err := br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("insert deliveries: %w", err)
	}
	ids, err := scanIDs(rs, make([]int64, 0, n))
	if err != nil {
		return nil, nil, fmt.Errorf("insert deliveries: %w", err)
	}
	if len(ids) != n {
		return nil, nil, fmt.Errorf("insert deliveries: %d ids returned for %d deliveries", len(ids), n)
	}
	slices.Sort(ids)
	rs, err = br.Query()
	if err != nil {
		return nil, nil, fmt.Errorf("ensure identities: %w", err)
	}
	idents := make(map[string]Identity, n)
	if err := scanIdentitiesInto(rs, idents); err != nil {
		return nil, nil, fmt.Errorf("ensure identities: %w", err)
	}
	return ids, idents, nil
}

// DeliveryJob links a stored delivery to the invite job it led to.
type DeliveryJob struct {
	DeliveryID int64
	JobID      int64
}

// SetDeliveryJobs records the invite job of each delivery, as
// SetDeliveryJob does for one; each delivery is listed once. It fails,
// wrapping ErrNotFound, when a delivery does not exist.
//
// On PostgreSQL the update is sent with COMMIT, in its round trip: it
// returns nil at once, the transaction's other statements do not see the
// links, and its failure fails the commit (nothing of the transaction is
// stored).
func (tx *Tx) SetDeliveryJobs(ctx context.Context, links []DeliveryJob) error {
	if len(links) == 0 {
		return nil
	}
	if tx.pg != nil {
		deliveries, jobs := make([]int64, len(links)), make([]*int64, len(links))
		for i, l := range links {
			deliveries[i] = l.DeliveryID
			if l.JobID != 0 {
				jobs[i] = &l.JobID // a copy: the statement goes out later
			}
		}
		return tx.pg.execAtCommit(ctx, pgSetDeliveryJobs, []any{deliveries, jobs, len(links)}, func(err error) error {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == pgDivisionByZero {
				return fmt.Errorf("set delivery jobs: a delivery of %d does not exist: %w", len(links), ErrNotFound)
			}
			return fmt.Errorf("set delivery jobs: %w", err)
		})
	}
	var updated int64
	rest := links
	for _, n := range chunks(len(links)) {
		part := rest[:n]
		rest = rest[n:]
		args := make([]any, 0, 2*n)
		for _, l := range part {
			args = append(args, l.DeliveryID, nullInt(l.JobID))
		}
		got, err := tx.q.exec(ctx, `UPDATE inviter_deliveries SET job_id = l.column2
			FROM (VALUES `+valuesList(n, 2)+`) AS l WHERE inviter_deliveries.id = l.column1`, args...)
		if err != nil {
			return fmt.Errorf("set delivery jobs: %w", err)
		}
		updated += got
	}
	return linked(updated, len(links))
}

// pgSetDeliveryJobs links deliveries to their jobs and fails, dividing by
// zero, unless it updated all $3 of them: it goes out in one round trip
// with COMMIT, so the check must fail the statement (and with it the
// transaction) on the server.
const pgSetDeliveryJobs = `WITH u AS (
		UPDATE inviter_deliveries AS d SET job_id = l.job_id
		FROM unnest($1::bigint[], $2::bigint[]) AS l(delivery_id, job_id) WHERE d.id = l.delivery_id
		RETURNING 1)
	SELECT 1 / (count(*) = $3::bigint)::int FROM u`

// pgDivisionByZero is PostgreSQL's SQLSTATE for division by zero.
const pgDivisionByZero = "22012"

// linked is SetDeliveryJobs's error when updated of n deliveries were
// linked: nil when all were.
func linked(updated int64, n int) error {
	if updated != int64(n) {
		return fmt.Errorf("set delivery jobs: %d of %d deliveries: %w", int64(n)-updated, n, ErrNotFound)
	}
	return nil
}

// IdentitySeen is one identity for EnsureIdentities.
type IdentitySeen struct {
	// IdentityID is the identity to add unless known.
	IdentityID string
	// EventAt, when not zero, fills event_at if it is still empty.
	EventAt time.Time
	// Now is first_seen_at (and updated_at) when the identity is added.
	Now time.Time
}

// EnsureIdentities does what EnsureIdentity does for each of seen, in
// order, and returns the rows afterwards by identity id. An identity
// listed twice is added with its first entry's Now, and gets the first
// non-zero EventAt of its entries.
//
// Identities are added in the order of their ids, so that two
// transactions adding some of the same new identities wait for each other
// instead of deadlocking.
func (tx *Tx) EnsureIdentities(ctx context.Context, seen []IdentitySeen) (map[string]Identity, error) {
	out := make(map[string]Identity, len(seen))
	if len(seen) == 0 {
		return out, nil
	}
	want := mergeSeen(seen)
	if err := tx.addIdentities(ctx, want, out, nil); err != nil {
		return nil, fmt.Errorf("ensure identities: %w", err)
	}
	return tx.ensureKnown(ctx, want, out)
}

// ensureKnown is the rest of EnsureIdentities once the identities of want
// that were unknown are added and in out: it fills the others' event_at,
// reads them into out and returns out.
func (tx *Tx) ensureKnown(ctx context.Context, want []IdentitySeen, out map[string]Identity) (map[string]Identity, error) {
	if len(out) == len(want) {
		return out, nil
	}
	// The rest were known already: fill their event_at if empty, then read
	// them.
	var known []IdentitySeen
	for _, s := range want {
		if _, ok := out[s.IdentityID]; !ok {
			known = append(known, s)
		}
	}
	if err := tx.fillEventAt(ctx, known); err != nil {
		return nil, fmt.Errorf("ensure identities: %w", err)
	}
	if err := tx.readIdentities(ctx, known, out); err != nil {
		return nil, fmt.Errorf("ensure identities: %w", err)
	}
	for _, s := range known {
		if _, ok := out[s.IdentityID]; !ok {
			return nil, fmt.Errorf("ensure identities: identity %s: %w", s.IdentityID, ErrNotFound)
		}
	}
	return out, nil
}

// mergeSeen returns one entry per identity of seen, sorted by id: the first
// entry's Now and the first non-zero EventAt.
func mergeSeen(seen []IdentitySeen) []IdentitySeen {
	at := make(map[string]int, len(seen))
	out := make([]IdentitySeen, 0, len(seen))
	for _, s := range seen {
		i, ok := at[s.IdentityID]
		if !ok {
			at[s.IdentityID] = len(out)
			out = append(out, s)
			continue
		}
		if out[i].EventAt.IsZero() {
			out[i].EventAt = s.EventAt
		}
	}
	slices.SortFunc(out, func(a, b IdentitySeen) int { return strings.Compare(a.IdentityID, b.IdentityID) })
	return out
}

const pgAddIdentities = `INSERT INTO inviter_identities (identity_id, state, first_seen_at, event_at, updated_at)
	SELECT identity_id, $4::text, first_seen_at, event_at, first_seen_at
	FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS s(identity_id, first_seen_at, event_at, ord)
	ORDER BY ord
	ON CONFLICT (identity_id) DO NOTHING`

// pgIdentityArgs are the arguments of pgAddIdentities for want.
func pgIdentityArgs(want []IdentitySeen) []any {
	ids, nows, events := make([]string, len(want)), make([]time.Time, len(want)), make([]*time.Time, len(want))
	for i, s := range want {
		ids[i], nows[i] = s.IdentityID, utc(s.Now)
		if !s.EventAt.IsZero() {
			e := utc(s.EventAt)
			events[i] = &e
		}
	}
	return []any{ids, nows, events, string(inviter.StatePending)}
}

// addIdentities inserts the identities of want that are not known yet and
// puts the rows it inserted into out, unless out is nil: then, on
// PostgreSQL, the insert goes out with COMMIT and wrap turns its error into
// the commit's.
func (tx *Tx) addIdentities(ctx context.Context, want []IdentitySeen, out map[string]Identity, wrap func(error) error) error {
	returning := " RETURNING " + identityCols
	if out == nil {
		returning = ""
	}
	if tx.pg != nil && out == nil {
		return tx.pg.execAtCommit(ctx, pgAddIdentities, pgIdentityArgs(want), wrap)
	}
	if tx.pg != nil {
		rs, err := tx.q.query(ctx, pgAddIdentities+returning, pgIdentityArgs(want)...)
		if err != nil {
			return err
		}
		return scanIdentitiesInto(rs, out)
	}
	const cols = 5
	rest := want
	for _, n := range chunks(len(want)) {
		part := rest[:n]
		rest = rest[n:]
		args := make([]any, 0, n*cols)
		for _, s := range part {
			args = append(args, s.IdentityID, string(inviter.StatePending), utc(s.Now), nullTime(s.EventAt), utc(s.Now))
		}
		rs, err := tx.q.query(ctx, `INSERT INTO inviter_identities (identity_id, state, first_seen_at, event_at, updated_at)
			VALUES `+valuesList(n, cols)+` ON CONFLICT (identity_id) DO NOTHING`+returning, args...)
		if err != nil {
			return err
		}
		if err := scanIdentitiesInto(rs, out); err != nil {
			return err
		}
	}
	return nil
}

// fillEventAt sets event_at of the known identities whose event_at is
// empty, for the entries of known with an EventAt.
func (tx *Tx) fillEventAt(ctx context.Context, known []IdentitySeen) error {
	var ids []string
	var events []time.Time
	for _, s := range known {
		if !s.EventAt.IsZero() {
			ids, events = append(ids, s.IdentityID), append(events, utc(s.EventAt))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if tx.pg != nil {
		_, err := tx.q.exec(ctx, `UPDATE inviter_identities AS i SET event_at = s.event_at
			FROM unnest($1::text[], $2::timestamptz[]) AS s(identity_id, event_at)
			WHERE i.identity_id = s.identity_id AND i.event_at IS NULL`, ids, events)
		return err
	}
	for _, n := range chunks(len(ids)) {
		args := make([]any, 0, 2*n)
		for k := range n {
			args = append(args, ids[k], events[k])
		}
		ids, events = ids[n:], events[n:]
		if _, err := tx.q.exec(ctx, `UPDATE inviter_identities SET event_at = s.column2
			FROM (VALUES `+valuesList(n, 2)+`) AS s
			WHERE inviter_identities.identity_id = s.column1 AND inviter_identities.event_at IS NULL`, args...); err != nil {
			return err
		}
	}
	return nil
}

// readIdentities puts the rows of the identities of known into out.
func (tx *Tx) readIdentities(ctx context.Context, known []IdentitySeen, out map[string]Identity) error {
	ids := make([]string, len(known))
	for i, s := range known {
		ids[i] = s.IdentityID
	}
	return identitiesByID(ctx, tx.q, tx.pg != nil, ids, out)
}

// IdentitiesByID returns the rows of those of ids that inviter knows, by
// id, in one statement on PostgreSQL and in chunks of a power of two on
// SQLite; an id it does not know has no entry. It is DB.Identity for many
// identities at once (the invite workers look up their identities together).
func (db *DB) IdentitiesByID(ctx context.Context, ids []string) (map[string]Identity, error) {
	out := make(map[string]Identity, len(ids))
	if err := identitiesByID(ctx, db.q, db.pool != nil, ids, out); err != nil {
		return nil, fmt.Errorf("identities by id: %w", err)
	}
	return out, nil
}

// identitiesByID puts the rows of the identities of ids into out.
func identitiesByID(ctx context.Context, q querier, postgres bool, ids []string, out map[string]Identity) error {
	if len(ids) == 0 {
		return nil
	}
	if postgres {
		rs, err := q.query(ctx, `SELECT `+identityCols+` FROM inviter_identities WHERE identity_id = ANY($1::text[])`, ids)
		if err != nil {
			return err
		}
		return scanIdentitiesInto(rs, out)
	}
	for _, n := range chunks(len(ids)) {
		args := make([]any, n)
		for k := range n {
			args[k] = ids[k]
		}
		ids = ids[n:]
		rs, err := q.query(ctx, `SELECT `+identityCols+` FROM inviter_identities
			WHERE identity_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", n), ", ")+`)`, args...)
		if err != nil {
			return err
		}
		if err := scanIdentitiesInto(rs, out); err != nil {
			return err
		}
	}
	return nil
}

// scanIdentitiesInto puts every identity row of rs into out, by id, and
// closes rs; with a nil out it only reads rs to its end.
func scanIdentitiesInto(rs rows, out map[string]Identity) error {
	defer rs.Close()
	if out == nil {
		for rs.Next() {
		}
		return rs.Err()
	}
	for rs.Next() {
		i, err := scanIdentity(rs)
		if err != nil {
			return err
		}
		out[i.IdentityID] = i
	}
	return rs.Err()
}

// appendAudits appends the audit rows of entries, in order; on PostgreSQL
// the insert goes out with COMMIT and wrap turns its error into the
// commit's.
func (tx *Tx) appendAudits(ctx context.Context, entries []AuditEntry, wrap func(error) error) error {
	if tx.pg != nil {
		n := len(entries)
		var (
			identities, outcomes, reasons, apis = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			ccIDs, taskIDs, batchIDs, sources   = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			statuses, kinds                     = make([]string, n), make([]string, n)
			at                                  = make([]time.Time, n)
			attempts                            = make([]int64, n)
		)
		for i, e := range entries {
			identities[i], at[i], outcomes[i], reasons[i], apis[i] = e.IdentityID, utc(e.At), string(e.Outcome), e.Reason, string(e.API)
			ccIDs[i], taskIDs[i], batchIDs[i], attempts[i], sources[i] = e.CCID, e.TaskID, e.BatchID, int64(e.Attempt), string(e.Source)
			statuses[i], kinds[i] = e.CompletionStatus, string(e.ErrorKind)
		}
		return tx.pg.execAtCommit(ctx, `INSERT INTO inviter_audit
			(identity_id, at, outcome, reason, api, cc_id, task_id, batch_id, attempt, source, completion_status, error_kind)
			SELECT identity_id, at, outcome, reason, api, cc_id, task_id, batch_id, attempt, source, completion_status, error_kind
			FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
				$9::bigint[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY
				AS a(identity_id, at, outcome, reason, api, cc_id, task_id, batch_id, attempt, source, completion_status, error_kind, ord)
			ORDER BY ord`,
			[]any{identities, at, outcomes, reasons, apis, ccIDs, taskIDs, batchIDs, attempts, sources, statuses, kinds},
			func(err error) error { return wrap(fmt.Errorf("append audit: %w", err)) })
	}
	const cols = 12
	for _, n := range chunks(len(entries)) {
		part := entries[:n]
		entries = entries[n:]
		args := make([]any, 0, n*cols)
		for _, e := range part {
			args = append(args, e.IdentityID, utc(e.At), string(e.Outcome), e.Reason, string(e.API), e.CCID, e.TaskID, e.BatchID,
				e.Attempt, e.Source, e.CompletionStatus, string(e.ErrorKind))
		}
		if _, err := tx.q.exec(ctx, `INSERT INTO inviter_audit
			(identity_id, at, outcome, reason, api, cc_id, task_id, batch_id, attempt, source, completion_status, error_kind)
			VALUES `+valuesList(n, cols), args...); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
	}
	return nil
}

// waves yields ds in groups in which each identity appears at most once:
// the first decision of each identity, then the second, and so on; each
// group sorted by identity, so that concurrent updates lock rows in one
// order.
func waves(ds []Decision) func(yield func([]Decision) bool) {
	return func(yield func([]Decision) bool) {
		count := make(map[string]int, len(ds))
		var split [][]Decision
		for _, d := range ds {
			k := count[d.IdentityID]
			count[d.IdentityID] = k + 1
			if k == len(split) {
				split = append(split, make([]Decision, 0, len(ds)))
			}
			split[k] = append(split[k], d)
		}
		for _, w := range split {
			slices.SortStableFunc(w, func(a, b Decision) int { return strings.Compare(a.IdentityID, b.IdentityID) })
			if !yield(w) {
				return
			}
		}
	}
}

// invites reports whether d counts an invitation.
func invites(d Decision) bool {
	return d.State == inviter.StateInvited && d.Outcome == inviter.OutcomeInvited
}

// nullString returns nil for "" and s otherwise.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// updateIdentities applies the decisions to their identities, which exist
// and appear once each: last outcome, reason, error kind and time always;
// state, API, cc id and task id when set; an invitation counted when the
// decision is one. On PostgreSQL the update goes out with COMMIT and wrap
// turns its error into the commit's.
func (tx *Tx) updateIdentities(ctx context.Context, ds []Decision, wrap func(error) error) error {
	if tx.pg != nil {
		n := len(ds)
		var (
			identities, outcomes, reasons, kinds = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			states, apis, ccIDs, taskIDs         = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
			at                                   = make([]time.Time, n)
			invited                              = make([]bool, n)
		)
		opt := func(s string) *string {
			if s == "" {
				return nil
			}
			return &s
		}
		for i, d := range ds {
			identities[i], outcomes[i], reasons[i], at[i], kinds[i] = d.IdentityID, string(d.Outcome), d.Reason, utc(d.At), string(d.ErrorKind)
			states[i], apis[i], ccIDs[i], taskIDs[i] = opt(string(d.State)), opt(string(d.API)), opt(d.CCID), opt(d.TaskID)
			invited[i] = invites(d)
		}
		return tx.pg.execAtCommit(ctx, `UPDATE inviter_identities AS i SET
				last_outcome = d.outcome, last_reason = d.reason, updated_at = d.at, last_error_kind = d.error_kind,
				state = COALESCE(d.state, i.state), api = COALESCE(d.api, i.api),
				cc_id = COALESCE(d.cc_id, i.cc_id), task_id = COALESCE(d.task_id, i.task_id),
				invited_at = CASE WHEN d.invited THEN d.at ELSE i.invited_at END,
				invite_count = i.invite_count + CASE WHEN d.invited THEN 1 ELSE 0 END
			FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bool[])
				AS d(identity_id, outcome, reason, at, error_kind, state, api, cc_id, task_id, invited)
			WHERE i.identity_id = d.identity_id`,
			[]any{identities, outcomes, reasons, at, kinds, states, apis, ccIDs, taskIDs, invited}, wrap)
	}
	const cols = 10
	for _, n := range chunks(len(ds)) {
		part := ds[:n]
		ds = ds[n:]
		args := make([]any, 0, n*cols)
		for _, d := range part {
			args = append(args, d.IdentityID, string(d.Outcome), d.Reason, utc(d.At), string(d.ErrorKind),
				nullString(string(d.State)), nullString(string(d.API)), nullString(d.CCID), nullString(d.TaskID), invites(d))
		}
		if _, err := tx.q.exec(ctx, `UPDATE inviter_identities SET
				last_outcome = d.column2, last_reason = d.column3, updated_at = d.column4, last_error_kind = d.column5,
				state = COALESCE(d.column6, inviter_identities.state), api = COALESCE(d.column7, inviter_identities.api),
				cc_id = COALESCE(d.column8, inviter_identities.cc_id), task_id = COALESCE(d.column9, inviter_identities.task_id),
				invited_at = CASE WHEN d.column10 THEN d.column4 ELSE inviter_identities.invited_at END,
				invite_count = inviter_identities.invite_count + CASE WHEN d.column10 THEN 1 ELSE 0 END
			FROM (VALUES `+valuesList(n, cols)+`) AS d
			WHERE inviter_identities.identity_id = d.column1`, args...); err != nil {
			return err
		}
	}
	return nil
}
