package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CopyOptions configure Copy.
type CopyOptions struct {
	// Jobs, when set, runs inside the destination's transaction after the
	// metadata and identities are written and before the deliveries: it
	// re-creates the source's unfinished jobs in the destination (with tx)
	// and returns, for each source job id it re-created, the destination's
	// job id. deliveryID maps a source delivery id to the id Copy gives the
	// delivery in the destination, for job arguments that name one. An
	// error rolls the whole copy back.
	Jobs func(ctx context.Context, tx *Tx, deliveryID func(int64) int64) (map[int64]int64, error)
}

// CopyResult counts what Copy wrote.
type CopyResult struct {
	// Meta is the number of inviter_meta keys copied.
	Meta int64
	// Identities is the number of inviter_identities rows written;
	// IdentitiesKept those the destination already had in a later state
	// and kept (only when it was not empty).
	Identities, IdentitiesKept int64
	// Deliveries and Audit are the rows appended to inviter_deliveries and
	// inviter_audit.
	Deliveries, Audit int64
	// Jobs is the number of jobs CopyOptions.Jobs re-created.
	Jobs int
	// DeliveryIDOffset is what was added to every copied delivery id: 0
	// when the destination had no delivery, so ids are kept.
	DeliveryIDOffset int64
}

// copyBatchParams is the most bind parameters one multi-row INSERT of Copy
// uses; both SQLite (32766) and PostgreSQL (65535) allow more.
const copyBatchParams = 6000

// Copy copies inviter's own tables from src into dst, both migrated to
// this version of inviter, in one transaction of dst: when it returns an
// error dst is unchanged. It reads src without a transaction, so nothing
// may write to src meanwhile (stop the daemon). River's tables are not
// copied; CopyOptions.Jobs re-creates the jobs that matter.
//
// Into an empty dst (see HasData) rows keep their ids. Into one that
// already holds data Copy merges: deliveries and audit rows are appended
// with their ids shifted past dst's; an identity both have keeps the row
// with more accepted invitations (the later update on a tie);
// inviter_meta takes src's values except MetaInitialisedAt, which keeps
// the earlier of the two, so the reconciliation cut-off never moves later.
//
// Columns are copied by name as src's tables have them, so a later schema
// version copies without change here; dst must have every column src has.
func Copy(ctx context.Context, dst, src *DB, opts CopyOptions) (CopyResult, error) {
	for _, d := range []struct {
		name string
		db   *DB
	}{{"source", src}, {"destination", dst}} {
		ok, err := d.db.MigrationsApplied(ctx)
		if err != nil {
			return CopyResult{}, fmt.Errorf("copy: %s: %w", d.name, err)
		}
		if !ok {
			return CopyResult{}, fmt.Errorf("copy: the %s database is not migrated to this inviter's schema (run inviter migrate on it)", d.name)
		}
	}
	var res CopyResult
	err := dst.InTx(ctx, func(tx *Tx) error {
		res = CopyResult{}
		c := &copier{src: src, dst: tx, dstBackend: dst.Backend()}
		var err error
		if res.DeliveryIDOffset, err = c.maxID(ctx, "inviter_deliveries"); err != nil {
			return err
		}
		auditOffset, err := c.maxID(ctx, "inviter_audit")
		if err != nil {
			return err
		}

		// The cut-off keeps the earlier time: RFC 3339 UTC strings sort
		// as the times do.
		if res.Meta, _, err = c.table(ctx, "inviter_meta", "key", `ON CONFLICT (key) DO UPDATE SET value = excluded.value
			WHERE inviter_meta.key <> '`+MetaInitialisedAt+`' OR excluded.value < inviter_meta.value`, nil); err != nil {
			return err
		}
		var identitiesRead int64
		if identitiesRead, res.Identities, err = c.table(ctx, "inviter_identities", "identity_id", "", func(cols []string) string {
			set := make([]string, 0, len(cols))
			for _, col := range cols {
				if col != "identity_id" {
					set = append(set, col+" = excluded."+col)
				}
			}
			return `ON CONFLICT (identity_id) DO UPDATE SET ` + strings.Join(set, ", ") + `
				WHERE excluded.invite_count > inviter_identities.invite_count
				   OR (excluded.invite_count = inviter_identities.invite_count AND excluded.updated_at > inviter_identities.updated_at)`
		}); err != nil {
			return err
		}
		res.IdentitiesKept = identitiesRead - res.Identities

		jobs := map[int64]int64{}
		if opts.Jobs != nil {
			off := res.DeliveryIDOffset
			if jobs, err = opts.Jobs(ctx, tx, func(id int64) int64 { return id + off }); err != nil {
				return fmt.Errorf("copy jobs: %w", err)
			}
			res.Jobs = len(jobs)
		}

		// A delivery points at the job re-created for it; a finished job was
		// not copied, so its id would name another job here: none then.
		c.transform = func(cols []string, vals []any) error {
			for i, col := range cols {
				switch col {
				case "id":
					id, err := asInt64(vals[i])
					if err != nil {
						return fmt.Errorf("inviter_deliveries.id: %w", err)
					}
					vals[i] = id + res.DeliveryIDOffset
				case "job_id":
					if vals[i] == nil {
						continue
					}
					old, err := asInt64(vals[i])
					if err != nil {
						return fmt.Errorf("inviter_deliveries.job_id: %w", err)
					}
					if id, ok := jobs[old]; ok {
						vals[i] = id
					} else {
						vals[i] = nil
					}
				}
			}
			return nil
		}
		if _, res.Deliveries, err = c.table(ctx, "inviter_deliveries", "id", "", nil); err != nil {
			return err
		}
		c.transform = func(cols []string, vals []any) error {
			i := slices.Index(cols, "id")
			id, err := asInt64(vals[i])
			if err != nil {
				return fmt.Errorf("inviter_audit.id: %w", err)
			}
			vals[i] = id + auditOffset
			return nil
		}
		if _, res.Audit, err = c.table(ctx, "inviter_audit", "id", "", nil); err != nil {
			return err
		}
		return c.resetIdentities(ctx, "inviter_deliveries", "inviter_audit")
	})
	if err != nil {
		return CopyResult{}, err
	}
	return res, nil
}

// HasData reports whether db holds inviter data: a delivery, an identity,
// an audit row or a River job. A database that was only migrated holds
// none (inviter_meta alone does not count). db must be migrated.
func (db *DB) HasData(ctx context.Context) (bool, error) {
	for _, t := range []string{"inviter_deliveries", "inviter_identities", "inviter_audit", "river_job"} {
		var one int
		err := db.q.queryRow(ctx, `SELECT 1 FROM `+t+` LIMIT 1`).Scan(&one)
		if isNoRows(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("has data: %s: %w", t, err)
		}
		return true, nil
	}
	return false, nil
}

// copier copies tables from a database into a transaction.
type copier struct {
	src        *DB
	dst        *Tx
	dstBackend string
	// transform, if set, rewrites each source row before it is written.
	transform func(cols []string, vals []any) error
}

// columns returns the columns of table in q's database, in table order.
func columns(ctx context.Context, q querier, backend, table string) ([]string, error) {
	query := `SELECT name FROM pragma_table_info($1) ORDER BY cid`
	if backend == BackendPostgres {
		query = `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	}
	rs, err := q.query(ctx, query, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var c string
		if err := rs.Scan(&c); err != nil {
			return nil, fmt.Errorf("columns of %s: %w", table, err)
		}
		out = append(out, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("columns of %s: no such table", table)
	}
	return out, nil
}

func (c *copier) maxID(ctx context.Context, table string) (int64, error) {
	var n int64
	if err := c.dst.q.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM `+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("copy %s: %w", table, err)
	}
	return n, nil
}

// table copies every row of table, in key order, and returns the number of
// rows read and written (fewer when a conflict clause kept a row). onConflict (or conflictFor, given the columns) is the
// INSERT's conflict clause; empty means a conflict is an error.
func (c *copier) table(ctx context.Context, table, key, onConflict string, conflictFor func(cols []string) string) (read, written int64, err error) {
	cols, err := columns(ctx, c.src.q, c.src.Backend(), table)
	if err != nil {
		return 0, 0, fmt.Errorf("copy %s: source: %w", table, err)
	}
	dstCols, err := columns(ctx, c.dst.q, c.dstBackend, table)
	if err != nil {
		return 0, 0, fmt.Errorf("copy %s: destination: %w", table, err)
	}
	for _, col := range cols {
		if !slices.Contains(dstCols, col) {
			return 0, 0, fmt.Errorf("copy %s: the destination has no column %s (is its inviter older than the source's?)", table, col)
		}
	}
	if conflictFor != nil {
		onConflict = conflictFor(cols)
	}
	head := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `)`
	if c.dstBackend == BackendPostgres && key == "id" {
		head += ` OVERRIDING SYSTEM VALUE` // ids are GENERATED ALWAYS AS IDENTITY
	}
	w := &batchWriter{q: c.dst.q, head: head, tail: onConflict, ncols: len(cols)}

	rs, err := c.src.q.query(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` ORDER BY `+key)
	if err != nil {
		return 0, 0, fmt.Errorf("copy %s: read: %w", table, err)
	}
	defer rs.Close()
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return 0, 0, fmt.Errorf("copy %s: read: %w", table, err)
		}
		if c.transform != nil {
			if err := c.transform(cols, vals); err != nil {
				return 0, 0, fmt.Errorf("copy %s: %w", table, err)
			}
		}
		read++
		if err := w.add(ctx, vals); err != nil {
			return 0, 0, fmt.Errorf("copy %s: write: %w", table, err)
		}
	}
	if err := rs.Err(); err != nil {
		return 0, 0, fmt.Errorf("copy %s: read: %w", table, err)
	}
	if err := w.flush(ctx); err != nil {
		return 0, 0, fmt.Errorf("copy %s: write: %w", table, err)
	}
	return read, w.written, nil
}

// resetIdentities moves the PostgreSQL identity sequences of tables past
// the ids written explicitly. SQLite's AUTOINCREMENT follows by itself.
func (c *copier) resetIdentities(ctx context.Context, tables ...string) error {
	if c.dstBackend != BackendPostgres {
		return nil
	}
	for _, t := range tables {
		if _, err := c.dst.q.exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'),
			(SELECT COALESCE(MAX(id), 0) + 1 FROM `+t+`), false)`, t); err != nil {
			return fmt.Errorf("copy %s: reset its id sequence: %w", t, err)
		}
	}
	return nil
}

// batchWriter writes rows with multi-row INSERTs.
type batchWriter struct {
	q       querier
	head    string // INSERT INTO t (cols) …
	tail    string // ON CONFLICT …, or empty
	ncols   int
	rows    [][]any
	written int64
}

func (w *batchWriter) add(ctx context.Context, vals []any) error {
	w.rows = append(w.rows, vals)
	if (len(w.rows)+1)*w.ncols > copyBatchParams {
		return w.flush(ctx)
	}
	return nil
}

func (w *batchWriter) flush(ctx context.Context) error {
	if len(w.rows) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(w.head)
	b.WriteString(" VALUES ")
	args := make([]any, 0, len(w.rows)*w.ncols)
	for r, row := range w.rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i, v := range row {
			if i > 0 {
				b.WriteString(", ")
			}
			args = append(args, v)
			fmt.Fprintf(&b, "$%d", len(args))
		}
		b.WriteByte(')')
	}
	if w.tail != "" {
		b.WriteByte(' ')
		b.WriteString(w.tail)
	}
	n, err := w.q.exec(ctx, b.String(), args...)
	if err != nil {
		return err
	}
	w.written += n
	w.rows = w.rows[:0]
	return nil
}

// asInt64 returns an integer column's value as the drivers scan it.
func asInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case int32:
		return int64(n), nil
	case int:
		return int64(n), nil
	case nil:
		return 0, errors.New("NULL where an integer was expected")
	}
	return 0, fmt.Errorf("unexpected %T where an integer was expected", v)
}
