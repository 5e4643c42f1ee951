// Package publicity is the publication system (积分公示系统, DOMAIN.md §6).
// This file holds past official lists (历年公示): the city's published
// lists of earlier years, imported from their files as historical rounds so
// that anyone can search them and see the trend of cutoff and number
// qualified.
package publicity

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/ranking"
	"jifen/internal/rules"
)

// Indicators are the ten indicator codes in the order of the published
// files (DOMAIN.md §5).
var Indicators = []string{"employment", "housing", "education", "study_deduction", "work_residence_area",
	"innovation", "tax", "age", "honors", "law_record"}

// IndicatorNames are the indicators' Chinese names, in the order of
// Indicators.
var IndicatorNames = []string{"合法稳定就业", "合法稳定住所", "教育背景", "取得学历期间扣减", "职住区域",
	"创新创业", "纳税", "年龄", "荣誉表彰", "守法记录"}

// PageSize is the number of entries a page of a past list shows.
const PageSize = 50

// maxQuery bounds a search string: no name, employer or 公示编号 is longer.
const maxQuery = 100

// History imports and serves past official lists.
type History struct {
	db    *db.DB
	audit *audit.Log
	clock clock.Clock
	board *Board // reloaded after an import, if set
}

// WithBoard makes each import reload board, so this process shows the list
// at once (another process's board reloads within half a minute).
func (h *History) WithBoard(b *Board) *History { h.board = b; return h }

// NewHistory returns the past-lists service.
func NewHistory(d *db.DB, a *audit.Log, c clock.Clock) *History {
	return &History{db: d, audit: a, clock: c}
}

// Round is one imported year.
type Round struct {
	Year      int          `json:"year"`
	Quota     int          `json:"quota"`
	Cutoff    rules.Points `json:"cutoff"`
	Qualified int          `json:"qualified"`
	// Indicators is whether the year's file publishes the ten indicator
	// values (the 2021 list has totals only).
	Indicators bool      `json:"indicators"`
	Source     string    `json:"source"`
	FileSM3    string    `json:"file_sm3"`
	ImportedAt time.Time `json:"imported_at"`
}

// Entry is one row of a past list. Name and Employer are "" when the file
// does not publish them (shown as 未公布); Values is nil when the file has
// no indicator values, else the ten values in the order of Indicators.
type Entry struct {
	Seq      int            `json:"-"`
	Number   string         `json:"number"`
	Name     string         `json:"name"`
	Born     string         `json:"born"`
	Employer string         `json:"employer"`
	Total    rules.Points   `json:"total"`
	Values   []rules.Points `json:"-"`
}

// MarshalJSON writes the entry with the ten indicator values as fields of
// their own (null where the file publishes none).
func (e Entry) MarshalJSON() ([]byte, error) {
	m := map[string]any{"number": e.Number, "name": e.Name, "born": e.Born, "employer": e.Employer, "total": e.Total}
	for i, code := range Indicators {
		if e.Values == nil {
			m[code] = nil
		} else {
			m[code] = e.Values[i]
		}
	}
	return json.Marshal(m)
}

// parsed is a validated file.
type parsed struct {
	entries    []Entry
	indicators bool
}

// lineErr is a refusal naming the file's line.
func lineErr(line int, format string, args ...any) error {
	return apperr.Field("file", fmt.Sprintf("第 %d 行：", line)+fmt.Sprintf(format, args...))
}

// parse validates a whole file before anything is written: the header, then
// every row. The number column is publicity_no (公示编号, year + five-digit
// sequence) or rank_order (the 2020 file: the position in descending score
// order, from which the 公示编号 is derived the same way); birth_ym and total
// are required; the ten indicators are all present or all absent; name and
// employer are optional.
func parse(year int, data []byte) (*parsed, error) {
	for i, l := range bytes.Split(data, []byte("\n")) {
		if !utf8.Valid(l) {
			return nil, lineErr(i+1, "不是有效的 UTF-8 文本")
		}
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	head, err := r.Read()
	if err != nil {
		return nil, csvErr(err, "文件为空或表头无法读取")
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := col[h]; dup {
			return nil, lineErr(1, "列 %s 重复", h)
		}
		col[h] = i
	}
	var numCol int
	byRank := false
	if i, ok := col["publicity_no"]; ok {
		numCol = i
	} else if i, ok := col["rank_order"]; ok {
		numCol, byRank = i, true
	} else {
		return nil, lineErr(1, "缺少 publicity_no（公示编号）或 rank_order 列")
	}
	for _, need := range []string{"birth_ym", "total"} {
		if _, ok := col[need]; !ok {
			return nil, lineErr(1, "缺少 %s 列", need)
		}
	}
	present := 0
	for _, c := range Indicators {
		if _, ok := col[c]; ok {
			present++
		}
	}
	if present != 0 && present != len(Indicators) {
		return nil, lineErr(1, "十项指标列须全部提供或全部不提供（现有 %d 项）", present)
	}
	p := &parsed{indicators: present == len(Indicators)}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(err, "格式错误")
		}
		line, _ := r.FieldPos(0)
		seq := len(p.entries) + 1
		e := Entry{Seq: seq, Name: get(rec, "name"), Employer: get(rec, "employer")}
		raw := strings.TrimSpace(rec[numCol])
		if byRank {
			if n, err := strconv.Atoi(raw); err != nil || n != seq {
				return nil, lineErr(line, "rank_order %q 应为 %d", raw, seq)
			}
			e.Number = fmt.Sprintf("%04d%05d", year, seq)
		} else {
			if want := fmt.Sprintf("%04d%05d", year, seq); raw != want {
				return nil, lineErr(line, "公示编号 %q 应为 %s", raw, want)
			}
			e.Number = raw
		}
		born := get(rec, "birth_ym")
		if t, err := time.Parse("2006-01", born); err != nil || t.Year() < 1900 || t.Year() >= year {
			return nil, lineErr(line, "出生年月 %q 不是有效的 YYYY-MM", born)
		}
		e.Born = born
		if e.Total, err = points(get(rec, "total")); err != nil {
			return nil, lineErr(line, "积分 %q 不是有效的数值", get(rec, "total"))
		}
		if p.indicators {
			e.Values = make([]rules.Points, len(Indicators))
			var sum rules.Points
			for i, c := range Indicators {
				if e.Values[i], err = points(get(rec, c)); err != nil {
					return nil, lineErr(line, "%s %q 不是有效的数值", c, get(rec, c))
				}
				sum += e.Values[i]
			}
			if sum != e.Total {
				return nil, lineErr(line, "十项指标之和 %s 不等于积分 %s", sum, e.Total)
			}
		}
		if n := len(p.entries); n > 0 && e.Total > p.entries[n-1].Total {
			return nil, lineErr(line, "积分 %s 高于上一行的 %s：名单应按积分从高到低排列", e.Total, p.entries[n-1].Total)
		}
		if len(e.Name) > 200 || len(e.Employer) > 500 {
			return nil, lineErr(line, "姓名或单位名称过长")
		}
		p.entries = append(p.entries, e)
		if len(p.entries) > ranking.MaxQualified {
			return nil, lineErr(line, "名单超过 %d 行", ranking.MaxQualified)
		}
	}
	if len(p.entries) == 0 {
		return nil, apperr.Field("file", "文件没有数据行")
	}
	return p, nil
}

func points(s string) (rules.Points, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	return rules.ParsePoints(s)
}

// csvErr names the line of a CSV syntax error (a missing column included).
func csvErr(err error, what string) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return lineErr(pe.Line, "列数与表头不符")
		}
		return lineErr(pe.Line, "%s", what)
	}
	return apperr.Field("file", what)
}

// ImportResult says what an import did.
type ImportResult struct {
	Round
	// Imported is false when the same file was imported before: nothing
	// changed.
	Imported bool `json:"imported"`
}

// Import loads an official list as the historical round of year. The whole
// file is validated first; the cutoff and the number qualified are computed
// with the ranking core on the file's totals and birth months and must agree
// with the list itself (everyone on it qualified, nobody else); then the
// round and its entries are stored in one transaction. The same file again
// changes nothing; another file for a year already imported is refused.
func (h *History) Import(ctx context.Context, by actor.Actor, year, quota int, data []byte) (*ImportResult, error) {
	if year < 2000 || year > 9999 {
		return nil, apperr.Field("year", "年度必须是 2000 年以后的四位数字")
	}
	if quota <= 0 {
		return nil, apperr.Field("quota", "名额必须是大于 0 的整数")
	}
	p, err := parse(year, data)
	if err != nil {
		return nil, err
	}
	es := make([]ranking.Entry, len(p.entries))
	for i, e := range p.entries {
		ym, _ := strconv.Atoi(strings.ReplaceAll(e.Born, "-", ""))
		es[i] = ranking.Entry{ApplicationID: int64(i + 1), Total: e.Total, BirthYM: ym}
	}
	t, err := ranking.Prepare(es)
	if err != nil {
		return nil, err
	}
	w, err := t.WhatIf(quota)
	if err != nil {
		return nil, err
	}
	last := p.entries[len(p.entries)-1].Total
	if w.Qualified != len(p.entries) || w.Cutoff != last {
		return nil, apperr.Field("quota", fmt.Sprintf("名额 %d 得出分数线 %s、%d 人，与名单（%d 人，最低 %s）不符",
			quota, w.Cutoff, w.Qualified, len(p.entries), last))
	}
	sum := crypto.SM3Hex(data)
	res := &ImportResult{Round: Round{Year: year, Quota: quota, Cutoff: w.Cutoff, Qualified: w.Qualified,
		Indicators: p.indicators, Source: "imported", FileSM3: sum, ImportedAt: h.clock.Now().Truncate(time.Microsecond)}}
	err = h.db.WithTx(ctx, func(ctx context.Context) error {
		old, err := h.Round(ctx, year)
		if err == nil {
			return sameFile(old, sum)
		}
		if !apperr.Is(err, apperr.NotFound) {
			return err
		}
		if _, err := h.db.Exec(ctx, `INSERT INTO publicity_rounds (year, quota, cutoff, qualified, indicators, source, file_sm3,
			imported_at, imported_by) VALUES ($1, $2, $3, $4, $5, 'imported', $6, $7, $8)`, year, quota, int64(w.Cutoff), w.Qualified,
			p.indicators, sum, db.Micros(res.ImportedAt), by.Login); err != nil {
			if db.IsUniqueViolation(err) {
				return errConcurrent
			}
			return apperr.Wrap(fmt.Errorf("insert publicity round: %w", err))
		}
		if err := h.insertEntries(ctx, year, p.entries); err != nil {
			return err
		}
		res.Imported = true
		return h.audit.Record(ctx, audit.Entry{Action: "publicity.import", ObjectType: "publicity_round",
			ObjectID: strconv.Itoa(year), Outcome: audit.Success,
			Reason: fmt.Sprintf("quota %d cutoff %s qualified %d sm3 %s", quota, w.Cutoff, w.Qualified, sum)})
	})
	if errors.Is(err, errConcurrent) {
		// Another import of the same year committed first: the answer is
		// theirs, judged like a second import.
		old, rerr := h.Round(ctx, year)
		if rerr != nil {
			return nil, rerr
		}
		err = sameFile(old, sum)
	}
	if errors.Is(err, errSame) {
		old, rerr := h.Round(ctx, year)
		if rerr != nil {
			return nil, rerr
		}
		return &ImportResult{Round: *old}, nil
	}
	if err != nil {
		return nil, err
	}
	if h.board != nil {
		_ = h.board.Reload(ctx) // a failure only delays the list to the next reload
	}
	return res, nil
}

var (
	errConcurrent = errors.New("publicity: concurrent import")
	errSame       = errors.New("publicity: same file")
)

func sameFile(old *Round, sum string) error {
	if old.FileSM3 == sum {
		return errSame
	}
	return apperr.New(apperr.Conflict, fmt.Sprintf("%d 年度的公示名单已从另一文件导入（SM3 %s），不能再导入不同的文件", old.Year, old.FileSM3))
}

// insertEntries writes the entries a few thousand rows a statement, each
// batch one JSON parameter.
func (h *History) insertEntries(ctx context.Context, year int, entries []Entry) error {
	cols := []string{"seq INTEGER", "number TEXT", "name TEXT", "born TEXT", "employer TEXT", "total BIGINT"}
	for _, c := range Indicators {
		cols = append(cols, c+" BIGINT")
	}
	insert := `INSERT INTO publicity_entries (year, seq, number, name, born, employer, total, employment, housing, education,
		study_deduction, work_residence_area, innovation, tax, age, honors, law_record)
		SELECT $1, r.seq, r.number, r.name, r.born, r.employer, r.total, r.employment, r.housing, r.education,
		r.study_deduction, r.work_residence_area, r.innovation, r.tax, r.age, r.honors, r.law_record FROM ` +
		h.db.JSONRows("$2", cols...) + ` r`
	const chunk = 2000
	for lo := 0; lo < len(entries); lo += chunk {
		batch := make([]map[string]any, 0, chunk)
		for _, e := range entries[lo:min(lo+chunk, len(entries))] {
			m := map[string]any{"seq": e.Seq, "number": e.Number, "name": e.Name, "born": e.Born, "employer": e.Employer,
				"total": int64(e.Total)}
			for i, c := range Indicators {
				if e.Values == nil {
					m[c] = nil
				} else {
					m[c] = int64(e.Values[i])
				}
			}
			batch = append(batch, m)
		}
		b, err := json.Marshal(batch)
		if err != nil {
			return apperr.Wrap(err)
		}
		if _, err := h.db.Exec(ctx, insert, year, string(b)); err != nil {
			return apperr.Wrap(fmt.Errorf("insert publicity entries: %w", err))
		}
	}
	return nil
}

const roundCols = `year, quota, cutoff, qualified, indicators, source, file_sm3, imported_at`

func scanRound(sc interface{ Scan(...any) error }) (*Round, error) {
	var r Round
	var cutoff, at int64
	if err := sc.Scan(&r.Year, &r.Quota, &cutoff, &r.Qualified, &r.Indicators, &r.Source, &r.FileSM3, &at); err != nil {
		return nil, err
	}
	r.Cutoff, r.ImportedAt = rules.Points(cutoff), db.FromMicros(at)
	return &r, nil
}

// Round returns the imported round of year, or NotFound.
func (h *History) Round(ctx context.Context, year int) (*Round, error) {
	r, err := scanRound(h.db.QueryRow(ctx, `SELECT `+roundCols+` FROM publicity_rounds WHERE year = $1`, year))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.NotFound, fmt.Sprintf("没有 %d 年度的历年公示名单", year))
	}
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("publicity round %d: %w", year, err))
	}
	return r, nil
}

// Rounds lists the imported rounds, oldest first.
func (h *History) Rounds(ctx context.Context) ([]Round, error) {
	rows, err := h.db.Query(ctx, `SELECT `+roundCols+` FROM publicity_rounds ORDER BY year`)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("publicity rounds: %w", err))
	}
	defer rows.Close()
	out := []Round{}
	for rows.Next() {
		r, err := scanRound(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// EntryPage is one page of a search in a past list.
type EntryPage struct {
	Year    int     `json:"year"`
	Query   string  `json:"q"`
	Page    int     `json:"page"`
	Pages   int     `json:"pages"`
	Total   int     `json:"total"`
	Entries []Entry `json:"entries"`
}

// CheckQuery validates a search string: valid UTF-8, at most maxQuery
// characters. The empty string matches every entry.
func CheckQuery(q string) (string, error) {
	if !utf8.ValidString(q) {
		return "", apperr.Field("q", "搜索内容不是有效的文字")
	}
	q = strings.TrimSpace(q)
	if utf8.RuneCountInString(q) > maxQuery {
		return "", apperr.Field("q", fmt.Sprintf("搜索内容不能超过 %d 个字", maxQuery))
	}
	return q, nil
}

// likeEscape escapes LIKE's wildcards so a search is a plain substring.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Entries returns page (from 1) of year's list, in list order, filtered by
// q: an exact 公示编号, or part of a name or an employer. A page past the
// end is empty; a page below 1 is refused.
func (h *History) Entries(ctx context.Context, year int, q string, page int) (*EntryPage, error) {
	q, err := CheckQuery(q)
	if err != nil {
		return nil, err
	}
	if page < 1 {
		return nil, apperr.Field("page", "页码必须是大于 0 的整数")
	}
	if _, err := h.Round(ctx, year); err != nil {
		return nil, err
	}
	var w db.Where
	w.And("year = ?", year)
	if q != "" {
		like := "%" + likeEscape.Replace(q) + "%"
		w.And(`(number = ? OR name LIKE ? ESCAPE '\' OR employer LIKE ? ESCAPE '\')`, q, like, like)
	}
	out := &EntryPage{Year: year, Query: q, Page: page, Entries: []Entry{}}
	if err := h.db.QueryRow(ctx, `SELECT COUNT(*) FROM publicity_entries`+w.SQL(), w.Args()...).Scan(&out.Total); err != nil {
		return nil, apperr.Wrap(fmt.Errorf("count publicity entries: %w", err))
	}
	out.Pages = (out.Total + PageSize - 1) / PageSize
	if page > out.Pages {
		return out, nil
	}
	rows, err := h.db.Query(ctx, `SELECT seq, number, name, born, employer, total, employment, housing, education, study_deduction,
		work_residence_area, innovation, tax, age, honors, law_record FROM publicity_entries`+w.SQL()+
		` ORDER BY seq LIMIT `+w.Arg(PageSize)+` OFFSET `+w.Arg((page-1)*PageSize), w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("publicity entries: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var e Entry
		var total int64
		var v [10]*int64
		if err := rows.Scan(&e.Seq, &e.Number, &e.Name, &e.Born, &e.Employer, &total, &v[0], &v[1], &v[2], &v[3], &v[4],
			&v[5], &v[6], &v[7], &v[8], &v[9]); err != nil {
			return nil, apperr.Wrap(err)
		}
		e.Total = rules.Points(total)
		if v[0] != nil {
			e.Values = make([]rules.Points, len(v))
			for i, p := range v {
				if p != nil {
					e.Values[i] = rules.Points(*p)
				}
			}
		}
		out.Entries = append(out.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}
