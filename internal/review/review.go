// Package review decides 复查 requests: a district officer decides each
// indicator the applicant asked to be re-examined (upheld or rejected, with
// a reason and, where the evidence changed them, the corrected facts),
// may require an in-person check (现场审核) booked by the applicant in a
// slot of the district's service window, and a change of score that the
// decisions cause takes effect only when a second officer approves it.
// Once every indicator is decided and any score change approved or
// rejected, the application becomes final (through internal/application,
// which owns applications and their timeline).
//
// It owns review_cases, review_decisions, score_changes, inspection_slots
// and inspection_bookings.
package review

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Assignments says whether an officer holds a case (internal/casework
// implements it); a nil one means no check.
type Assignments interface {
	RequireAssigned(ctx context.Context, officer actor.Actor, applicationID int64) error
}

// Freezer refuses a change of score once the round is frozen
// (round.Service.RequireUnfrozen).
type Freezer interface {
	RequireUnfrozen(ctx context.Context, roundID int64) error
}

// Service handles 复查 cases and in-person checks.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	clock   clock.Clock
	apps    *application.Service
	blobs   blob.Store
	assign  Assignments
	freezer Freezer
}

// NewService returns the review service. assign and freezer may be nil
// (no assignment check; rounds never frozen).
func NewService(d *db.DB, a *audit.Log, c clock.Clock, apps *application.Service, blobs blob.Store, assign Assignments, freezer Freezer) *Service {
	return &Service{db: d, audit: a, clock: c, apps: apps, blobs: blobs, assign: assign, freezer: freezer}
}

// WithAssignments sets the assignment check (the lead wires casework).
func (s *Service) WithAssignments(a Assignments) *Service { s.assign = a; return s }

// WithFreezer sets the round freeze check.
func (s *Service) WithFreezer(f Freezer) *Service { s.freezer = f; return s }

// ErrNotFound answers a case that does not exist or that the caller may
// not touch: the two are not told apart.
var ErrNotFound = apperr.New(apperr.NotFound, "复查案件不存在")

// errDenied marks a refusal for scope (another district, a case not held):
// the caller sees ErrNotFound; the refusal is audited after the
// transaction (inside it the record would roll back with the refusal).
var errDenied = &apperr.Error{Code: apperr.NotFound, Message: ErrNotFound.Message, Err: errors.New("outside the officer's scope")}

// errRace is the answer when another officer changed the case between
// reading and writing it.
var errRace = apperr.New(apperr.Conflict, "该复查案件已被其他经办人员处理，请刷新页面后查看")

// caseRow is what every action reads of a case first.
type caseRow struct {
	AppID       int64
	RoundID     int64
	Year        int
	PersonID    int64
	District    string
	AppStatus   application.Status
	Indicators  []string // asked to be re-examined
	Reason      string
	Note        string // the employer's evidence note
	ReqStatus   string // requested | forwarded | received
	CaseStatus  string // '' (no step yet) | open | approval | decided
	CaseVersion int
}

func (s *Service) loadCase(ctx context.Context, id int64) (*caseRow, error) {
	c := &caseRow{AppID: id}
	var inds, st string
	err := s.db.QueryRow(ctx, `SELECT a.round_id, r.year, a.person_id, e.district, a.status, rr.indicators, rr.reason, rr.employer_note,
		rr.status, COALESCE(rc.status, ''), COALESCE(rc.version, 0)
		FROM applications a JOIN rounds r ON r.id = a.round_id JOIN employers e ON e.id = a.employer_id
		JOIN review_requests rr ON rr.application_id = a.id LEFT JOIN review_cases rc ON rc.application_id = a.id
		WHERE a.id = $1`, id).Scan(&c.RoundID, &c.Year, &c.PersonID, &c.District, &st, &inds, &c.Reason, &c.Note, &c.ReqStatus,
		&c.CaseStatus, &c.CaseVersion)
	if db.IsNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	c.AppStatus = application.Status(st)
	for _, i := range strings.Split(inds, ",") {
		if i != "" {
			c.Indicators = append(c.Indicators, i)
		}
	}
	return c, nil
}

// inScope reports whether an officer may see a case of district: the city
// bureau every case, a district officer those of the district.
func inScope(officer actor.Actor, district string) bool {
	switch {
	case officer.Can(actor.PermCasesCity):
		return true
	case officer.Can(actor.PermCasesDistrict):
		return officer.District != "" && officer.District == district
	}
	return false
}

// officerCase loads a case an officer may see; work also requires the
// officer to hold it (Assignments).
func (s *Service) officerCase(ctx context.Context, officer actor.Actor, id int64, work bool) (*caseRow, error) {
	if !officer.Can(actor.PermCasesDistrict) && !officer.Can(actor.PermCasesCity) {
		return nil, errDenied
	}
	c, err := s.loadCase(ctx, id)
	if err != nil {
		return nil, err
	}
	if !inScope(officer, c.District) {
		return nil, errDenied
	}
	if work && s.assign != nil {
		if err := s.assign.RequireAssigned(ctx, officer, id); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return nil, errDenied
			}
			return nil, err
		}
	}
	return c, nil
}

// denied audits a refusal for scope and returns err; it runs outside the
// transaction that found it.
func (s *Service) denied(ctx context.Context, id int64, err error) error {
	if errors.Is(err, errDenied) {
		_ = s.audit.Record(ctx, audit.Entry{Action: "access.denied", ObjectType: "review", ObjectID: strconv.FormatInt(id, 10),
			Outcome: audit.Denied, Reason: "非本区或未分配给本人的复查案件"})
		return ErrNotFound
	}
	return err
}

// record appends the audit entry of an action on a case.
func (s *Service) record(ctx context.Context, by actor.Actor, action string, id int64, reason string) error {
	return s.audit.Record(ctx, audit.Entry{Action: action, ObjectType: "review", ObjectID: strconv.FormatInt(id, 10), Reason: reason,
		ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role())})
}

// open requires a case the district has received and that is still under
// review.
func open(c *caseRow) error {
	if c.ReqStatus != "received" {
		return apperr.New(apperr.Conflict, "该复查申请尚未由区人力社保局接收，请先在复查申请列表中接收")
	}
	if c.AppStatus != application.ReviewRequested || c.CaseStatus == "decided" {
		return apperr.New(apperr.Conflict, "该复查案件已办结（当前状态："+application.StatusName(c.AppStatus)+"）")
	}
	return nil
}

// bump is the conditional write every step of a case makes first: the
// case's row at the version the officer saw (created at version 0 on the
// first step). Of two officers acting on one case at once, the second
// finds another version and is refused.
func (s *Service) bump(ctx context.Context, id int64, version int, status string) error {
	now := db.Micros(s.clock.Now())
	if _, err := s.db.Exec(ctx, `INSERT INTO review_cases (application_id, status, version, created_at, updated_at)
		VALUES ($1, 'open', 0, $2, $2) ON CONFLICT (application_id) DO NOTHING`, id, now); err != nil {
		return err
	}
	res, err := s.db.Exec(ctx, `UPDATE review_cases SET version = version + 1, status = $1, updated_at = $2
		WHERE application_id = $3 AND version = $4 AND status <> 'decided'`, status, now, id, version)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errRace
	}
	return nil
}

// actionNames are the Chinese names of the audited actions of this
// package (and of application's steps of a review), for the auditor's
// pages (ui.ActionName).
var actionNames = map[string]string{
	"review.decide": "作出复查决定", "review.score_change": "复查积分调整待审批", "review.approve_change": "审批通过复查积分调整",
	"review.reject_change": "复查积分调整不予审批", "review.require_inspection": "要求现场审核", "review.book": "预约现场审核",
	"review.record_inspection": "记录现场审核结果", "review.evidence_read": "查阅现场审核材料", "review.create_slot": "设置现场审核预约时段",
	"application.finalize_unreviewed": "复查期满未申请复查，审核完成",
}

// ActionName returns the Chinese name of an audited action of a review, or
// the code itself.
func ActionName(code string) string {
	if n, ok := actionNames[code]; ok {
		return n
	}
	return code
}

// Outcome of an indicator's review.
const (
	Upheld   = "upheld"   // the applicant's request stands
	Rejected = "rejected" // the first result stands
)

// OutcomeName is the Chinese name of an outcome.
func OutcomeName(o string) string {
	switch o {
	case Upheld:
		return "支持复查请求"
	case Rejected:
		return "驳回，维持初核结果"
	}
	return o
}

// HalfName is the Chinese name of a half day.
func HalfName(h string) string {
	switch h {
	case "am":
		return "上午"
	case "pm":
		return "下午"
	}
	return h
}

func contains(list []string, v string) bool { return slices.Contains(list, v) }

type auditEntry = audit.Entry

// ReopenForObjection clears the 复查 of application id for a new pass after
// an objection to the published list was upheld (the application package
// has made it review_requested again, in the caller's transaction): the
// earlier decisions and a decided score change are removed from the working
// tables — each was audited and is on the case's timeline when made — and
// the case is open again at a new version. A case never reviewed is left
// as it is: its first pass starts now.
func (s *Service) ReopenForObjection(ctx context.Context, by actor.Actor, id int64, reason string) error {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM review_decisions WHERE application_id = $1`, id).Scan(&n); err != nil {
		return apperr.Wrap(err)
	}
	for _, q := range []string{
		`DELETE FROM review_decisions WHERE application_id = $1`,
		`DELETE FROM score_changes WHERE application_id = $1 AND status <> 'pending'`,
		`UPDATE review_cases SET status = 'open', version = version + 1 WHERE application_id = $1`,
	} {
		if _, err := s.db.Exec(ctx, q, id); err != nil {
			return apperr.Wrap(fmt.Errorf("reopen review %d: %w", id, err))
		}
	}
	return s.record(ctx, by, "review.reopen", id, fmt.Sprintf("公示异议成立，重新复查（此前 %d 项复查决定已存档于审计记录）：%s", n, reason))
}
