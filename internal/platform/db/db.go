// Package db opens the application's database — SQLite (embedded default) or
// PostgreSQL — and hides the few differences between the two engines.
//
// All SQL in jifen is written in the portable subset with PostgreSQL's
// placeholders $1, $2, ..., in any order and reused as needed; Exec, Query
// and QueryRow rewrite them to SQLite's numbered "?N" (sqltext.go). Optional
// search conditions go through Where, which numbers them. Times are stored as UTC Unix microseconds in BIGINT
// columns so that both engines compare, index and scan them identically.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names a database engine.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned (wrapped) by stores when a row does not exist.
var ErrNotFound = errors.New("not found")

// DB is the application's handle on its database. On SQLite it holds one
// writer connection (SQLite allows a single writer) and a pool of readers;
// on PostgreSQL both point at the same pool.
type DB struct {
	Dialect Dialect
	w       *sql.DB
	r       *sql.DB
	desc    string
	// dsn is what Open was given: backup.go hands it to pg_dump and
	// pg_restore, or uses it as the SQLite file's path.
	dsn string

	batchOnce sync.Once
	batch     chan *batchReq
	batchDone chan struct{}
}

// Querier is what both *sql.DB and *sql.Tx offer.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Open connects to dsn. An empty dsn or a path or "sqlite:" / "file:" DSN
// selects SQLite; a "postgres://" or "postgresql://" DSN selects PostgreSQL.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(32)
	p.SetConnMaxIdleTime(5 * time.Minute)
	if err := p.PingContext(ctx); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	return &DB{Dialect: Postgres, w: p, r: p, desc: redactDSN(dsn), dsn: dsn}, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	path = strings.TrimPrefix(path, "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create directory: %w", err)
		}
	}
	if err := createSQLite(ctx, path); err != nil {
		return nil, err
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_time_format=sqlite"
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// One writer: SQLite serialises writers anyway; queueing them in the pool
	// instead of in busy_timeout keeps latency fair and avoids SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite readers: %w", err)
	}
	n := 2 * runtime.GOMAXPROCS(0)
	if n < 4 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{Dialect: SQLite, w: w, r: r, desc: "sqlite:" + path, dsn: path}, nil
}

// pageSize of a new SQLite database: 16 KiB pages mean a quarter of the
// write calls of the default 4 KiB for the same rows (applications carry a
// few hundred bytes of JSON each), and B-trees one level shallower.
const pageSize = 16384

// createSQLite creates a new database file with the page size set: the page
// size can only be chosen before the file switches to WAL, which the driver
// does before any other pragma.
func createSQLite(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	c, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath())
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return fmt.Errorf("sqlite: page size: %w", err)
	}
	if _, err := c.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return nil
}

// Close stops the batcher and closes every connection.
func (db *DB) Close() error {
	if db.batch != nil {
		close(db.batch)
		<-db.batchDone
	}
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// String describes the database without secrets.
func (db *DB) String() string { return db.desc }

// Writer returns the pool that takes writes (for metrics collectors).
func (db *DB) Writer() *sql.DB { return db.w }

// Reader returns the pool that serves reads outside transactions.
func (db *DB) Reader() *sql.DB { return db.r }

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

type txKey struct{}

// WithTx runs fn in a transaction. If ctx already carries a transaction, fn
// joins it and the outer caller commits or rolls back. fn must use the ctx it
// is given for every query. A panic in fn rolls back and re-panics.
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if _, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return fn(ctx)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(context.WithValue(ctx, txKey{}, tx)); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InTx reports whether ctx carries a transaction.
func InTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*sql.Tx)
	return ok
}

// W returns the querier for writes: the transaction in ctx, or the writer.
// Its methods take SQL as the driver does (no placeholder rewrite): use
// Exec, Query and QueryRow for the application's SQL.
func (db *DB) W(ctx context.Context) Querier {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx
	}
	return db.w
}

// R returns the querier for reads: the transaction in ctx (so a transaction
// sees its own writes), or the reader pool.
func (db *DB) R(ctx context.Context) Querier {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx
	}
	return db.r
}

// Exec runs a statement on the transaction in ctx or the writer.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	counted(ctx, q)
	return db.W(ctx).ExecContext(ctx, db.text(q), args...)
}

// Query runs a query on the transaction in ctx or the reader pool (the
// writer for a statement that writes, such as INSERT ... RETURNING).
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	counted(ctx, q)
	return db.route(ctx, q).QueryContext(ctx, db.text(q), args...)
}

// QueryRow runs a one-row query on the transaction in ctx or the reader
// pool (the writer for a statement that writes).
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	counted(ctx, q)
	return db.route(ctx, q).QueryRowContext(ctx, db.text(q), args...)
}

func (db *DB) route(ctx context.Context, q string) Querier {
	if isWrite(q) {
		return db.W(ctx)
	}
	return db.R(ctx)
}

// isWrite reports whether a statement writes: its first word is INSERT,
// UPDATE, DELETE or WITH (a CTE may write; the writer is always safe).
func isWrite(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n(")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:4]) {
	case "INSE", "UPDA", "DELE", "WITH":
		return true
	}
	return false
}

// BindParams is how many parameters one statement should carry: SQLite's
// driver looks each parameter's name up in a list as it binds it, which
// costs the square of the parameters of a statement (at 30,000 a statement
// binding was four fifths of a bulk load), so a thousand there; 30,000 on
// PostgreSQL, under its limit of 65,535.
func (db *DB) BindParams() int {
	if db.Dialect == SQLite {
		return 1000
	}
	return 30000
}

// ForShare is the row lock that lets readers in but waits for (and holds
// off) a FOR UPDATE of the same row: " FOR SHARE" on PostgreSQL, "" on
// SQLite, whose single writer serialises anyway.
func (db *DB) ForShare() string {
	if db.Dialect == Postgres {
		return " FOR SHARE"
	}
	return ""
}

// ForUpdate returns " FOR UPDATE" on PostgreSQL and "" on SQLite, where the
// single writer already serialises transactions.
func (db *DB) ForUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// IsUniqueViolation reports whether err is a unique or primary-key violation.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// Micros converts a time to the stored representation.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros converts a stored time back; zero stays the zero time.
func FromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparseable)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

// Redact hides the password in a DSN for display.
func Redact(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return redactDSN(dsn)
	}
	return dsn
}

// IsNoRows reports whether err says a query found no row.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
