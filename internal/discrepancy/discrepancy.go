// Package discrepancy is the queue of cross-check discrepancies (数据比对结果
// 排查): what the agencies hold differs from what an applicant declared, or
// the agencies found nothing. The cross-check engine (internal/check) opens a
// discrepancy per application and check item; this package holds everything
// that happens to it afterwards. A district officer of the employer's
// district accepts the agency's value, asks the applicant for material
// (补充材料) with a deadline, or proposes to keep the declared value; a second
// officer approves that override (four eyes), and the application is then
// re-scored with the declared facts of every overridden item.
//
// Every action is one transaction with its audit record (and the e-mail it
// causes); each checks the status it starts from, so a double click or a
// stale page gets a conflict instead of acting twice.
package discrepancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
	"jifen/internal/rules"
)

// Status is where a discrepancy stands.
type Status string

// The statuses. Cleared is set by the cross-check engine when a later run
// finds the item matching.
const (
	Open              Status = "open"
	MaterialRequested Status = "material_requested"
	MaterialReceived  Status = "material_received"
	OverridePending   Status = "override_pending"
	Accepted          Status = "accepted"
	Overridden        Status = "overridden"
	Cleared           Status = "cleared"
)

// Statuses lists every status in the order of the queue's tabs.
var Statuses = []Status{Open, MaterialRequested, MaterialReceived, OverridePending, Accepted, Overridden, Cleared}

var statusNames = map[Status]string{
	Open: "待处理", MaterialRequested: "待补充材料", MaterialReceived: "材料已提交", OverridePending: "更正待审批",
	Accepted: "以比对结果为准", Overridden: "已更正为申报值", Cleared: "复核一致",
}

// StatusName is the Chinese name of a status.
func StatusName(s Status) string { return statusNames[s] }

// Outcomes of a check item that open a discrepancy.
const (
	Mismatch = "mismatch"
	NotFound = "not_found"
)

// OutcomeName is the Chinese name of a check outcome.
func OutcomeName(o string) string {
	return map[string]string{Mismatch: "与申报不一致", NotFound: "部门无记录"}[o]
}

// Service manages discrepancies.
type Service struct {
	db     *db.DB
	audit  *audit.Log
	clock  clock.Clock
	outbox *mail.Outbox
	apps   *application.Service
}

// NewService returns the discrepancy service; out may be nil (no e-mail).
// apps writes the re-scored application (the application package owns its
// table).
func NewService(d *db.DB, a *audit.Log, c clock.Clock, out *mail.Outbox, apps *application.Service) *Service {
	return &Service{db: d, audit: a, clock: c, outbox: out, apps: apps}
}

// ErrNotFound is the answer for a discrepancy that does not exist or that
// the viewer may not see: the two are not told apart.
var ErrNotFound = apperr.New(apperr.NotFound, "比对差异记录不存在")

// Item is one discrepancy with the names a queue shows.
type Item struct {
	ID             int64
	ApplicationID  int64
	RunID          int64
	CheckItem      string
	Outcome        string
	Declared       string // JSON of the declared Part
	Verified       string // JSON of the verified Part
	District       string
	Status         Status
	Deadline       time.Time // of a material request; zero if none
	RequestNote    string
	MaterialNote   string
	MaterialAt     time.Time
	OverrideReason string
	OverrideBy     int64
	ApprovedBy     int64
	DecidedBy      int64
	DecidedAt      time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time

	PersonID     int64
	PersonName   string
	EmployerName string
}

// ItemName is the Chinese name of the check item.
func (it *Item) ItemName() string { return rules.CheckItemName(it.CheckItem) }

// StatusName is the Chinese name of the item's status.
func (it *Item) StatusName() string { return StatusName(it.Status) }

// OutcomeName is the Chinese name of the item's outcome.
func (it *Item) OutcomeName() string { return OutcomeName(it.Outcome) }

// Overdue reports whether a material request's deadline has passed at now.
func (it *Item) Overdue(now time.Time) bool {
	return it.Status == MaterialRequested && !it.Deadline.IsZero() && now.After(it.Deadline)
}

const selectItem = `SELECT d.id, d.application_id, d.run_id, d.item, d.outcome, d.declared, d.verified, d.district, d.status,
	d.deadline, d.request_note, d.material_note, d.material_at, d.override_reason, d.override_by, d.approved_by, d.decided_by,
	d.decided_at, d.created_at, d.updated_at, a.person_id, p.name, e.name
	FROM discrepancies d JOIN applications a ON a.id = d.application_id JOIN persons p ON p.id = a.person_id
	JOIN employers e ON e.id = a.employer_id`

func scanItem(row interface{ Scan(...any) error }) (*Item, error) {
	it := &Item{}
	var st string
	var dl, ma, da, ca, ua int64
	if err := row.Scan(&it.ID, &it.ApplicationID, &it.RunID, &it.CheckItem, &it.Outcome, &it.Declared, &it.Verified, &it.District,
		&st, &dl, &it.RequestNote, &it.MaterialNote, &ma, &it.OverrideReason, &it.OverrideBy, &it.ApprovedBy, &it.DecidedBy,
		&da, &ca, &ua, &it.PersonID, &it.PersonName, &it.EmployerName); err != nil {
		return nil, err
	}
	it.Status = Status(st)
	it.Deadline, it.MaterialAt, it.DecidedAt = db.FromMicros(dl), db.FromMicros(ma), db.FromMicros(da)
	it.CreatedAt, it.UpdatedAt = db.FromMicros(ca), db.FromMicros(ua)
	return it, nil
}

// load reads one discrepancy, locking it on PostgreSQL when ctx carries a
// transaction.
func (s *Service) load(ctx context.Context, id int64) (*Item, error) {
	q := selectItem + ` WHERE d.id = $1`
	if db.InTx(ctx) {
		q += s.db.ForUpdate()
		if s.db.ForUpdate() != "" {
			q += " OF d"
		}
	}
	it, err := scanItem(s.db.QueryRow(ctx, q, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return it, nil
}

// districtOf is the district a viewer is limited to: "" for the city bureau,
// the officer's own district otherwise. ok is false for anyone who may not
// see the queue at all.
func districtOf(v actor.Actor) (district string, ok bool) {
	switch {
	case v.Can(actor.PermCasesCity):
		return "", true
	case v.Can(actor.PermCasesDistrict) && v.District != "":
		return v.District, true
	}
	return "", false
}

// CanSee reports whether viewer may see and act on discrepancies of district.
func CanSee(viewer actor.Actor, district string) bool {
	d, ok := districtOf(viewer)
	return ok && (d == "" || d == district)
}

// getFor reads a discrepancy the viewer may see; anything else is
// ErrNotFound.
func (s *Service) getFor(ctx context.Context, viewer actor.Actor, id int64) (*Item, error) {
	it, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSee(viewer, it.District) {
		return nil, ErrNotFound
	}
	return it, nil
}

// record appends the audit entry of an action on a discrepancy.
func (s *Service) record(ctx context.Context, by actor.Actor, action string, id int64, reason string) error {
	e := audit.Entry{Action: action, ObjectType: "discrepancy", ObjectID: strconv.FormatInt(id, 10), Reason: reason,
		ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role())}
	if err := s.audit.Record(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
