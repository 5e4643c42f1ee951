package audit

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Filter selects audit rows. Zero fields match everything.
type Filter struct {
	Actor      string // login, exact
	Action     string // exact, or a prefix ending in '.' (e.g. "account.")
	ObjectType string
	ObjectID   string
	Outcome    string
	From, To   time.Time // To is exclusive
	BeforeID   int64     // keyset paging: rows with id < BeforeID
	Limit      int
}

func (f Filter) where() *db.Where {
	w := &db.Where{}
	add := func(cond string, v any) { w.And(cond, v) }
	if f.Actor != "" {
		add("actor_login = ?", f.Actor)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			add("action LIKE ?", f.Action+"%")
		} else {
			add("action = ?", f.Action)
		}
	}
	if f.ObjectType != "" {
		add("object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		add("object_id = ?", f.ObjectID)
	}
	if f.Outcome != "" {
		add("outcome = ?", f.Outcome)
	}
	if !f.From.IsZero() {
		add("at >= ?", db.Micros(f.From))
	}
	if !f.To.IsZero() {
		add("at < ?", db.Micros(f.To))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	return w
}

// Search returns matching rows, newest first, at most f.Limit (default 100,
// at most 1000).
func (l *Log) Search(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	w := f.where()
	rows, err := l.db.Query(ctx, `SELECT `+entryColumns+` FROM audit_log`+w.SQL()+` ORDER BY id DESC LIMIT `+w.Arg(f.Limit), w.Args()...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CSVHeader is the header row of an export, in Chinese for the people who open it.
var CSVHeader = []string{"序号", "时间(北京时间)", "操作人ID", "操作人", "角色", "客户端地址", "操作", "对象类型", "对象ID",
	"结果", "原因", "请求ID", "前一条哈希", "本条哈希"}

// ExportCSV streams every matching row, oldest first, as CSV (UTF-8 with a
// byte-order mark so that spreadsheet programs read the Chinese correctly).
// Cells that a spreadsheet would run as a formula are neutralised.
func (l *Log) ExportCSV(ctx context.Context, f Filter, w io.Writer) (int, error) {
	fw := f.where()
	rows, err := l.db.Query(ctx, `SELECT `+entryColumns+` FROM audit_log`+fw.SQL()+` ORDER BY id`, fw.Args()...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, err
	}
	bj := clock.Beijing
	n := 0
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return n, err
		}
		rec := []string{strconv.FormatInt(e.ID, 10), e.At.In(bj).Format("2006-01-02 15:04:05.000000"),
			strconv.FormatInt(e.ActorID, 10), e.ActorLogin, e.ActorRole, e.ClientAddr, e.Action, e.ObjectType,
			e.ObjectID, e.Outcome, e.Reason, e.RequestID, e.PrevHash, e.Hash}
		for i := range rec {
			rec[i] = SafeCell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, err
	}
	return n, rows.Err()
}

// SafeCell prefixes a cell that a spreadsheet would evaluate as a formula.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
