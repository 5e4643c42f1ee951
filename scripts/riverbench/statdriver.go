package main

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// The SQLite writer is one connection shared by River and the jobs, as jifen
// would have to give it. To see who holds it and for how long, the writer
// pool goes through this thin wrapper of the SQLite driver: it adds up, per
// statement name (River's generated queries start with "-- name: X"), how
// often a statement ran and how long the connection was busy with it, and
// per transaction how long it was held from BEGIN to COMMIT, named by the
// transaction's first statement.

type occupancy struct {
	mu sync.Mutex
	by map[string]*use
}

type use struct {
	n     int
	total time.Duration
}

func newOccupancy() *occupancy { return &occupancy{by: map[string]*use{}} }

func (o *occupancy) add(label string, d time.Duration) {
	o.mu.Lock()
	u := o.by[label]
	if u == nil {
		u = &use{}
		o.by[label] = u
	}
	u.n++
	u.total += d
	o.mu.Unlock()
}

// snapshot returns a copy and resets the counts.
func (o *occupancy) snapshot() map[string]use {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]use, len(o.by))
	for k, v := range o.by {
		out[k] = *v
	}
	o.by = map[string]*use{}
	return out
}

// report prints the labels that held the writer longest during wall.
func (o *occupancy) report(w io.Writer, title string, wall time.Duration, top int) {
	snap := o.snapshot()
	keys := make([]string, 0, len(snap))
	var sum time.Duration
	for k, v := range snap {
		keys = append(keys, k)
		sum += v.total
	}
	slices.SortFunc(keys, func(a, b string) int { return int(snap[b].total - snap[a].total) })
	fmt.Fprintf(w, "  writer connection busy (%s): %s of %s wall (%.1f%%)\n", title, sum.Round(time.Millisecond), wall.Round(time.Millisecond),
		100*float64(sum)/float64(max(wall, 1)))
	for i, k := range keys {
		if i == top {
			break
		}
		u := snap[k]
		fmt.Fprintf(w, "    %-48s %7d× %10s  (%.2f ms each)\n", k, u.n, u.total.Round(time.Millisecond),
			float64(u.total)/float64(time.Millisecond)/float64(u.n))
	}
}

func label(query string) string {
	q := strings.TrimSpace(query)
	if rest, ok := strings.CutPrefix(q, "-- name: "); ok {
		if i := strings.IndexAny(rest, " \n"); i > 0 {
			return "river." + rest[:i]
		}
	}
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 44 {
		q = q[:44]
	}
	return q
}

type statDriver struct {
	d   driver.Driver
	occ *occupancy
}

func (s statDriver) Open(name string) (driver.Conn, error) {
	c, err := s.d.Open(name)
	if err != nil {
		return nil, err
	}
	return &statConn{c: c, occ: s.occ}, nil
}

type statConn struct {
	c       driver.Conn
	occ     *occupancy
	inTx    bool
	txStart time.Time
	txLabel string
}

func (c *statConn) Prepare(q string) (driver.Stmt, error) { return c.c.Prepare(q) }
func (c *statConn) Close() error                          { return c.c.Close() }
func (c *statConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *statConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	start := time.Now()
	tx, err := c.c.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx, c.txStart, c.txLabel = true, start, ""
	return &statTx{tx: tx, c: c}, nil
}

func (c *statConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.c.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *statConn) note(q string, start time.Time) {
	l := label(q)
	if c.inTx {
		if c.txLabel == "" {
			c.txLabel = l
		}
		return
	}
	c.occ.add(l, time.Since(start))
}

func (c *statConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	start := time.Now()
	r, err := c.c.(driver.ExecerContext).ExecContext(ctx, q, args)
	c.note(q, start)
	return r, err
}

func (c *statConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	start := time.Now()
	r, err := c.c.(driver.QueryerContext).QueryContext(ctx, q, args)
	if err != nil {
		c.note(q, start)
		return nil, err
	}
	return &statRows{Rows: r, done: func() { c.note(q, start) }}, nil
}

func (c *statConn) Ping(ctx context.Context) error { return c.c.(driver.Pinger).Ping(ctx) }
func (c *statConn) ResetSession(ctx context.Context) error {
	return c.c.(driver.SessionResetter).ResetSession(ctx)
}
func (c *statConn) IsValid() bool { return c.c.(driver.Validator).IsValid() }

type statRows struct {
	driver.Rows
	done func()
}

func (r *statRows) Close() error {
	err := r.Rows.Close()
	if r.done != nil {
		r.done()
		r.done = nil
	}
	return err
}

type statTx struct {
	tx driver.Tx
	c  *statConn
}

func (t *statTx) end() {
	l := t.c.txLabel
	if l == "" {
		l = "(empty)"
	}
	t.c.occ.add("tx: "+l, time.Since(t.c.txStart))
	t.c.inTx = false
}

func (t *statTx) Commit() error   { defer t.end(); return t.tx.Commit() }
func (t *statTx) Rollback() error { defer t.end(); return t.tx.Rollback() }
