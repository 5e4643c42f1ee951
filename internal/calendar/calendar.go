// Package calendar is the working-day calendar (工作日历): the public
// holidays and the 调休 working weekends the State Council announces each
// year, kept as data in the table calendar_days, and the working-day
// arithmetic the service clock of a case (internal/casework) is built on.
//
// A date without a row is a working day from Monday to Friday and a rest
// day on Saturday and Sunday; a row overrides that ('holiday' rests on a
// weekday, 'workday' works on a weekend). Migration 0015 ships 2025 and
// 2026 as the State Council published them and, for 2027, only the
// statutory holidays by the lunar dates of 2027: 2027 must be checked
// against the State Council's notice when it is published. Officers with
// rounds.manage edit any day on /office/calendar; every change is audited.
//
// Dates are Beijing dates (platform/clock.Beijing), written 'YYYY-MM-DD'.
package calendar

import (
	"context"
	"strconv"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Kind is what a calendar row makes of its date.
type Kind string

// The kinds.
const (
	Holiday Kind = "holiday" // a rest day on a weekday (法定节假日 or 调休)
	Workday Kind = "workday" // a working weekend (调休上班)
)

// Day is one row of the calendar.
type Day struct {
	Date      string    `json:"date"`
	Kind      Kind      `json:"kind"`
	Name      string    `json:"name"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Unconfirmed lists the years whose rows are the statutory holidays only,
// not yet the State Council's schedule: pages warn about them.
var Unconfirmed = []int{2027}

// Service keeps the calendar.
type Service struct {
	db    *db.DB
	audit *audit.Log
	clock clock.Clock
}

// NewService returns the calendar service.
func NewService(d *db.DB, a *audit.Log, c clock.Clock) *Service {
	return &Service{db: d, audit: a, clock: c}
}

const layout = "2006-01-02"

// Year lists the rows of a year in date order.
func (s *Service) Year(ctx context.Context, year int) ([]Day, error) {
	if year < 2000 || year > 2100 {
		return nil, apperr.Field("year", "年份应在2000至2100之间")
	}
	y := strconv.Itoa(year)
	return s.between(ctx, y+"-01-01", y+"-12-31")
}

func (s *Service) between(ctx context.Context, from, to string) ([]Day, error) {
	rows, err := s.db.Query(ctx, `SELECT date, kind, name, updated_by, updated_at FROM calendar_days
		WHERE date >= $1 AND date <= $2 ORDER BY date`, from, to)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer func() { _ = rows.Close() }()
	var out []Day
	for rows.Next() {
		var d Day
		var at int64
		if err := rows.Scan(&d.Date, &d.Kind, &d.Name, &d.UpdatedBy, &at); err != nil {
			return nil, apperr.Wrap(err)
		}
		if at != 0 {
			d.UpdatedAt = db.FromMicros(at)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ParseDate reads a 'YYYY-MM-DD' date as midnight Beijing time; a bad one
// is a field error on field.
func ParseDate(field, v string) (time.Time, error) {
	t, err := time.ParseInLocation(layout, strings.TrimSpace(v), clock.Beijing)
	if err != nil {
		return time.Time{}, apperr.Field(field, "日期格式应为 YYYY-MM-DD，例如 2026-10-01")
	}
	return t, nil
}

// Set adds or changes the row of a date. It needs rounds.manage and is
// audited.
func (s *Service) Set(ctx context.Context, c actor.Actor, date string, kind Kind, name string) (Day, error) {
	if err := c.Require(actor.PermRoundsManage); err != nil {
		return Day{}, err
	}
	t, err := ParseDate("date", date)
	if err != nil {
		return Day{}, err
	}
	date = t.Format(layout)
	name = strings.TrimSpace(name)
	var fe []apperr.FieldError
	switch kind {
	case Holiday:
	case Workday:
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			fe = append(fe, apperr.FieldError{Field: "kind", Message: "调休上班日只能设在周六或周日（周一至周五本来就是工作日）"})
		}
	default:
		fe = append(fe, apperr.FieldError{Field: "kind", Message: "请选择类型：放假或调休上班"})
	}
	if name == "" || len([]rune(name)) > 40 {
		fe = append(fe, apperr.FieldError{Field: "name", Message: "请填写名称（如：国庆节），不超过40字"})
	}
	if err := apperr.Fields(fe); err != nil {
		return Day{}, err
	}
	now := s.clock.Now()
	d := Day{Date: date, Kind: kind, Name: name, UpdatedBy: c.Login, UpdatedAt: now.Truncate(time.Microsecond)}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		// One statement on both engines: insert, or replace the row of the
		// date (the primary key).
		if _, err := s.db.Exec(ctx, `INSERT INTO calendar_days (date, kind, name, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (date) DO UPDATE SET kind = excluded.kind, name = excluded.name, updated_by = excluded.updated_by,
			updated_at = excluded.updated_at`, date, string(kind), name, c.Login, db.Micros(now)); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "calendar.set", ObjectType: "calendar_day", ObjectID: date,
			Reason: string(kind) + " " + name})
	})
	if err != nil {
		return Day{}, err
	}
	return d, nil
}

// Remove deletes the row of a date, which becomes an ordinary day again.
// It needs rounds.manage and is audited; an unknown date is not found.
func (s *Service) Remove(ctx context.Context, c actor.Actor, date string) error {
	if err := c.Require(actor.PermRoundsManage); err != nil {
		return err
	}
	t, err := ParseDate("date", date)
	if err != nil {
		return err
	}
	date = t.Format(layout)
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `DELETE FROM calendar_days WHERE date = $1`, date)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.NotFound, "日历中没有该日期的设置："+date)
		}
		return s.audit.Record(ctx, audit.Entry{Action: "calendar.remove", ObjectType: "calendar_day", ObjectID: date})
	})
}

// Span is the calendar of a stretch of dates, loaded once, for the
// arithmetic below (which reads no database).
type Span struct {
	days map[string]Kind
}

// NewSpan makes a span from rows (tests and callers with their own data).
func NewSpan(days []Day) Span {
	m := make(map[string]Kind, len(days))
	for _, d := range days {
		m[d.Date] = d.Kind
	}
	return Span{days: m}
}

// Load reads the rows from the Beijing day of from to the day of to.
func (s *Service) Load(ctx context.Context, from, to time.Time) (Span, error) {
	days, err := s.between(ctx, clock.BeijingDay(from).Format(layout), clock.BeijingDay(to).Format(layout))
	if err != nil {
		return Span{}, err
	}
	return NewSpan(days), nil
}

// IsWorkingDay reports whether the Beijing day t falls on is a working day.
func (sp Span) IsWorkingDay(t time.Time) bool {
	d := clock.BeijingDay(t)
	switch sp.days[d.Format(layout)] {
	case Holiday:
		return false
	case Workday:
		return true
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddWorkingDays returns the deadline n working days after t: the end
// (the last microsecond, Beijing time) of the n-th working day after the
// day t falls on, that day itself not counted. n ≤ 0 gives the end of the
// day of t if it is a working day, else of the next working day.
func (sp Span) AddWorkingDays(t time.Time, n int) time.Time {
	d := clock.BeijingDay(t)
	if n <= 0 {
		for !sp.IsWorkingDay(d) {
			d = d.AddDate(0, 0, 1)
		}
		return endOfDay(d)
	}
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if sp.IsWorkingDay(d) {
			n--
		}
	}
	return endOfDay(d)
}

// WorkingDaysBetween counts the working days after the day of from up to
// and including the day of to (0 when to is not after from): the number
// of working days AddWorkingDays would have to add to reach to's day.
func (sp Span) WorkingDaysBetween(from, to time.Time) int {
	a, b := clock.BeijingDay(from), clock.BeijingDay(to)
	n := 0
	for d := a.AddDate(0, 0, 1); !d.After(b); d = d.AddDate(0, 0, 1) {
		if sp.IsWorkingDay(d) {
			n++
		}
	}
	return n
}

func endOfDay(d time.Time) time.Time { return d.AddDate(0, 0, 1).Add(-time.Microsecond) }

// AddWorkingDays is Span.AddWorkingDays over the stored calendar: it
// loads the rows the answer can depend on (a generous stretch after t) in
// one query.
func (s *Service) AddWorkingDays(ctx context.Context, t time.Time, n int) (time.Time, error) {
	sp, err := s.Load(ctx, t, t.AddDate(0, 0, 2*max(n, 0)+40))
	if err != nil {
		return time.Time{}, err
	}
	return sp.AddWorkingDays(t, n), nil
}

// IsWorkingDay reports whether the Beijing day of t is a working day.
func (s *Service) IsWorkingDay(ctx context.Context, t time.Time) (bool, error) {
	sp, err := s.Load(ctx, t, t)
	if err != nil {
		return false, err
	}
	return sp.IsWorkingDay(t), nil
}

// WorkingDaysBetween counts the working days after the day of from up to
// and including the day of to.
func (s *Service) WorkingDaysBetween(ctx context.Context, from, to time.Time) (int, error) {
	sp, err := s.Load(ctx, from, to)
	if err != nil {
		return 0, err
	}
	return sp.WorkingDaysBetween(from, to), nil
}
