// Package reports holds the office's ready-made reports (常用统计报表,
// issue 15 part 2): daily progress per district, cross-check outcomes per
// agency, discrepancy handling, score distribution and cutoff what-ifs,
// the round summary, publication access, mail delivery and officers'
// workload. Each report answers a *stats.Result, so the pages, the exports
// and suppression are those of the statistics engine.
//
// The package only reads: the tables belong to their owners (archtest),
// and where an owner already answers the question (accessstats.Read,
// mailing's daily summary) the report asks it instead of its tables.
package reports

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/stats"
)

// SuppressBelow is the small-cell threshold applied to every report that
// leaves the office (exports and the JSON API). It will move to the
// configuration.
const SuppressBelow = 5

// The kinds of a parameter, which are also how the page's form asks them.
const (
	KindYear = "year" // a round's year; empty means the newest round
	KindDate = "date" // a Beijing date, 2026-03-02
)

// Param describes one parameter of a report.
type Param struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Kind  string `json:"kind"`
	Hint  string `json:"hint,omitempty"`
}

// Params are a report's parameters as given (form or URL query).
type Params map[string]string

// Report is one ready-made report.
type Report struct {
	Code        string  `json:"code"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Params      []Param `json:"params"`
	// Chart is how the page draws it: "bar", "line", "pie", "histogram"
	// or "" (a table only).
	Chart string `json:"chart"`
	// Permission is what the asker needs besides what Run checks.
	Permission actor.Permission                                                           `json:"-"`
	Run        func(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) `json:"-"`
}

// Deps are the owners the reports ask instead of reading their tables.
type Deps struct {
	DB    *db.DB
	Clock clock.Clock
	// Access answers the publication access report (accessstats.Stats).
	Access AccessReader
	// Mail answers the mail delivery report (mailing.Campaigns).
	Mail MailReader
	// Due is the service clock's deadline of a step (casework.Service);
	// without it the workload report leaves the share within the clock
	// empty.
	Due DueCalculator
}

// Registry is the list of reports.
type Registry struct {
	d       Deps
	reports []Report
}

// New returns the registry of the eight reports.
func New(d Deps) *Registry {
	r := &Registry{d: d}
	r.reports = []Report{r.progress(), r.crosscheck(), r.discrepancies(), r.scores(), r.summary(), r.access(), r.mail(),
		r.workload()}
	return r
}

// List returns every report, in display order.
func (r *Registry) List() []Report { return slices.Clone(r.reports) }

// ListFor returns the reports by may run.
func (r *Registry) ListFor(by actor.Actor) []Report {
	var out []Report
	for _, rep := range r.reports {
		if by.Can(rep.Permission) {
			out = append(out, rep)
		}
	}
	return out
}

// Get returns the report of code.
func (r *Registry) Get(code string) (Report, bool) {
	i := slices.IndexFunc(r.reports, func(rep Report) bool { return rep.Code == code })
	if i < 0 {
		return Report{}, false
	}
	return r.reports[i], true
}

// Run runs report code for by: an unknown code or a bad parameter is a
// field error in Chinese, a report by may not see is Forbidden.
func (r *Registry) Run(ctx context.Context, by actor.Actor, code string, p Params) (*stats.Result, error) {
	rep, ok := r.Get(code)
	if !ok {
		return nil, apperr.Field("code", "没有这个报表，请从报表列表中选择")
	}
	if err := by.Require(rep.Permission); err != nil {
		return nil, err
	}
	if err := r.validate(rep, p); err != nil {
		return nil, err
	}
	return rep.Run(ctx, by, p)
}

// maxDays is the longest date range of a report: a year and a bit, like
// the access statistics'.
const maxDays = 400

// validate checks every parameter the report takes before any is used, so
// that every wrong field is named at once.
func (r *Registry) validate(rep Report, p Params) error {
	var fs []apperr.FieldError
	dates := map[string]time.Time{}
	for _, prm := range rep.Params {
		v := strings.TrimSpace(p[prm.Name])
		if v == "" {
			continue
		}
		switch prm.Kind {
		case KindYear:
			if y, err := strconv.Atoi(v); err != nil || y < 2000 || y > 2100 {
				fs = append(fs, apperr.FieldError{Field: prm.Name, Message: "年度应为四位数字，如 2027"})
			}
		case KindDate:
			t, err := time.ParseInLocation("2006-01-02", v, clock.Beijing)
			if err != nil {
				fs = append(fs, apperr.FieldError{Field: prm.Name, Message: prm.Label + "格式不正确，请填写日期（如 2027-03-02）"})
				continue
			}
			dates[prm.Name] = t
		}
	}
	if from, ok := dates["from"]; ok {
		if to, ok := dates["to"]; ok {
			switch {
			case to.Before(from):
				fs = append(fs, apperr.FieldError{Field: "to", Message: "结束日期不能早于开始日期"})
			case to.Sub(from) > maxDays*24*time.Hour:
				fs = append(fs, apperr.FieldError{Field: "from", Message: fmt.Sprintf("日期范围过长：最多 %d 天", maxDays)})
			}
		}
	}
	return apperr.Fields(fs)
}

// dateRange reads from and to (Beijing dates, validated) as the half-open
// range [from, to+1 day); missing ones default to the last `days` days.
func (r *Registry) dateRange(p Params, days int) (from, to time.Time, err error) {
	today := clock.BeijingDay(r.d.Clock.Now())
	to, from = today.AddDate(0, 0, 1), today.AddDate(0, 0, 1-days)
	if v := strings.TrimSpace(p["to"]); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, clock.Beijing)
		if err != nil {
			return from, to, apperr.Field("to", "结束日期格式不正确，请填写日期（如 2027-03-02）")
		}
		to = t.AddDate(0, 0, 1)
		if strings.TrimSpace(p["from"]) == "" {
			from = to.AddDate(0, 0, -days)
		}
	}
	if v := strings.TrimSpace(p["from"]); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, clock.Beijing)
		if err != nil {
			return from, to, apperr.Field("from", "开始日期格式不正确，请填写日期（如 2027-03-02）")
		}
		from = t
	}
	if !to.After(from) {
		return from, to, apperr.Field("to", "结束日期不能早于开始日期")
	}
	return from, to, nil
}

// days lists the Beijing dates of [from, to).
func days(from, to time.Time) []string {
	var out []string
	for t := from; t.Before(to); t = t.AddDate(0, 0, 1) {
		out = append(out, t.In(clock.Beijing).Format("2006-01-02"))
	}
	return out
}

// dayOf is the Beijing date of a stored time.
func dayOf(us int64) string { return db.FromMicros(us).In(clock.Beijing).Format("2006-01-02") }

// roundInfo is what the reports need of a round.
type roundInfo struct {
	ID    int64
	Year  int
	Quota int
}

// round reads the round of p["year"], or the newest round.
func (r *Registry) round(ctx context.Context, p Params) (roundInfo, error) {
	var ri roundInfo
	var err error
	if v := strings.TrimSpace(p["year"]); v != "" {
		y, cerr := strconv.Atoi(v)
		if cerr != nil {
			return ri, apperr.Field("year", "年度应为四位数字，如 2027")
		}
		err = r.d.DB.QueryRow(ctx, `SELECT id, year, quota FROM rounds WHERE year = $1`, y).Scan(&ri.ID, &ri.Year, &ri.Quota)
	} else {
		err = r.d.DB.QueryRow(ctx, `SELECT id, year, quota FROM rounds ORDER BY year DESC LIMIT 1`).Scan(&ri.ID, &ri.Year, &ri.Quota)
	}
	if db.IsNoRows(err) {
		return ri, apperr.Field("year", "没有该年度的积分落户批次")
	}
	if err != nil {
		return ri, apperr.Wrap(err)
	}
	return ri, nil
}

// noDistrict is a scope that matches no district: a district officer
// without a district sees nothing rather than every district.
const noDistrict = "-none-"

// scope is the district by is limited to ("" for the city), as casework
// decides it: cases.district is needed, cases.city sees every district.
func scope(by actor.Actor) (string, error) {
	if err := by.Require(actor.PermCasesDistrict); err != nil {
		return "", err
	}
	if by.Can(actor.PermCasesCity) {
		return "", nil
	}
	if by.District == "" {
		return noDistrict, nil
	}
	return by.District, nil
}

// inScope reports whether district d is visible in scope s.
func inScope(s, d string) bool { return s == "" || s == d }

// districtLabel names a district on pages ("" before an application has
// one).
func districtLabel(d string) string {
	if d == "" {
		return "未定区"
	}
	return d
}

// m builds a measure.
func m(name, label, unit string) stats.MeasureInfo {
	return stats.MeasureInfo{Name: name, Label: label, Unit: unit}
}

// num is a value.
func num(f float64) stats.Value { return stats.Value{N: f} }

// null is a value of nothing (a mean over no case).
func null() stats.Value { return stats.Value{Null: true} }

// ints turns counts into values.
func ints(ns ...int) []stats.Value {
	out := make([]stats.Value, len(ns))
	for i, n := range ns {
		out[i] = num(float64(n))
	}
	return out
}

// sumRows is the total of additive measures over rows; count is the real
// count of the whole (cases are not double counted across rows).
func sumRows(rows []stats.Row, measures int, count int) stats.Row {
	t := stats.Row{Count: count, Values: make([]stats.Value, measures)}
	for _, row := range rows {
		for i, v := range row.Values {
			if !v.Null {
				t.Values[i].N += v.N
			}
		}
	}
	return t
}

// result assembles a report's answer.
func (r *Registry) result(s string, dims []stats.DimInfo, ms []stats.MeasureInfo, rows []stats.Row, total stats.Row) *stats.Result {
	if rows == nil {
		rows = []stats.Row{}
	}
	if s == noDistrict {
		s = ""
	}
	return &stats.Result{Dims: dims, Measures: ms, Rows: rows, Total: total, AsOf: r.d.Clock.Now(), Scope: s}
}

// errNotWired answers a report whose source this process was built
// without.
func errNotWired(what string) error {
	return apperr.New(apperr.Conflict, what+"未启用，无法生成此报表")
}

func fieldErr(field, msg string) error { return apperr.Field(field, msg) }
