package db

import (
	"context"
	"strconv"
	"strings"
	"sync"
)

// Placeholders. Every query is written for PostgreSQL: $1..$N, in any order,
// each number as often as needed. PostgreSQL binds them by number. SQLite
// numbers "$N" parameters by their order of first appearance (they are named
// parameters to it), so the same text could bind the wrong values; "?NNN" is
// SQLite's own numbered parameter. rewrite turns one into the other once per
// query text, outside string literals, quoted identifiers and comments.

// maxCached bounds the rewrite cache: queries are constants of the code, so a
// few hundred texts cover the program; anything beyond (bulk inserts of
// varying size) is rewritten every time instead of growing the cache.
const (
	maxCached      = 2048
	maxCachedBytes = 8192
)

type rewriter struct {
	mu    sync.RWMutex
	cache map[string]string
}

var sqliteText = &rewriter{cache: map[string]string{}}

// text returns q in the dialect's placeholder style.
func (db *DB) text(q string) string {
	if db.Dialect != SQLite || strings.IndexByte(q, '$') < 0 {
		return q
	}
	return sqliteText.get(q)
}

func (r *rewriter) get(q string) string {
	r.mu.RLock()
	out, ok := r.cache[q]
	r.mu.RUnlock()
	if ok {
		return out
	}
	out = numbered(q)
	if len(q) <= maxCachedBytes {
		r.mu.Lock()
		if len(r.cache) < maxCached {
			r.cache[q] = out
		}
		r.mu.Unlock()
	}
	return out
}

// numbered rewrites every $N outside quotes and comments to ?N.
func numbered(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // doubled quote inside the literal
						j += 2
						continue
					}
					break
				}
				j++
			}
			end := min(j+1, len(q))
			b.WriteString(q[i:end])
			i = end - 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j+1])
			i += j
		case c == '$' && i+1 < len(q) && q[i+1] >= '1' && q[i+1] <= '9':
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// SkipLocked is the locking clause of a queue's claim: on PostgreSQL,
// concurrent workers take disjoint rows without waiting for each other; on
// SQLite the single writer already serialises claims, so it is empty.
func (db *DB) SkipLocked() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// Where builds the WHERE clause of a search from optional conditions. Each
// condition marks its values with "?", in the order of the values given;
// the builder numbers them ($1, $2, ...), so callers never compute a
// placeholder number and never put a value into SQL text.
type Where struct {
	conds []string
	args  []any
}

// And adds a condition with its values.
func (w *Where) And(cond string, args ...any) {
	var b strings.Builder
	k := 0
	for i := 0; i < len(cond); i++ {
		if cond[i] == '?' && k < len(args) {
			b.WriteString(w.Arg(args[k]))
			k++
			continue
		}
		b.WriteByte(cond[i])
	}
	w.conds = append(w.conds, b.String())
}

// Arg adds a value and returns its placeholder, for the parts of a query
// after the WHERE clause (LIMIT, OFFSET).
func (w *Where) Arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// SQL is " WHERE c1 AND c2 ..." or "" without conditions.
func (w *Where) SQL() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Conds is the conditions joined by AND, or "TRUE" without any (for a
// query that has a WHERE clause of its own).
func (w *Where) Conds() string {
	if len(w.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(w.conds, " AND ")
}

// Args is the values, in placeholder order.
func (w *Where) Args() []any { return w.args }

// FastLoad prepares SQLite for a bulk load of data that can be generated
// again: the writer syncs at checkpoints only (WAL stays consistent after a
// crash; only the last chunks could be lost) with a large page cache. The
// returned function sets both back. On PostgreSQL it does nothing.
func (db *DB) FastLoad(ctx context.Context) (restore func(), err error) {
	if db.Dialect != SQLite {
		return func() {}, nil
	}
	for _, p := range []string{"PRAGMA synchronous = NORMAL", "PRAGMA cache_size = -262144", "PRAGMA wal_autocheckpoint = 50000"} {
		if _, err := db.Exec(ctx, p); err != nil {
			return nil, err
		}
	}
	return func() {
		bg := context.Background()
		_, _ = db.Exec(bg, "PRAGMA synchronous = FULL")
		_, _ = db.Exec(bg, "PRAGMA cache_size = -2000")
		_, _ = db.Exec(bg, "PRAGMA wal_autocheckpoint = 1000")
		_, _ = db.Exec(bg, "PRAGMA wal_checkpoint(TRUNCATE)")
	}, nil
}

// Analyze refreshes PostgreSQL's planner statistics after a bulk load.
// Without them PostgreSQL plans every table as nearly empty until
// autovacuum gets to it — minutes after a load, or never within a short
// run — and picks plans that walk a whole table: an office case view took
// 3.2 s instead of 4 ms at 350,000 applications (docs/performance.md).
// SQLite is left as it is: it plans without statistics until ANALYZE is
// run, the project's queries are written for that planner, and a sampled
// ANALYZE made the 350,000-person mix no faster there.
func (db *DB) Analyze(ctx context.Context) error {
	if db.Dialect != Postgres {
		return nil
	}
	_, err := db.Exec(ctx, "ANALYZE")
	return err
}

// ResetIdentity moves PostgreSQL's identity sequences of tables past their
// largest id, after a bulk load that assigned ids itself. SQLite takes the
// next rowid from the table and needs nothing.
func (db *DB) ResetIdentity(ctx context.Context, tables ...string) error {
	if db.Dialect != Postgres {
		return nil
	}
	for _, t := range tables {
		// Table names come from the caller's code, never from input; they
		// cannot be parameters.
		if _, err := db.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE((SELECT max(id) FROM `+
			quoteIdent(t)+`), 1))`, t); err != nil {
			return err
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// JSONRows is a table expression over the JSON array of objects bound to
// param, with the given columns ("name TYPE", TYPE one of BIGINT, TEXT,
// BOOLEAN). It lets one statement write a whole batch — rows that differ
// per item — with one parameter, instead of a statement per item or a
// VALUES list with computed placeholder numbers. The caller names it:
// `FROM ` + d.JSONRows("$1", "id BIGINT") + ` r`.
func (db *DB) JSONRows(param string, cols ...string) string {
	var b strings.Builder
	if db.Dialect == Postgres {
		b.WriteString("(SELECT * FROM jsonb_to_recordset(CAST(" + param + " AS jsonb)) AS x(")
		b.WriteString(strings.Join(cols, ", "))
		b.WriteString("))")
		return b.String()
	}
	b.WriteString("(SELECT ")
	for i, c := range cols {
		name, typ, _ := strings.Cut(c, " ")
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("CAST(json_extract(value, '$." + name + "') AS " + typ + ") AS " + name)
	}
	b.WriteString(" FROM json_each(" + param + "))")
	return b.String()
}

// JSONIDs is a table expression with one column, id, over the JSON array of
// integers bound to param ("[1,2,3]"): a set of ids as one parameter.
func (db *DB) JSONIDs(param string) string {
	if db.Dialect == Postgres {
		return "(SELECT CAST(x AS BIGINT) AS id FROM jsonb_array_elements_text(CAST(" + param + " AS jsonb)) AS x)"
	}
	return "(SELECT CAST(value AS BIGINT) AS id FROM json_each(" + param + "))"
}

// Size is the database's size on disk in bytes: SQLite's pages, or
// PostgreSQL's pg_database_size of the connected database.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	if db.Dialect == Postgres {
		err := db.r.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
		return n, err
	}
	var pages, size int64
	if err := db.r.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, err
	}
	if err := db.r.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, err
	}
	return pages * size, nil
}
