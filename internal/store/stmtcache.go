package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"sync"
)

// stmtCacheSize is how many prepared statements each connection keeps.
const stmtCacheSize = 200

// cachingConnector hands out connections that keep their statements
// prepared: a statement text run again on the same connection is neither
// parsed (SQLite) nor parsed and planned afresh (PostgreSQL, which plans a
// prepared statement generically once it has seen it a few times). ent
// builds the same texts over and over, with the values as arguments.
type cachingConnector struct {
	driver.Connector
	// postgres is set for lib/pq connections, whose transactions begin
	// in beginPostgres (which can send a statement with BEGIN, see
	// WithBeginStatement).
	postgres bool
}

// Connect opens a connection with a statement cache.
func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	prep, ok1 := conn.(driver.ConnPrepareContext)
	_, ok2 := conn.(driver.QueryerContext)
	_, ok3 := conn.(driver.ExecerContext)
	if !ok1 || !ok2 || !ok3 {
		return conn, nil
	}
	return &cachingConn{Conn: conn, prep: prep, byText: map[string]*list.Element{}, lru: list.New(), postgres: c.postgres}, nil
}

// cachingConn is a connection with an LRU cache of prepared statements.
// database/sql uses a connection from one goroutine at a time, so the cache
// needs no lock of its own; a statement whose rows are still being read is
// not reused (the text runs unprepared meanwhile).
type cachingConn struct {
	driver.Conn
	prep   driver.ConnPrepareContext
	byText map[string]*list.Element
	lru    *list.List // of *cachedStmt, most recent first
	inTx   bool       // a transaction is open on the connection
	stale  bool       // a cached statement was found stale: not reused
	// postgres: the connection is lib/pq's (see beginPostgres).
	postgres bool
	// broken: a BEGIN (with its statement) failed and so did the rollback
	// after it; the connection is not reused.
	broken bool
}

type cachedStmt struct {
	text string
	stmt driver.Stmt
	busy bool // rows of it are open
}

// cacheable reports whether query is worth keeping prepared: statements
// that read or write rows, not DDL, transaction control or settings.
func cacheable(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return strings.EqualFold(q[:5], "WITH ")
}

// stmt returns the prepared statement for query, preparing it on first
// use; nil when query should run unprepared.
func (c *cachingConn) stmt(ctx context.Context, query string) *cachedStmt {
	if !cacheable(query) {
		return nil
	}
	if e, ok := c.byText[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil
		}
		c.lru.MoveToFront(e)
		return cs
	}
	st, err := c.prep.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared run reports the error
	}
	cs := &cachedStmt{text: query, stmt: st}
	c.byText[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		ocs := old.Value.(*cachedStmt)
		if ocs.busy {
			break
		}
		c.drop(old)
	}
	return cs
}

func (c *cachingConn) drop(e *list.Element) {
	cs := e.Value.(*cachedStmt)
	c.lru.Remove(e)
	delete(c.byText, cs.text)
	_ = cs.stmt.Close()
}

// forgetAfter looks at the error a cached statement ran into. When it says
// the statement is stale (PostgreSQL: a table it reads changed shape, as
// after a migration another replica ran), every statement of the
// connection is suspect: the connection is given up, and outside a
// transaction the error becomes driver.ErrBadConn, which database/sql
// answers by running the statement again on another connection (the
// statement had no effect). Inside a transaction the error stands: the
// transaction is aborted, and the connection is not reused.
func (c *cachingConn) forgetAfter(err error) error {
	if !strings.Contains(err.Error(), "cached plan must not change result type") {
		return err
	}
	c.stale = true
	if c.inTx {
		return err
	}
	return driver.ErrBadConn
}

// QueryContext runs query through its prepared statement.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if cs := c.stmt(ctx, query); cs != nil {
		if sq, ok := cs.stmt.(driver.StmtQueryContext); ok {
			rows, err := sq.QueryContext(ctx, args)
			if err != nil {
				return nil, c.forgetAfter(err)
			}
			cs.busy = true
			return &cachedRows{Rows: rows, cs: cs}, nil
		}
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

// ExecContext runs query through its prepared statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if cs := c.stmt(ctx, query); cs != nil {
		if se, ok := cs.stmt.(driver.StmtExecContext); ok {
			res, err := se.ExecContext(ctx, args)
			if err != nil {
				return nil, c.forgetAfter(err)
			}
			return res, nil
		}
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

// PrepareContext prepares a statement the caller owns (outside the cache).
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.prep.PrepareContext(ctx, query)
}

// BeginTx starts a transaction on the connection.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.postgres {
		if tx, ok := c.Conn.(driver.Tx); ok {
			return c.beginPostgres(ctx, opts, tx)
		}
	}
	var (
		tx  driver.Tx
		err error
	)
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		tx, err = b.BeginTx(ctx, opts)
	} else {
		tx, err = c.Conn.Begin() //nolint:staticcheck // only for a driver without BeginTx
	}
	if err != nil {
		return nil, err
	}
	c.inTx = true
	return cachingTx{Tx: tx, c: c}, nil
}

// cachingTx notes on its connection when it ends.
type cachingTx struct {
	driver.Tx
	c *cachingConn
}

// Commit commits the transaction.
func (t cachingTx) Commit() error {
	t.c.inTx = false
	return t.Tx.Commit()
}

// Rollback rolls the transaction back.
func (t cachingTx) Rollback() error {
	t.c.inTx = false
	return t.Tx.Rollback()
}

// Ping checks the connection.
func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession is called before the connection is reused.
func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid reports whether the connection may be reused.
func (c *cachingConn) IsValid() bool {
	if c.stale || c.broken {
		return false
	}
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue lets the driver convert arguments as it would unwrapped.
func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// Close closes the cached statements and the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).stmt.Close())
	}
	c.lru.Init()
	clear(c.byText)
	errs = append(errs, c.Conn.Close())
	return errors.Join(errs...)
}

// cachedRows frees its statement for reuse when closed.
type cachedRows struct {
	driver.Rows
	cs   *cachedStmt
	once sync.Once
}

// Close closes the rows and frees the statement.
func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(func() { r.cs.busy = false })
	return err
}

// ColumnTypeScanType passes the driver's scan types through.
func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

// ColumnTypeNullable passes the driver's nullability through.
func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

// ColumnTypeDatabaseTypeName passes the driver's column types through.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}
