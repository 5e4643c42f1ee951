package synth

import (
	"context"
	"strconv"
	"strings"

	"jifen/internal/platform/db"
)

// bulk collects rows of one table and writes them as multi-row INSERT
// statements: far fewer round trips than one statement per row, on both
// engines. It must be used inside a transaction carried by ctx.
type bulk struct {
	db    *db.DB
	head  string
	ncols int
	per   int // rows collected before a flush
	// stmtRows is the most rows one INSERT statement of a flush holds.
	stmtRows int
	args     []any
	rows     int
	total    int
}

func newBulk(d *db.DB, table string, cols ...string) *bulk {
	// PostgreSQL allows 65,535 parameters per statement; SQLite 32,766.
	per := 30000 / len(cols)
	if per > 1000 {
		per = 1000
	}
	b := &bulk{db: d, head: "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ", ncols: len(cols), per: per}
	// A flush writes statements of at most the parameters the engine binds
	// cheaply (db.BindParams: a thousand on SQLite); the rows still go in
	// the order added.
	b.stmtRows = min(per, max(d.BindParams()/len(cols), 1))
	return b
}

func (b *bulk) add(ctx context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	b.rows++
	if b.rows >= b.per {
		return b.flush(ctx)
	}
	return nil
}

func (b *bulk) flush(ctx context.Context) error {
	for start := 0; start < b.rows; start += b.stmtRows {
		end := min(start+b.stmtRows, b.rows)
		if err := b.exec(ctx, end-start, b.args[start*b.ncols:end*b.ncols]); err != nil {
			return err
		}
	}
	b.total += b.rows
	b.rows = 0
	b.args = b.args[:0]
	return nil
}

// exec writes rows rows of args in one statement.
func (b *bulk) exec(ctx context.Context, rows int, args []any) error {
	var sb strings.Builder
	sb.Grow(len(b.head) + rows*b.ncols*7)
	sb.WriteString(b.head)
	n := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for c := 0; c < b.ncols; c++ {
			if c > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
			n++
		}
		sb.WriteByte(')')
	}
	_, err := b.db.Exec(ctx, sb.String(), args...)
	return err
}
