package db

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// This file holds what backups need of each engine (internal/backup):
// a consistent copy of the database in a file (SQLite's VACUUM INTO,
// PostgreSQL's pg_dump in custom format), a scratch database restored from
// such a file for the restore drill, and the restore proper.

// ErrNoPgTools says that pg_dump or pg_restore is not on PATH.
var ErrNoPgTools = errors.New("未找到 PostgreSQL 客户端工具 pg_dump/pg_restore，请安装与数据库服务器同一主版本的 postgresql-client " +
	"(pg_dump/pg_restore not found on PATH: install the PostgreSQL client tools of the server's major version)")

// ErrDiskFull is returned (wrapped) when a backup or restore ran out of
// space.
var ErrDiskFull = errors.New("磁盘空间不足 (no space left on device)")

// Engine names the database engine: "sqlite" or "postgres".
func (db *DB) Engine() string { return string(db.Dialect) }

// EngineOf names the engine a DSN selects, as Open would.
func EngineOf(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return string(Postgres)
	}
	return string(SQLite)
}

// DumpName is the file name of a dump of engine in a backup.
func DumpName(engine string) string {
	if engine == string(Postgres) {
		return "database.pgdump"
	}
	return "database.sqlite"
}

// Snapshot writes a consistent copy of the database to file and, while
// that state is held, runs fn on a handle that sees exactly it: the row
// counts and the audit head a manifest records are then those of the copy,
// however busy the database. fn must only read.
func (db *DB) Snapshot(ctx context.Context, file string, fn func(ctx context.Context, snap *DB) error) error {
	if db.Dialect == Postgres {
		return db.snapshotPostgres(ctx, file, fn)
	}
	// VACUUM INTO writes a transaction-consistent, compacted copy through
	// SQLite's own pager; on the writer connection because the readers are
	// query_only.
	if _, err := db.w.ExecContext(ctx, `VACUUM INTO ?`, file); err != nil {
		return diskFull(fmt.Errorf("sqlite VACUUM INTO: %w", err))
	}
	snap, err := openSQLiteReadOnly(file)
	if err != nil {
		return err
	}
	defer func() { _ = snap.Close() }()
	return fn(ctx, snap)
}

func (db *DB) snapshotPostgres(ctx context.Context, file string, fn func(ctx context.Context, snap *DB) error) error {
	exe, err := exec.LookPath("pg_dump")
	if err != nil {
		return ErrNoPgTools
	}
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// pg_dump --snapshot dumps the very state this transaction sees.
	var snapID string
	if err := tx.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&snapID); err != nil {
		return fmt.Errorf("export snapshot: %w", err)
	}
	if err := fn(context.WithValue(ctx, txKey{}, tx), db); err != nil {
		return err
	}
	c, err := pgConn(db.dsn)
	if err != nil {
		return err
	}
	args := []string{"--format=custom", "--snapshot=" + snapID, "--file=" + file}
	if c.schema != "" {
		args = append(args, "--schema="+c.schema)
	}
	return runPg(ctx, exe, c, append(args, "--dbname="+c.url)...)
}

// Tables lists the database's tables (of the DSN's schema on PostgreSQL).
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.Dialect == Postgres {
		q = `SELECT table_name FROM information_schema.tables
		      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CountRows counts the rows of a table named by Tables.
func (db *DB) CountRows(ctx context.Context, table string) (int64, error) {
	if !identRE.MatchString(table) {
		return 0, fmt.Errorf("table name %q", table)
	}
	var n int64
	err := db.QueryRow(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&n)
	return n, err
}

// RestoreScratch restores a dump of this database's engine into a new
// scratch database — a file under dir on SQLite, a new database beside
// this one on PostgreSQL — and returns it opened; drop closes and removes
// it.
func (db *DB) RestoreScratch(ctx context.Context, file, dir string) (scratch *DB, drop func(), err error) {
	if db.Dialect != Postgres {
		path := filepath.Join(dir, "drill.db")
		if err := CopyFile(file, path); err != nil {
			return nil, nil, err
		}
		s, err := Open(ctx, path)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { _ = s.Close(); _ = os.Remove(path) }, nil
	}
	exe, err := exec.LookPath("pg_restore")
	if err != nil {
		return nil, nil, ErrNoPgTools
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "jifen_drill_" + hex.EncodeToString(b)
	if _, err := db.w.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return nil, nil, fmt.Errorf("create the drill's scratch database (the role needs CREATEDB): %w", err)
	}
	dropDB := func() {
		_, _ = db.w.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	}
	u, err := url.Parse(db.dsn)
	if err != nil {
		dropDB()
		return nil, nil, err
	}
	u.Path = "/" + name
	c, err := pgConn(u.String())
	if err != nil {
		dropDB()
		return nil, nil, err
	}
	if err := runPg(ctx, exe, c, "--no-owner", "--no-privileges", "--exit-on-error", "--dbname="+c.url, file); err != nil {
		dropDB()
		return nil, nil, err
	}
	s, err := Open(ctx, u.String())
	if err != nil {
		dropDB()
		return nil, nil, err
	}
	return s, func() { _ = s.Close(); dropDB() }, nil
}

// RestoreFile replaces the database dsn names with a dump of its engine.
// On SQLite every handle on the file must be closed; the file is replaced
// by a rename, so a failure leaves the old one. On PostgreSQL pg_restore
// runs in one transaction: it restores everything or nothing.
func RestoreFile(ctx context.Context, dsn, file string) error {
	if EngineOf(dsn) == string(Postgres) {
		exe, err := exec.LookPath("pg_restore")
		if err != nil {
			return ErrNoPgTools
		}
		c, err := pgConn(dsn)
		if err != nil {
			return err
		}
		return runPg(ctx, exe, c, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
			"--dbname="+c.url, file)
	}
	path := sqlitePath(dsn)
	tmp := path + ".restore"
	if err := CopyFile(file, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	// The old file's journal must not be replayed onto the restored one.
	for _, ext := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + ext); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, path)
}

func sqlitePath(dsn string) string {
	p := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

func openSQLiteReadOnly(path string) (*DB, error) {
	c, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	return &DB{Dialect: SQLite, w: c, r: c, desc: "sqlite:" + path, dsn: path}, nil
}

// CopyFile copies src to dst and syncs it, reporting a full disk as
// ErrDiskFull.
func CopyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return diskFull(err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return diskFull(err)
}

// diskFull wraps err with ErrDiskFull when it says the disk is full.
func diskFull(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.Is(err, syscall.ENOSPC) || (errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL) ||
		strings.Contains(err.Error(), "No space left on device") {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// pgConnInfo is a DSN as the client tools take it: libpq refuses the
// search_path parameter pgx accepts (it becomes --schema), and the password
// goes in the environment rather than on a command line others can read.
type pgConnInfo struct {
	url, password, schema string
}

func pgConn(dsn string) (pgConnInfo, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return pgConnInfo{}, fmt.Errorf("postgres DSN: %w", err)
	}
	var c pgConnInfo
	if u.User != nil {
		c.password, _ = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	c.schema = q.Get("search_path")
	q.Del("search_path")
	u.RawQuery = q.Encode()
	c.url = u.String()
	return c, nil
}

func runPg(ctx context.Context, exe string, c pgConnInfo, args ...string) error {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = os.Environ()
	if c.password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+c.password)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return diskFull(fmt.Errorf("%s: %w: %s", filepath.Base(exe), err, strings.TrimSpace(stderr.String())))
	}
	return nil
}

// LatestSchema is the newest schema version this binary knows for engine.
func LatestSchema(engine string) (int, error) {
	ms, err := Migrations(Dialect(engine))
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	return ms[len(ms)-1].Version, nil
}
