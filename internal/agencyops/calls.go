package agencyops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"jifen/internal/agency"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// Call is one row of the call log: no personal data, only the digest of
// the answer and the range of application ids of the batch.
type Call struct {
	ID         int64
	At         time.Time
	Agency     string
	Kind       string // one of CallKinds
	RunID      int64
	JobID      int64
	AppFrom    int64
	AppTo      int64
	Subjects   int
	Attempt    int
	Latency    time.Duration
	HTTPStatus int
	Status     string
	Error      string
	Digest     string
}

// AgencyName and StatusName are for templates.
func (c Call) AgencyName() string { return agency.Name(c.Agency) }

// KindName is the call's kind in Chinese.
func (c Call) KindName() string {
	if n := CallKindNames[c.Kind]; n != "" {
		return n
	}
	return "查询"
}

// StatusName is the Chinese name of the call's status.
func (c Call) StatusName() string { return StatusName(c.Status) }

const callColumns = `id, at, agency, kind, run_id, job_id, app_from, app_to, subjects, attempt, latency_us,
	http_status, status, error, digest`

func scanCall(s scanner) (Call, error) {
	var c Call
	var at, lat int64
	if err := s.Scan(&c.ID, &at, &c.Agency, &c.Kind, &c.RunID, &c.JobID, &c.AppFrom, &c.AppTo, &c.Subjects, &c.Attempt,
		&lat, &c.HTTPStatus, &c.Status, &c.Error, &c.Digest); err != nil {
		return Call{}, err
	}
	c.At = db.FromMicros(at)
	c.Latency = time.Duration(lat) * time.Microsecond
	return c, nil
}

// CallFilter selects calls. Zero fields match everything.
type CallFilter struct {
	From, To time.Time // To is exclusive
	Agency   string
	Kind     string
	Status   string
	AppID    int64 // calls whose batch covers this application id
	RunID    int64
	// Keyset paging, newest first: calls before (BeforeAt, BeforeID) in the
	// order (at, id), i.e. the last call of the previous page.
	BeforeAt time.Time
	BeforeID int64
	Limit    int // default 100, at most 1000
}

// CallKinds are the kinds of call the log holds: a round run's query, an
// applicant's pre-check, the single checks of an employer and of an
// identity, and the health probe.
var CallKinds = []string{"query", "precheck", "employer", "identity", "probe"}

// CallKindNames are the kinds in Chinese.
var CallKindNames = map[string]string{"query": "比对查询", "precheck": "预核验", "employer": "单位核验", "identity": "身份核验", "probe": "探测"}

// Page sizes of SearchCalls.
const (
	DefaultCallLimit = 100
	MaxCallLimit     = 1000
)

func (f CallFilter) where() (*db.Where, error) {
	var fe []apperr.FieldError
	if f.Agency != "" && !agency.Known(f.Agency) {
		fe = append(fe, apperr.FieldError{Field: "agency", Message: "没有该委办局"})
	}
	if f.Kind != "" && !slices.Contains(CallKinds, f.Kind) {
		fe = append(fe, apperr.FieldError{Field: "kind", Message: "调用类型只能是 query（比对查询）、precheck（预核验）、employer（单位核验）、" +
			"identity（身份核验）或 probe（探测）"})
	}
	if f.Status != "" && !slices.Contains(Statuses, f.Status) {
		fe = append(fe, apperr.FieldError{Field: "status", Message: "调用结果只能是 " + strings.Join(Statuses, "、") + " 之一"})
	}
	if f.AppID < 0 {
		fe = append(fe, apperr.FieldError{Field: "app", Message: "申请编号应为正整数"})
	}
	if f.RunID < 0 {
		fe = append(fe, apperr.FieldError{Field: "run", Message: "比对批次编号应为正整数"})
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		fe = append(fe, apperr.FieldError{Field: "to", Message: "结束时间应晚于开始时间"})
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}
	w := &db.Where{}
	add := func(cond string, v any) { w.And(cond, v) }
	if !f.From.IsZero() {
		add("at >= ?", db.Micros(f.From))
	}
	if !f.To.IsZero() {
		add("at < ?", db.Micros(f.To))
	}
	if f.Agency != "" {
		add("agency = ?", f.Agency)
	}
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.AppID > 0 {
		// Probes carry no applications (app_from 0) and are most of the log:
		// the lower bound keeps them out of the index range.
		add("app_from BETWEEN 1 AND ?", f.AppID)
		add("app_to >= ?", f.AppID)
	}
	if f.RunID > 0 {
		add("run_id = ?", f.RunID)
	}
	if f.BeforeID > 0 {
		// A row value, so that both engines walk the (at) and (agency, at)
		// indexes backwards from the cursor instead of sorting every match.
		w.And("(at, id) < (?, ?)", db.Micros(f.BeforeAt), f.BeforeID)
	}
	return w, nil
}

// SearchCalls returns the matching calls, newest first (by time, then id),
// at most f.Limit. The next page is the same filter with BeforeAt and
// BeforeID set to the last call's time and id.
func (s *Service) SearchCalls(ctx context.Context, f CallFilter) ([]Call, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultCallLimit
	}
	f.Limit = min(f.Limit, MaxCallLimit)
	w, err := f.where()
	if err != nil {
		return nil, err
	}
	// Newest first walks the (at) or (agency, at) index backwards and stops
	// after a page. When the matches are few and spread over the year (an
	// application's calls; failures when no agency is named), walking the
	// index means visiting a table row per index entry until the page fills,
	// which may be the whole year: then the app index, or a plain table scan,
	// and a sort of the few matches are far cheaper. The unary plus (a no-op
	// on both engines) keeps the planner off the at index.
	order := ` ORDER BY at DESC, id DESC`
	if f.AppID > 0 || (f.Status != "" && f.Status != StatusOK && f.Agency == "" && f.From.IsZero() && f.To.IsZero()) {
		order = ` ORDER BY +at DESC, +id DESC`
	}
	return s.queryCalls(ctx, "search calls", `SELECT `+callColumns+` FROM check_calls`+w.SQL()+order+` LIMIT `+w.Arg(f.Limit), w.Args()...)
}

// queryCalls runs a query of callColumns and reads every call it returns.
func (s *Service) queryCalls(ctx context.Context, what, q string, args ...any) ([]Call, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []Call
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// purgeChunk is how many calls one DELETE removes, so a purge after a long
// pause never holds SQLite's single writer for long.
const purgeChunk = 5000

// PurgeCalls deletes calls made before the cutoff (a call at exactly the
// cutoff stays), in chunks of purgeChunk, and returns how many it deleted.
func (s *Service) PurgeCalls(ctx context.Context, before time.Time) (int64, error) {
	cutoff := db.Micros(before)
	var total int64
	for {
		res, err := s.db.Exec(ctx, `DELETE FROM check_calls WHERE id IN
			(SELECT id FROM check_calls WHERE at < $1 ORDER BY id LIMIT $2)`, cutoff, purgeChunk)
		if err != nil {
			return total, fmt.Errorf("purge calls: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < purgeChunk || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
