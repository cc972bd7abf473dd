package store

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rollbackTimeout bounds the ROLLBACK of a failed transaction; a
// connection whose ROLLBACK does not finish in time is closed instead.
const rollbackTimeout = 5 * time.Second

// pgTx is a PostgreSQL transaction on one connection of the pool that
// costs no round trip of its own: BEGIN goes out in one batch with the
// transaction's first statement, and COMMIT in one batch with the
// statements queued by execAtCommit. A transaction that runs no statement
// sends nothing at all.
//
// It is a pgx.Tx, so River's driver runs its statements in it. Begin makes
// a savepoint, as pgx's own transactions do. LargeObjects is not
// supported. Conn returns the connection, on which statements run outside
// the transaction while its first statement has not been sent.
//
// When Commit or Rollback returns, the connection is back in the pool if
// it is idle and clean, and destroyed otherwise (its state unknown, a
// transaction still open).
type pgTx struct {
	conn       *pgxpool.Conn // nil once the transaction is over
	begun      bool          // BEGIN was sent (or may have been)
	atCommit   []commitExec  // statements to send with COMMIT
	savepoints int64         // savepoints made, for their names
	open       int           // savepoints open: queued statements run at once meanwhile
}

// commitExec is a statement sent with COMMIT; wrap turns its error into
// the commit's.
type commitExec struct {
	sql  string
	args []any
	wrap func(error) error
}

var _ pgx.Tx = (*pgTx)(nil)

// beginPgTx acquires a connection for a transaction.
func beginPgTx(ctx context.Context, pool *pgxpool.Pool) (*pgTx, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &pgTx{conn: conn}, nil
}

// execAtCommit queues sql to be sent in the round trip of COMMIT, after
// the statements already sent; wrap turns its error, if any, into the
// commit's. The statement's result is not read: a condition that must fail
// the transaction has to fail the statement on the server, which then
// skips COMMIT, so that nothing of the transaction is stored. While a
// savepoint is open, sql runs at once instead (wrap turning its error), so
// that rolling back to the savepoint undoes it.
func (t *pgTx) execAtCommit(ctx context.Context, sql string, args []any, wrap func(error) error) error {
	if t.conn == nil {
		return pgx.ErrTxClosed
	}
	if t.open > 0 {
		if _, err := t.Exec(ctx, sql, args...); err != nil {
			return wrap(err)
		}
		return nil
	}
	t.atCommit = append(t.atCommit, commitExec{sql: sql, args: args, wrap: wrap})
	return nil
}

// sendWithBegin sends BEGIN and queued in one batch and reads BEGIN's
// result; the caller reads queued's results from the returned batch and
// closes it.
func (t *pgTx) sendWithBegin(ctx context.Context, queued []*pgx.QueuedQuery) (pgx.BatchResults, error) {
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, 1+len(queued))}
	b.Queue("begin")
	b.QueuedQueries = append(b.QueuedQueries, queued...)
	t.begun = true
	br := t.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		t.checkBegun()
		return nil, err
	}
	return br, nil
}

// beginAlone sends BEGIN on its own, for a statement that cannot share its
// round trip.
func (t *pgTx) beginAlone(ctx context.Context) error {
	if t.begun {
		return nil
	}
	t.begun = true
	_, err := t.conn.Exec(ctx, "begin")
	if err != nil {
		t.checkBegun()
	}
	return err
}

// checkBegun, after a failure to send BEGIN, notes whether PostgreSQL is
// still outside a transaction (nothing was sent, e.g. the statement's
// arguments could not be encoded), so that the next statement sends BEGIN
// again instead of running on its own.
func (t *pgTx) checkBegun() {
	if pc := t.conn.Conn().PgConn(); !pc.IsClosed() && pc.TxStatus() == 'I' {
		t.begun = false
	}
}

// batchable reports whether args carry none of the per-query options
// (query exec mode, result formats) that a batch does not take.
func batchable(args []any) bool {
	if len(args) == 0 {
		return true
	}
	switch args[0].(type) {
	case pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
		return false
	}
	return true
}

// Exec runs sql in the transaction.
func (t *pgTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.conn == nil {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	if t.begun || !batchable(args) {
		if err := t.beginAlone(ctx); err != nil {
			return pgconn.CommandTag{}, err
		}
		return t.conn.Exec(ctx, sql, args...)
	}
	if len(args) == 0 {
		// pgx sends a statement without arguments as a simple query, which
		// may hold several statements: BEGIN goes in front of them.
		tag, err := t.conn.Exec(ctx, "begin;\n"+sql)
		t.begun = true
		if err != nil {
			t.checkBegun()
		}
		return tag, err
	}
	br, err := t.sendWithBegin(ctx, []*pgx.QueuedQuery{{SQL: sql, Arguments: args}})
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Query runs sql in the transaction. As with pgx, the rows must be closed
// (or read to their end) before the transaction's next statement.
func (t *pgTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.conn == nil {
		return errRows{pgx.ErrTxClosed}, pgx.ErrTxClosed
	}
	if t.begun || !batchable(args) {
		if err := t.beginAlone(ctx); err != nil {
			return errRows{err}, err
		}
		return t.conn.Query(ctx, sql, args...)
	}
	br, err := t.sendWithBegin(ctx, []*pgx.QueuedQuery{{SQL: sql, Arguments: args}})
	if err != nil {
		return errRows{err}, err
	}
	rows, err := br.Query()
	if err != nil {
		rows.Close()
		_ = br.Close()
		return errRows{err}, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// QueryRow runs sql in the transaction; its row is read by Scan.
func (t *pgTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.begun && t.conn != nil {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	rows, _ := t.Query(ctx, sql, args...)
	return rowOf{rows}
}

// SendBatch sends b in the transaction, with BEGIN when it is the first
// statement.
func (t *pgTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.conn == nil {
		return errBatch{pgx.ErrTxClosed}
	}
	if t.begun {
		return t.conn.SendBatch(ctx, b)
	}
	br, err := t.sendWithBegin(ctx, b.QueuedQueries)
	if err != nil {
		return errBatch{err}
	}
	return br
}

// CopyFrom copies rows into tableName in the transaction. COPY does not
// share a round trip, so a transaction starting with it sends BEGIN
// first, on its own.
func (t *pgTx) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	if t.conn == nil {
		return 0, pgx.ErrTxClosed
	}
	if err := t.beginAlone(ctx); err != nil {
		return 0, err
	}
	return t.conn.CopyFrom(ctx, tableName, columnNames, rowSrc)
}

// Prepare prepares a statement on the transaction's connection (prepared
// statements are not transactional).
func (t *pgTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if t.conn == nil {
		return nil, pgx.ErrTxClosed
	}
	return t.conn.Conn().Prepare(ctx, name, sql)
}

// LargeObjects is not supported: the methods of the value returned fail
// with pgx.ErrTxClosed.
func (t *pgTx) LargeObjects() pgx.LargeObjects { return noLargeObjects() }

// noLargeObjects returns large objects over a closed pgx transaction.
func noLargeObjects() pgx.LargeObjects {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	return pgx.FailedBatchResults(b, pgx.ErrTxClosed).Tx().LargeObjects()
}

// Conn returns the transaction's connection; nil once it is over.
func (t *pgTx) Conn() *pgx.Conn {
	if t.conn == nil {
		return nil
	}
	return t.conn.Conn()
}

// Begin makes a savepoint, which the returned transaction releases on
// Commit and rolls back to on Rollback.
func (t *pgTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if t.conn == nil {
		return nil, pgx.ErrTxClosed
	}
	t.savepoints++
	name := "sp_" + strconv.FormatInt(t.savepoints, 10)
	if _, err := t.Exec(ctx, "savepoint "+name); err != nil {
		return nil, err
	}
	t.open++
	return &pgSavepoint{tx: t, name: name}, nil
}

// Commit sends the statements queued by execAtCommit and COMMIT in one
// round trip (with BEGIN too when nothing was sent before) and releases
// the connection. It fails with the first statement's error, or with
// pgx.ErrTxCommitRollback when PostgreSQL answers COMMIT with ROLLBACK (the
// transaction had failed); then nothing of the transaction is stored.
func (t *pgTx) Commit(ctx context.Context) error {
	if t.conn == nil {
		return pgx.ErrTxClosed
	}
	if !t.begun && len(t.atCommit) == 0 {
		t.release()
		return nil
	}
	if pc := t.conn.Conn().PgConn(); t.begun && pc.TxStatus() == 'E' {
		// A statement failed and its error was not returned: PostgreSQL
		// would answer COMMIT with ROLLBACK, and the queued statements with
		// "current transaction is aborted".
		t.abort(ctx)
		return pgx.ErrTxCommitRollback
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(t.atCommit)+2)}
	withBegin := !t.begun
	if withBegin {
		b.Queue("begin")
	}
	for _, e := range t.atCommit {
		b.Queue(e.sql, e.args...)
	}
	b.Queue("commit")
	t.begun = true
	br := t.conn.SendBatch(ctx, b)
	err := t.readCommit(br, withBegin)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.abort(ctx)
		return err
	}
	t.release()
	return nil
}

// readCommit reads the results of Commit's batch.
func (t *pgTx) readCommit(br pgx.BatchResults, withBegin bool) error {
	if withBegin {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	for _, e := range t.atCommit {
		if _, err := br.Exec(); err != nil {
			return e.wrap(err)
		}
	}
	tag, err := br.Exec()
	if err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback rolls back what PostgreSQL holds open of the transaction
// (nothing, when no statement was sent or BEGIN failed) and releases the
// connection.
func (t *pgTx) Rollback(ctx context.Context) error {
	if t.conn == nil {
		return pgx.ErrTxClosed
	}
	var err error
	if pc := t.conn.Conn().PgConn(); !pc.IsClosed() && pc.TxStatus() != 'I' {
		_, err = t.conn.Exec(ctx, "rollback")
	}
	t.release()
	return err
}

// abort ends a failed transaction: it rolls back what PostgreSQL still
// holds open, on a context of its own (ctx may be why it failed), and
// releases the connection, which the pool destroys if the rollback did not
// leave it idle.
func (t *pgTx) abort(ctx context.Context) {
	pc := t.conn.Conn().PgConn()
	if !pc.IsClosed() && pc.TxStatus() != 'I' {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		_, _ = t.conn.Exec(rctx, "rollback")
		cancel()
	}
	t.release()
}

// release hands the connection back to the pool, which destroys it
// unless it is idle and clean.
func (t *pgTx) release() {
	t.conn.Release()
	t.conn = nil
	t.atCommit = nil
}

// pgSavepoint is a savepoint of a pgTx, as pgx.Tx.
type pgSavepoint struct {
	tx     *pgTx
	name   string
	closed bool
}

var _ pgx.Tx = (*pgSavepoint)(nil)

func (s *pgSavepoint) open() bool { return !s.closed && s.tx.conn != nil }

// Begin makes a savepoint inside this one.
func (s *pgSavepoint) Begin(ctx context.Context) (pgx.Tx, error) {
	if !s.open() {
		return nil, pgx.ErrTxClosed
	}
	return s.tx.Begin(ctx)
}

// Commit releases the savepoint.
func (s *pgSavepoint) Commit(ctx context.Context) error {
	if !s.open() {
		return pgx.ErrTxClosed
	}
	s.closed = true
	s.tx.open--
	_, err := s.tx.Exec(ctx, "release savepoint "+s.name)
	return err
}

// Rollback rolls back to the savepoint and releases it.
func (s *pgSavepoint) Rollback(ctx context.Context) error {
	if !s.open() {
		return pgx.ErrTxClosed
	}
	s.closed = true
	s.tx.open--
	_, err := s.tx.Exec(ctx, "rollback to savepoint "+s.name)
	return err
}

// Exec runs sql in the savepoint.
func (s *pgSavepoint) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if !s.open() {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	return s.tx.Exec(ctx, sql, args...)
}

// Query runs sql in the savepoint.
func (s *pgSavepoint) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if !s.open() {
		return errRows{pgx.ErrTxClosed}, pgx.ErrTxClosed
	}
	return s.tx.Query(ctx, sql, args...)
}

// QueryRow runs sql in the savepoint.
func (s *pgSavepoint) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if !s.open() {
		return rowOf{errRows{pgx.ErrTxClosed}}
	}
	return s.tx.QueryRow(ctx, sql, args...)
}

// SendBatch sends b in the savepoint.
func (s *pgSavepoint) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if !s.open() {
		return errBatch{pgx.ErrTxClosed}
	}
	return s.tx.SendBatch(ctx, b)
}

// CopyFrom copies rows into tableName in the savepoint.
func (s *pgSavepoint) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	if !s.open() {
		return 0, pgx.ErrTxClosed
	}
	return s.tx.CopyFrom(ctx, tableName, columnNames, rowSrc)
}

// Prepare prepares a statement on the connection.
func (s *pgSavepoint) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if !s.open() {
		return nil, pgx.ErrTxClosed
	}
	return s.tx.Prepare(ctx, name, sql)
}

// LargeObjects is not supported, as for pgTx.
func (s *pgSavepoint) LargeObjects() pgx.LargeObjects { return noLargeObjects() }

// Conn returns the connection.
func (s *pgSavepoint) Conn() *pgx.Conn { return s.tx.Conn() }

// batchRows are the rows of a statement sent in a batch with BEGIN: closing
// them (or reading them to their end) also reads the rest of the batch.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error // the batch's error once closed
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.closeBatch()
	return false
}

func (r *batchRows) Close() {
	r.Rows.Close()
	r.closeBatch()
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

func (r *batchRows) closeBatch() {
	if r.br == nil {
		return
	}
	r.err = r.br.Close()
	r.br = nil
}

// rowOf is the first row of rows, as pgx.Row.
type rowOf struct{ rows pgx.Rows }

// Scan reads the first row into dest and closes the rows; pgx.ErrNoRows
// when there is none.
func (r rowOf) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// errRows are the rows of a statement that failed before any row.
type errRows struct{ err error }

func (e errRows) Close()                                       {}
func (e errRows) Err() error                                   { return e.err }
func (e errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (e errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (e errRows) Next() bool                                   { return false }
func (e errRows) Scan(...any) error                            { return e.err }
func (e errRows) Values() ([]any, error)                       { return nil, e.err }
func (e errRows) RawValues() [][]byte                          { return nil }
func (e errRows) Conn() *pgx.Conn                              { return nil }
func (e errRows) TypeMap() *pgtype.Map                         { return nil }

// errBatch is the result of a batch that failed as a whole.
type errBatch struct{ err error }

func (e errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatch) Query() (pgx.Rows, error)         { return errRows(e), e.err }
func (e errBatch) QueryRow() pgx.Row                { return rowOf{errRows(e)} }
func (e errBatch) Close() error                     { return e.err }
func (e errBatch) Tx() pgx.Tx                       { return nil }
