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
	per   int
	args  []any
	rows  int
	total int
}

func newBulk(d *db.DB, table string, cols ...string) *bulk {
	// SQLite allows 32,766 parameters per statement; PostgreSQL 65,535.
	per := 30000 / len(cols)
	if per > 1000 {
		per = 1000
	}
	return &bulk{db: d, head: "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ", ncols: len(cols), per: per}
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
	if b.rows == 0 {
		return nil
	}
	var sb strings.Builder
	sb.Grow(len(b.head) + b.rows*b.ncols*7)
	sb.WriteString(b.head)
	n := 1
	for r := 0; r < b.rows; r++ {
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
	if _, err := b.db.Exec(ctx, sb.String(), b.args...); err != nil {
		return err
	}
	b.total += b.rows
	b.rows = 0
	b.args = b.args[:0]
	return nil
}
