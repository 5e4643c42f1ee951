// Package fraud is the fraud register (虚假材料库): persons who submitted
// false material and employers that helped them. DOMAIN.md §3: such a person
// loses the right to apply in the year of the decision and the next five;
// such an employer is barred from filing for the same period.
//
// An entry names its subject — a person found by ID number through the
// person package's blind index, or an employer by its unified social credit
// code — what was false, the date of the decision and the ban's years. An
// officer proposes it (district officers for applicants and employers of
// their district, city officers for all); it takes effect only when a second
// officer approves it, never the proposer (four eyes, as overrides of the
// discrepancy queue). Every change is one transaction with its audit entry,
// conditional on the status and version it read, so of two approvers at once
// exactly one wins.
//
// What an entry in force does is decided by its readers: the application
// service refuses a banned person's submission and a banned employer's
// filing (through application.Bans, which Service implements), the case
// view shows the entries (ForApplication), and the ranking leaves out
// banned persons' applications with the reason on their statement
// (BannedPersons). An employer's ban bars filing only (DOMAIN.md §3):
// applications it filed before the ban stay in the round and are ranked,
// unless their applicant is banned as well.
package fraud

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
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
	"jifen/internal/rules"
)

// Kind is what an entry is about.
type Kind string

// The kinds.
const (
	Person   Kind = "person"
	Employer Kind = "employer"
)

// KindName is the Chinese name of a kind.
func KindName(k Kind) string {
	return map[Kind]string{Person: "申请人", Employer: "用人单位"}[k]
}

// Status is where an entry stands.
type Status string

// The statuses: an entry waits for a second officer, then is in force
// (until its last ban year passes) or was rejected.
const (
	Pending  Status = "pending"
	InForce  Status = "in_force"
	Rejected Status = "rejected"
)

// Statuses lists every status in the order of the list's tabs.
var Statuses = []Status{Pending, InForce, Rejected}

var statusNames = map[Status]string{Pending: "待审批", InForce: "已生效", Rejected: "已驳回"}

// StatusName is the Chinese name of a status.
func StatusName(s Status) string { return statusNames[s] }

// BanYears is how many years after the decision's year the ban lasts: the
// decision's year and the next five (DOMAIN.md §3).
const BanYears = 5

// Entry is one entry of the register.
type Entry struct {
	ID          int64     `json:"id"`
	Kind        Kind      `json:"kind"`
	PersonID    int64     `json:"person_id,omitempty"`
	EmployerID  int64     `json:"employer_id,omitempty"`
	SubjectName string    `json:"subject_name"`
	District    string    `json:"district"` // "" for an entry only the city bureau handles
	Item        string    `json:"item"`     // the check item (indicator) concerned, "" if none
	What        string    `json:"what"`     // what was false
	DecidedOn   string    `json:"decided_on"`
	BanFrom     int       `json:"ban_from_year"`
	BanTo       int       `json:"ban_to_year"`
	Status      Status    `json:"status"`
	Version     int       `json:"version"`
	ProposedBy  int64     `json:"proposed_by"`
	ProposedAt  time.Time `json:"proposed_at"`
	DecidedBy   int64     `json:"decided_by,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	Note        string    `json:"decision_note,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// KindName is the Chinese name of the entry's kind.
func (e *Entry) KindName() string { return KindName(e.Kind) }

// StatusName is the Chinese name of the entry's status.
func (e *Entry) StatusName() string { return StatusName(e.Status) }

// ItemName is the Chinese name of the item concerned, "" if none.
func (e *Entry) ItemName() string { return rules.CheckItemName(e.Item) }

// Bans reports whether the entry bars its subject in year.
func (e *Entry) Bans(year int) bool {
	return e.Status == InForce && e.BanFrom <= year && year <= e.BanTo
}

// Reason is the ban in words, as the ranking's statement, the refusals and
// the pages give it.
func (e *Entry) Reason() string { return banReason(e.Kind, e.BanFrom, e.BanTo) }

func banReason(k Kind, from, to int) string {
	if k == Employer {
		return fmt.Sprintf("因协助提供虚假材料，%d年至%d年不得提交积分落户申请", from, to)
	}
	return fmt.Sprintf("因提供虚假材料，%d年至%d年不得申报", from, to)
}

// Service keeps the register.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	clock   clock.Clock
	outbox  *mail.Outbox
	persons *person.Service
	apps    *application.Service
	// afterLoad, when set (tests only, export_test.go), runs inside an
	// action's transaction right after the entry was read: a concurrency
	// test holds every approver there until all have read the same row.
	afterLoad func()
}

// NewService returns the register; out may be nil (no e-mail). persons
// finds an applicant by ID number through its blind index; apps writes the
// line a ban puts on the timeline of the cases it stops (the application
// package owns the timeline).
func NewService(d *db.DB, a *audit.Log, c clock.Clock, out *mail.Outbox, persons *person.Service, apps *application.Service) *Service {
	return &Service{db: d, audit: a, clock: c, outbox: out, persons: persons, apps: apps}
}

// ErrNotFound is the answer for an entry that does not exist or that the
// viewer may not see: the two are not told apart.
var ErrNotFound = apperr.New(apperr.NotFound, "虚假材料库记录不存在")

const selectEntry = `SELECT id, kind, person_id, employer_id, subject_name, district, item, what, decided_on, ban_from_year,
	ban_to_year, status, version, proposed_by, proposed_at, decided_by, decided_at, decision_note, updated_at FROM fraud_entries`

func scanEntry(row interface{ Scan(...any) error }) (*Entry, error) {
	e := &Entry{}
	var kind, st string
	var pa, da, ua int64
	if err := row.Scan(&e.ID, &kind, &e.PersonID, &e.EmployerID, &e.SubjectName, &e.District, &e.Item, &e.What, &e.DecidedOn,
		&e.BanFrom, &e.BanTo, &st, &e.Version, &e.ProposedBy, &pa, &e.DecidedBy, &da, &e.Note, &ua); err != nil {
		return nil, err
	}
	e.Kind, e.Status = Kind(kind), Status(st)
	e.ProposedAt, e.DecidedAt, e.UpdatedAt = db.FromMicros(pa), db.FromMicros(da), db.FromMicros(ua)
	return e, nil
}

func (s *Service) load(ctx context.Context, id int64) (*Entry, error) {
	e, err := scanEntry(s.db.QueryRow(ctx, selectEntry+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return e, nil
}

// scope is the district a viewer is limited to: "" for the city bureau,
// the officer's own district otherwise. ok is false for anyone who may not
// see the register at all.
func scope(v actor.Actor) (district string, ok bool) {
	switch {
	case v.Can(actor.PermCasesCity):
		return "", true
	case v.Can(actor.PermCasesDistrict) && v.District != "":
		return v.District, true
	}
	return "", false
}

// CanSee reports whether viewer may see and act on an entry of district.
func CanSee(viewer actor.Actor, district string) bool {
	d, ok := scope(viewer)
	return ok && (d == "" || d == district)
}

// errDenied marks an entry of another district: the caller sees
// ErrNotFound, and the refusal is audited once the transaction is over.
var errDenied = &apperr.Error{Code: apperr.NotFound, Message: ErrNotFound.Message, Err: errors.New("entry of another district")}

func (s *Service) getFor(ctx context.Context, viewer actor.Actor, id int64) (*Entry, error) {
	if _, ok := scope(viewer); !ok {
		return nil, ErrNotFound
	}
	e, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !CanSee(viewer, e.District) {
		return nil, errDenied
	}
	return e, nil
}

// denied records a refused access in the audit trail (outside the
// transaction that found it, which is rolled back) and returns
// ErrNotFound in its place.
func (s *Service) denied(ctx context.Context, by actor.Actor, id int64, err error) error {
	if err != errDenied {
		return err
	}
	_ = s.audit.Record(ctx, audit.Entry{ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()),
		ClientAddr: by.ClientAddr, RequestID: by.RequestID, Action: "access.denied", ObjectType: "fraud_entry",
		ObjectID: strconv.FormatInt(id, 10), Outcome: audit.Denied, Reason: "entry of another district"})
	return ErrNotFound
}

// Get returns an entry the viewer may see; another district's is
// ErrNotFound, audited.
func (s *Service) Get(ctx context.Context, viewer actor.Actor, id int64) (*Entry, error) {
	e, err := s.getFor(ctx, viewer, id)
	return e, s.denied(ctx, viewer, id, err)
}

// record appends the audit entry of an action on an entry.
func (s *Service) record(ctx context.Context, by actor.Actor, action string, id int64, reason string) error {
	e := audit.Entry{Action: action, ObjectType: "fraud_entry", ObjectID: strconv.FormatInt(id, 10), Reason: reason,
		ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()), ClientAddr: by.ClientAddr, RequestID: by.RequestID}
	if err := s.audit.Record(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
