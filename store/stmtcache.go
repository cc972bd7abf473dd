package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
)

// maxCachedStmts bounds the statements one SQLite connection keeps
// compiled; statements past it are compiled for each use, as without the
// cache.
const maxCachedStmts = 256

// sqliteConnector opens SQLite connections that keep each statement they
// run compiled, keyed by its SQL text. The SQLite driver compiles the SQL
// of every Exec and Query afresh, and on the hot paths (the intake's group
// commit, River's inserts, fetches and its per-job completions) compiling
// cost more CPU than running the statement.
type sqliteConnector struct {
	dsn string
	drv driver.Driver
}

// newSQLiteConnector returns a connector of the driver registered as
// "sqlite" for dsn.
func newSQLiteConnector(dsn string) (*sqliteConnector, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	drv := db.Driver()
	if err := db.Close(); err != nil {
		return nil, err
	}
	return &sqliteConnector{dsn: dsn, drv: drv}, nil
}

// Connect opens one connection.
func (c *sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, errors.New("sqlite driver connection lacks context methods")
	}
	return &cachingConn{sqliteConn: inner, stmts: map[string]*cachedStmt{}}, nil
}

// Driver returns the SQLite driver.
func (c *sqliteConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what the SQLite driver's connection implements and
// database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtContext is a compiled statement run with a context.
type stmtContext interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// cachedStmt is one compiled statement; busy while rows read from it are
// open (a second use at that time compiles a statement of its own).
type cachedStmt struct {
	stmt stmtContext
	busy bool
}

// cachingConn is a SQLite connection with a cache of compiled statements.
// database/sql uses a connection from one goroutine at a time, so the cache
// needs no lock.
type cachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

// take returns the cached statement for query, compiling and caching it
// when there is room, or nil when the caller should run query uncached.
func (c *cachingConn) take(ctx context.Context, query string) (*cachedStmt, error) {
	if cs, ok := c.stmts[query]; ok {
		if cs.busy {
			return nil, nil
		}
		cs.busy = true
		return cs, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		return nil, nil
	}
	s, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	sc, ok := s.(stmtContext)
	if !ok {
		s.Close()
		return nil, nil
	}
	cs := &cachedStmt{stmt: sc, busy: true}
	c.stmts[query] = cs
	return cs, nil
}

// drop forgets a statement whose use failed: the next use compiles it
// again, so that no error state outlives the call.
func (c *cachingConn) drop(query string, cs *cachedStmt) {
	if c.stmts[query] == cs {
		delete(c.stmts, query)
	}
	cs.stmt.Close()
}

// ExecContext runs query with a cached compiled statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	res, err := cs.stmt.ExecContext(ctx, args)
	cs.busy = false
	if err != nil {
		c.drop(query, cs)
	}
	return res, err
}

// QueryContext runs query with a cached compiled statement; the statement
// is free again once the rows are closed.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.take(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		cs.busy = false
		c.drop(query, cs)
		return nil, err
	}
	sr, ok := rows.(sqliteRows)
	if !ok {
		rows.Close()
		cs.busy = false
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	return &cachedRows{sqliteRows: sr, cs: cs}, nil
}

// Close closes the cached statements and the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for q, cs := range c.stmts {
		errs = append(errs, cs.stmt.Close())
		delete(c.stmts, q)
	}
	errs = append(errs, c.sqliteConn.Close())
	return errors.Join(errs...)
}

// sqliteRows is what the SQLite driver's rows implement.
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// cachedRows are rows of a cached statement; Close frees the statement.
type cachedRows struct {
	sqliteRows
	cs *cachedStmt
}

// Close closes the rows and frees their statement.
func (r *cachedRows) Close() error {
	err := r.sqliteRows.Close()
	r.cs.busy = false
	return err
}
