// Package casefile is the officers' case view (案件视图): one page with
// everything about one application — the applicant's identity masked unless
// revealed with a reason, the declaration beside the agencies' answers per
// check item, the materials, the score declared against verified, the
// timeline, officers' notes and related cases (same employer, same address,
// same phone). It owns case_notes; everything else it reads, and changes
// nothing but through the owners.
//
// Every open of a case, every reveal and every attachment viewed is a row
// of the audit trail with its purpose (audit.RecordRead for the reads,
// audit.Record for reveals, notes and refusals), and the applicant sees the
// readings (audit.ViewsOf). A district officer sees the cases of employers
// in their district, the city bureau every case; anything else is not
// found, and the attempt is audited.
package casefile

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/check"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Results is what the case view reads of the cross-check: the current
// result of an application (verified facts and outcome per item) and its
// score statement. check.Engine implements it; nil shows no check.
type Results interface {
	ResultOf(ctx context.Context, applicationID int64) (*check.Result, error)
	StatementOf(ctx context.Context, applicationID int64) (*check.Statement, error)
}

// Extra is a section another package adds to the case view: the fraud
// register's entry (虚假材料库), the assignment and service clock. It answers
// nil when it has nothing to show for this application. The viewer has
// already passed the case's access check.
type Extra func(ctx context.Context, viewer actor.Actor, applicationID int64) (*Section, error)

// Section is a titled list of label/value lines, drawn the same way on the
// page and in the JSON answer whatever package made it.
type Section struct {
	Key   string `json:"key"`   // stable name for clients: "fraud", "assignment"
	Title string `json:"title"` // Chinese heading
	Badge string `json:"badge"` // "", ok, warn or err: how the section stands out
	Lines []Line `json:"lines"`
	Href  string `json:"href,omitempty"` // where to act on it
}

// Line is one label and value of a Section.
type Line struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Service is the case view.
type Service struct {
	db       *db.DB
	audit    *audit.Log
	clock    clock.Clock
	apps     *application.Service
	atts     *application.Attachments
	persons  *person.Service
	accounts *account.Service
	results  Results

	// Fraud and Assignment show, near the top of the case, the fraud
	// register's entry and who holds the case until when; Extras show at
	// the end. The lead wires them when those packages exist; nil shows
	// nothing.
	Fraud      Extra
	Assignment Extra
	Extras     []Extra
}

// New returns the case view. results may be nil (no cross-check).
func New(d *db.DB, a *audit.Log, c clock.Clock, apps *application.Service, atts *application.Attachments,
	persons *person.Service, accounts *account.Service, results Results) *Service {
	return &Service{db: d, audit: a, clock: c, apps: apps, atts: atts, persons: persons, accounts: accounts, results: results}
}

// ErrNotFound is the answer for a case that does not exist or that the
// viewer may not see: the two are not told apart.
var ErrNotFound = apperr.New(apperr.NotFound, "案件不存在")

// Purpose is why an officer opens a case; the applicant sees its name.
type Purpose struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Purposes are the purposes an officer may give, the default first.
var Purposes = []Purpose{
	{"handling", "案件办理"}, {"first_check", "初核"}, {"recheck", "复查"}, {"onsite", "现场审核"},
	{"discrepancy", "比对差异排查"}, {"inquiry", "答复申请人咨询"}, {"supervision", "监督检查"},
}

// PurposeOf returns the purpose of code; "" is the default (案件办理), an
// unknown code a field error.
func PurposeOf(code string) (Purpose, error) {
	if code == "" {
		return Purposes[0], nil
	}
	for _, p := range Purposes {
		if p.Code == code {
			return p, nil
		}
	}
	return Purpose{}, apperr.Field("purpose", "请选择查阅目的")
}

// scope is what the access check reads of an application.
type scope struct {
	appID, personID, userID, employerID, roundID int64
	district, address, rulebook                  string
}

// districtOf is the district a viewer is limited to: "" for the city
// bureau, the officer's own district otherwise; ok is false for anyone who
// may not open cases.
func districtOf(v actor.Actor) (district string, ok bool) {
	switch {
	case v.Can(actor.PermCasesCity):
		return "", true
	case v.Can(actor.PermCasesDistrict) && v.District != "":
		return v.District, true
	}
	return "", false
}

// CanSee reports whether viewer may open the cases of employers in district.
func CanSee(viewer actor.Actor, district string) bool {
	d, ok := districtOf(viewer)
	return ok && (d == "" || d == district)
}

// scopeFor reads what the access check needs and applies it: a case the
// viewer may not open, or that does not exist, is ErrNotFound and a denied
// row of the audit trail naming what was tried.
func (s *Service) scopeFor(ctx context.Context, viewer actor.Actor, id int64, action string) (*scope, error) {
	if _, ok := districtOf(viewer); !ok {
		return nil, s.denied(ctx, viewer, id, action, "无办理案件的权限")
	}
	sc := &scope{appID: id}
	err := s.db.QueryRow(ctx, `SELECT a.person_id, p.user_id, a.employer_id, a.round_id, e.district, e.address, r.rulebook
		FROM applications a JOIN persons p ON p.id = a.person_id JOIN employers e ON e.id = a.employer_id
		JOIN rounds r ON r.id = a.round_id WHERE a.id = $1`, id).
		Scan(&sc.personID, &sc.userID, &sc.employerID, &sc.roundID, &sc.district, &sc.address, &sc.rulebook)
	if db.IsNoRows(err) {
		return nil, s.denied(ctx, viewer, id, action, "案件不存在")
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if !CanSee(viewer, sc.district) {
		return nil, s.denied(ctx, viewer, id, action, "案件属"+sc.district+"，不在本人办理范围")
	}
	return sc, nil
}

// denied records a refused access and returns ErrNotFound.
func (s *Service) denied(ctx context.Context, viewer actor.Actor, id int64, action, why string) error {
	if err := s.audit.Record(ctx, s.entry(viewer, action, id, audit.Denied, why)); err != nil {
		return apperr.Wrap(err)
	}
	return ErrNotFound
}

func (s *Service) entry(viewer actor.Actor, action string, id int64, outcome, reason string) audit.Entry {
	return audit.Entry{ActorID: viewer.UserID, ActorLogin: viewer.Login, ActorRole: string(viewer.Role()),
		ClientAddr: viewer.ClientAddr, RequestID: viewer.RequestID, Action: action, ObjectType: "application",
		ObjectID: strconv.FormatInt(id, 10), Outcome: outcome, Reason: reason}
}

// Limits of what officers write.
const (
	MaxNote         = 2000
	MinRevealReason = 4
	MaxRevealReason = 200
)

func text(field, s string, minRunes, maxRunes int, empty string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", apperr.Field(field, empty)
	case n < minRunes:
		return "", apperr.Field(field, fmt.Sprintf("请至少写%d个字", minRunes))
	case n > maxRunes:
		return "", apperr.Field(field, fmt.Sprintf("不能超过%d字", maxRunes))
	}
	return s, nil
}

// actionNames are the Chinese names of the audited actions of the case
// view, for the auditor's pages.
var actionNames = map[string]string{
	audit.ReadCase: "查阅案件", "case.open": "打开案件", "case.reveal": "查看完整身份信息",
	"case.attachment": "查看案件材料", "case.note": "添加经办备注",
}

// ActionName returns the Chinese name of an action of the case view, or
// code itself when it is not one.
func ActionName(code string) string {
	if n, ok := actionNames[code]; ok {
		return n
	}
	return code
}
