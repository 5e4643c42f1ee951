// Package statsreport keeps the office's saved statistics queries and
// scheduled reports (docs/statistics.md, "Saved queries and scheduled
// reports"): a pivot query or a ready report saved under a name, run on a
// daily or weekly schedule by a durable job as its owner, the produced
// Excel file (suppressed for leaving the office) kept 12 months in the
// download area and announced by mail to the subscribers.
//
// It owns stats_saved, stats_subscribers and stats_report_files. The
// queries themselves are answered by a Runner that app.go plugs in (the
// statistics engine for kind "query", package reports for kind "report").
package statsreport

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	"jifen/internal/platform/mail"
	"jifen/internal/stats"
)

// Kinds of saved query.
const (
	KindQuery  = "query"  // a stats.Query, as JSON
	KindReport = "report" // a ready report: {"code":…,"params":{…}}
)

// Schedules.
const (
	Manual = ""       // run only on demand
	Daily  = "daily"  // every day at Hour, Beijing time
	Weekly = "weekly" // every week on Weekday at Hour, Beijing time
)

// MaxNameLen is the longest name, in characters.
const MaxNameLen = 60

// Retention is how long a produced file is kept.
const Retention = 12 // months

// DefaultSuppressBelow is the small-cell threshold of files that leave the
// office when the Service is given none.
const DefaultSuppressBelow = 5

// Runner answers a saved query as the actor given. kind is KindQuery (spec
// is a stats.Query as JSON) or KindReport (spec is {"code":…,"params":{…}}).
type Runner interface {
	Run(ctx context.Context, by actor.Actor, kind, spec string) (*stats.Result, error)
}

// Users finds accounts: the owner a job runs as, the subscribers mailed.
// *account.Service is one.
type Users interface {
	UserByID(ctx context.Context, id int64) (*account.User, error)
	UserByLogin(ctx context.Context, login string) (*account.User, error)
}

// Service is the saved queries, their schedules and their files.
type Service struct {
	db     *db.DB
	audit  *audit.Log
	clock  clock.Clock
	users  Users
	outbox *mail.Outbox
	runner Runner
	jobs   *jobs.Jobs

	// OfficeURL is the office site's address for the link in the mail
	// (the download area), without a trailing slash.
	OfficeURL string
	// SuppressBelow is the small-cell threshold applied to every file.
	SuppressBelow int
}

// New returns the service. Register must be called before j is started
// for the schedules and the files to be produced.
func New(d *db.DB, a *audit.Log, c clock.Clock, users Users, outbox *mail.Outbox, runner Runner, j *jobs.Jobs) *Service {
	return &Service{db: d, audit: a, clock: c, users: users, outbox: outbox, runner: runner, jobs: j,
		SuppressBelow: DefaultSuppressBelow}
}

// SetRunner replaces the runner (app.go's wiring, tests); call it before
// the jobs start.
func (s *Service) SetRunner(r Runner) { s.runner = r }

// Saved is a saved query.
type Saved struct {
	ID        int64
	OwnerID   int64
	Name      string
	Kind      string
	Spec      string
	Scope     string // the owner's district when saved; "" for the city
	Schedule  string
	Weekday   int // 1 Monday … 7 Sunday, for Weekly
	Hour      int // 0–23, Beijing time
	NextRunAt time.Time
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ScheduleName is the schedule in Chinese, for pages and mail.
func (s *Saved) ScheduleName() string {
	switch s.Schedule {
	case Daily:
		return fmt.Sprintf("每天 %02d:00", s.Hour)
	case Weekly:
		return fmt.Sprintf("每%s %02d:00", WeekdayName(s.Weekday), s.Hour)
	}
	return "不定期（手动运行）"
}

// WeekdayName is 周一 … 周日 for 1 … 7.
func WeekdayName(d int) string {
	names := []string{"周一", "周二", "周三", "周四", "周五", "周六", "周日"}
	if d < 1 || d > 7 {
		return ""
	}
	return names[d-1]
}

// Timing is a schedule as edited.
type Timing struct {
	Schedule string
	Weekday  int
	Hour     int
}

func (t Timing) validate() []apperr.FieldError {
	var fs []apperr.FieldError
	switch t.Schedule {
	case Manual, Daily, Weekly:
	default:
		fs = append(fs, apperr.FieldError{Field: "schedule", Message: "运行周期只能是不定期、每天或每周"})
	}
	if t.Schedule == Weekly && (t.Weekday < 1 || t.Weekday > 7) {
		fs = append(fs, apperr.FieldError{Field: "weekday", Message: "请选择每周的星期几（周一至周日）"})
	}
	if t.Hour < 0 || t.Hour > 23 {
		fs = append(fs, apperr.FieldError{Field: "hour", Message: "运行时刻应为 0 到 23 点（北京时间）"})
	}
	return fs
}

func validateName(name string) []apperr.FieldError {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return []apperr.FieldError{{Field: "name", Message: "请填写名称"}}
	case n > MaxNameLen:
		return []apperr.FieldError{{Field: "name", Message: fmt.Sprintf("名称不能超过 %d 个字", MaxNameLen)}}
	}
	return nil
}

// reportSpec is the spec of a ready report.
type reportSpec struct {
	Code   string            `json:"code"`
	Params map[string]string `json:"params"`
}

// QuerySpec is the spec of a pivot query.
func QuerySpec(q stats.Query) string {
	b, _ := json.Marshal(q) // a struct of strings cannot fail
	return string(b)
}

// ReportSpec is the spec of a ready report.
func ReportSpec(code string, params map[string]string) string {
	if params == nil {
		params = map[string]string{}
	}
	b, _ := json.Marshal(reportSpec{Code: code, Params: params})
	return string(b)
}

func validateSpec(kind, spec string) []apperr.FieldError {
	switch kind {
	case KindQuery:
		var q stats.Query
		if json.Unmarshal([]byte(spec), &q) != nil {
			return []apperr.FieldError{{Field: "query", Message: "统计查询无法读取，请在统计页面重新设置后保存"}}
		}
	case KindReport:
		var r reportSpec
		if json.Unmarshal([]byte(spec), &r) != nil || strings.TrimSpace(r.Code) == "" {
			return []apperr.FieldError{{Field: "code", Message: "请选择报表"}}
		}
	default:
		return []apperr.FieldError{{Field: "kind", Message: "类型只能是统计查询或固定报表"}}
	}
	return nil
}

// mayUse reports whether an actor may use statistics at all: officers of
// a district or of the city.
func mayUse(by actor.Actor) bool {
	return by.Can(actor.PermCasesDistrict) || by.Can(actor.PermCasesCity)
}

func requireUse(by actor.Actor) error {
	if !mayUse(by) {
		return apperr.New(apperr.Forbidden, "您没有使用统计报表的权限")
	}
	return nil
}

// scopeOf is the district an actor's statistics are limited to ("" for
// the city).
func scopeOf(by actor.Actor) string {
	if by.Can(actor.PermCasesCity) {
		return ""
	}
	return by.District
}

// Save saves a query of by's under a name, with its schedule.
func (s *Service) Save(ctx context.Context, by actor.Actor, name, kind, spec string, t Timing) (*Saved, error) {
	if err := requireUse(by); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	fs := append(validateName(name), validateSpec(kind, spec)...)
	fs = append(fs, t.validate()...)
	if err := apperr.Fields(fs); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	next := NextRun(t.Schedule, t.Weekday, t.Hour, now)
	var id int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		err := s.db.QueryRow(ctx, `INSERT INTO stats_saved (owner_id, name, kind, spec, scope, schedule, weekday, hour,
			next_run_at, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) RETURNING id`,
			by.UserID, name, kind, spec, scopeOf(by), t.Schedule, weekdayOrDefault(t.Weekday), t.Hour, micros(next),
			db.Micros(now)).Scan(&id)
		if db.IsUniqueViolation(err) {
			return errNameTaken
		}
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "stats.saved.create", ObjectType: "stats_saved",
			ObjectID: fmt.Sprint(id), Reason: name})
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, by, id)
}

var errNameTaken = apperr.Field("name", "您已有同名的统计查询，请换一个名称")

func weekdayOrDefault(d int) int {
	if d < 1 || d > 7 {
		return 1
	}
	return d
}

// micros is t as stored, the zero time as 0 (no next run).
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return db.Micros(t)
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return db.FromMicros(us)
}

const savedColumns = `id, owner_id, name, kind, spec, scope, schedule, weekday, hour, next_run_at, version, created_at, updated_at`

func scanSaved(row interface{ Scan(...any) error }) (*Saved, error) {
	var v Saved
	var next, created, updated int64
	if err := row.Scan(&v.ID, &v.OwnerID, &v.Name, &v.Kind, &v.Spec, &v.Scope, &v.Schedule, &v.Weekday, &v.Hour,
		&next, &v.Version, &created, &updated); err != nil {
		return nil, err
	}
	v.NextRunAt, v.CreatedAt, v.UpdatedAt = fromMicros(next), db.FromMicros(created), db.FromMicros(updated)
	return &v, nil
}

var errNotFound = &apperr.Error{Code: apperr.NotFound, Message: "该统计查询不存在或已删除", Err: db.ErrNotFound}

func (s *Service) load(ctx context.Context, id int64) (*Saved, error) {
	v, err := scanSaved(s.db.QueryRow(ctx, `SELECT `+savedColumns+` FROM stats_saved WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	return v, err
}

// Get returns one of by's saved queries; a city officer may read anyone's.
func (s *Service) Get(ctx context.Context, by actor.Actor, id int64) (*Saved, error) {
	if err := requireUse(by); err != nil {
		return nil, err
	}
	v, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if v.OwnerID != by.UserID && !by.Can(actor.PermCasesCity) {
		return nil, errNotFound // another's query is not revealed to exist
	}
	return v, nil
}

// owned loads a saved query that by owns, for a change.
func (s *Service) owned(ctx context.Context, by actor.Actor, id int64) (*Saved, error) {
	if err := requireUse(by); err != nil {
		return nil, err
	}
	v, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if v.OwnerID != by.UserID {
		return nil, apperr.New(apperr.Forbidden, "只有创建人可以修改该统计查询")
	}
	return v, nil
}

// Mine lists by's saved queries by name.
func (s *Service) Mine(ctx context.Context, by actor.Actor) ([]*Saved, error) {
	if err := requireUse(by); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+savedColumns+` FROM stats_saved WHERE owner_id = $1 ORDER BY name, id`, by.UserID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Saved
	for rows.Next() {
		v, err := scanSaved(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

var errChanged = apperr.New(apperr.Conflict, "该统计查询已被修改，请刷新页面后重试")

// Edit renames a saved query and sets its schedule, if it is still at
// version; the next run is computed from now.
func (s *Service) Edit(ctx context.Context, by actor.Actor, id int64, version int, name string, t Timing) (*Saved, error) {
	if _, err := s.owned(ctx, by, id); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if err := apperr.Fields(append(validateName(name), t.validate()...)); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `UPDATE stats_saved SET name = $1, schedule = $2, weekday = $3, hour = $4, next_run_at = $5,
			version = version + 1, updated_at = $6 WHERE id = $7 AND version = $8`,
			name, t.Schedule, weekdayOrDefault(t.Weekday), t.Hour, micros(NextRun(t.Schedule, t.Weekday, t.Hour, now)),
			db.Micros(now), id, version)
		if db.IsUniqueViolation(err) {
			return errNameTaken
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, errChanged)
		}
		return s.audit.Record(ctx, audit.Entry{Action: "stats.saved.edit", ObjectType: "stats_saved",
			ObjectID: fmt.Sprint(id), Reason: name + "; " + t.Schedule})
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, by, id)
}

// Delete removes a saved query and its subscribers, if still at version.
// Its files stay in the download area until they expire.
func (s *Service) Delete(ctx context.Context, by actor.Actor, id int64, version int) error {
	v, err := s.owned(ctx, by, id)
	if err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `DELETE FROM stats_saved WHERE id = $1 AND version = $2`, id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(err, errChanged)
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM stats_subscribers WHERE saved_id = $1`, id); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "stats.saved.delete", ObjectType: "stats_saved",
			ObjectID: fmt.Sprint(id), Reason: v.Name})
	})
}
