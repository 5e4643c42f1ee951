// Package objection handles objections to a published list (异议/举报,
// docs/objections.md). Anyone may lodge one during the list's notice period
// against a row (公示编号) of the current published list, with the grounds,
// an optional contact and an optional attachment (PDF, JPEG or PNG by
// content), and follows it with the receipt number the lodging returns.
// City officers work the queue: assign, investigate (notes on the
// timeline), answer with an outcome. An upheld objection sends its case back
// to case handling through the formal reopening of the frozen round, in the
// officer's transaction (Cases); a dismissed one ends there. The answer and
// outcome are visible with the receipt; the contact and the office's notes
// never are.
//
// Every office step is one transaction with its audit entry, conditional on
// the status and version the officer read, so of two officers answering at
// once exactly one wins.
package objection

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
)

// Lists tells what is published; the publicity snapshot store implements it.
type Lists interface {
	// Notice returns the notice period [start, end) of year's current published list; ok is false
	// when the system has published no list for year (imported past lists have no notice period).
	Notice(year int) (start, end time.Time, ok bool)
	// Has reports whether number (公示编号) is a row of year's current published list.
	Has(year int, number string) bool
}

// Cases sends the case of an upheld objection back to case handling. It runs inside the
// officer's transaction (ctx carries it): it asks for the formal reopening of the frozen round
// (four-eyes, approved by a second city officer) and returns the application to case handling.
type Cases interface {
	ReturnForObjection(ctx context.Context, by actor.Actor, year int, number, receipt, reason string) error
}

// Status is where an objection stands.
type Status string

// The statuses: received, under investigation by an officer, answered.
const (
	Lodged        Status = "lodged"
	Investigating Status = "investigating"
	Answered      Status = "answered"
)

// Statuses lists every status in the order of the queue's tabs.
var Statuses = []Status{Lodged, Investigating, Answered}

var statusNames = map[Status]string{Lodged: "已受理", Investigating: "调查中", Answered: "已答复"}

// StatusName is the Chinese name of a status.
func StatusName(s Status) string { return statusNames[s] }

// Outcome is the conclusion of an answered objection.
type Outcome string

// The outcomes.
const (
	Upheld    Outcome = "upheld"
	Dismissed Outcome = "dismissed"
)

var outcomeNames = map[Outcome]string{Upheld: "成立", Dismissed: "不成立"}

// OutcomeName is the Chinese name of an outcome, "" for none.
func OutcomeName(o Outcome) string { return outcomeNames[o] }

// Objection is one objection as the office sees it.
type Objection struct {
	ID             int64     `json:"id"`
	Receipt        string    `json:"receipt"` // grouped: ABCD-EFGH-JKLM-NPQR
	Year           int       `json:"year"`
	Number         string    `json:"number"`
	Grounds        string    `json:"grounds"`
	Contact        string    `json:"contact,omitempty"` // unsealed for the office only
	AttachmentKey  string    `json:"-"`
	AttachmentType string    `json:"attachment_type,omitempty"`
	AttachmentSize int64     `json:"attachment_size,omitempty"`
	Status         Status    `json:"status"`
	Outcome        Outcome   `json:"outcome,omitempty"`
	Answer         string    `json:"answer,omitempty"`
	AssignedTo     int64     `json:"assigned_to,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	AnsweredAt     time.Time `json:"answered_at,omitzero"`
	AnsweredBy     int64     `json:"answered_by,omitempty"`
	Version        int       `json:"version"`
	UpdatedAt      time.Time `json:"updated_at"`
	Events         []Event   `json:"events,omitempty"` // filled by Detail

	contactEnc string
}

// StatusName is the Chinese name of the objection's status.
func (o *Objection) StatusName() string { return StatusName(o.Status) }

// OutcomeName is the Chinese name of the objection's outcome, "" before
// the answer.
func (o *Objection) OutcomeName() string { return OutcomeName(o.Outcome) }

// Event is one line of an objection's timeline in the office.
type Event struct {
	Kind    string    `json:"kind"`
	ActorID int64     `json:"actor_id,omitempty"`
	Note    string    `json:"note,omitempty"`
	At      time.Time `json:"at"`
}

var eventNames = map[string]string{"lodged": "提出异议", "assigned": "分配经办人员", "note": "调查记录", "answered": "作出答复"}

// KindName is the Chinese name of the event.
func (e Event) KindName() string { return eventNames[e.Kind] }

// Service keeps the objections.
type Service struct {
	db    *db.DB
	audit *audit.Log
	clock clock.Clock
	keys  *crypto.Keyring
	store blob.Store
	pubMu sync.RWMutex // guards lists and cases, which SetPublication may replace
	lists Lists
	cases Cases
	// afterLoad, when set (tests only, export_test.go), runs inside an
	// office step's transaction right after the objection was read: a
	// concurrency test holds every officer there until all have read it.
	afterLoad func()
}

// New returns the service. store keeps the attachments (a store of their
// own: the applications' sweep removes files no attachment row names);
// lists tells what is published; cases sends an upheld objection's case back.
func New(d *db.DB, a *audit.Log, c clock.Clock, keys *crypto.Keyring, store blob.Store, lists Lists, cases Cases) *Service {
	return &Service{db: d, audit: a, clock: c, keys: keys, store: store, lists: lists, cases: cases}
}

// SetPublication replaces what the service consults about the published
// lists and the cases: the application wires the publicity store here once
// it exists, and its tests wire fakes.
func (s *Service) SetPublication(lists Lists, cases Cases) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.lists, s.cases = lists, cases
}

func (s *Service) publication() (Lists, Cases) {
	s.pubMu.RLock()
	defer s.pubMu.RUnlock()
	return s.lists, s.cases
}

// ErrNotFound is the answer for an objection that does not exist.
var ErrNotFound = apperr.New(apperr.NotFound, "没有这个异议，请核对受理编号")

// errForbidden refuses the office's steps to anyone but a city officer.
var errForbidden = apperr.New(apperr.Forbidden, "异议由市人力社保局经办人员处理，您没有此权限")

func requireOfficer(by actor.Actor) error {
	if !by.Can(actor.PermCasesCity) {
		return errForbidden
	}
	return nil
}

// The receipt: 16 characters of an alphabet without look-alikes (no I, O,
// 0, 1): 80 bits from crypto/rand, so receipts cannot be guessed.
const (
	receiptAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	receiptLen      = 16
)

func newReceipt() string {
	b := make([]byte, receiptLen)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = receiptAlphabet[int(b[i])%len(receiptAlphabet)] // 256 is a multiple of 32: no bias
	}
	return string(b)
}

// GroupReceipt writes a receipt in groups of four: ABCD-EFGH-JKLM-NPQR.
func GroupReceipt(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(r[i:min(i+4, len(r))])
	}
	return b.String()
}

// NormalizeReceipt reads a receipt as people type it: any case, with or
// without dashes and spaces. ok is false when it cannot be a receipt.
func NormalizeReceipt(s string) (string, bool) {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		switch {
		case c == '-' || c == ' ':
		case strings.ContainsRune(receiptAlphabet, c):
			b.WriteRune(c)
		default:
			return "", false
		}
	}
	return b.String(), b.Len() == receiptLen
}

const selectObjection = `SELECT id, receipt, year, number, grounds, contact_enc, attachment_key, attachment_type, attachment_size,
	status, outcome, answer, assigned_to, created_at, answered_at, answered_by, version, updated_at FROM objections`

func scanObjection(row interface{ Scan(...any) error }) (*Objection, error) {
	o := &Objection{}
	var st, out string
	var ca, aa, ua int64
	if err := row.Scan(&o.ID, &o.Receipt, &o.Year, &o.Number, &o.Grounds, &o.contactEnc, &o.AttachmentKey, &o.AttachmentType,
		&o.AttachmentSize, &st, &out, &o.Answer, &o.AssignedTo, &ca, &aa, &o.AnsweredBy, &o.Version, &ua); err != nil {
		return nil, err
	}
	o.Receipt = GroupReceipt(o.Receipt)
	o.Status, o.Outcome = Status(st), Outcome(out)
	o.CreatedAt, o.AnsweredAt, o.UpdatedAt = db.FromMicros(ca), db.FromMicros(aa), db.FromMicros(ua)
	return o, nil
}

func (s *Service) load(ctx context.Context, id int64) (*Objection, error) {
	o, err := scanObjection(s.db.QueryRow(ctx, selectObjection+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return o, nil
}

// contactAD binds a sealed contact to its objection's receipt: a sealed
// value copied onto another row does not open.
func contactAD(receipt string) string {
	return "objection.contact:" + strings.ReplaceAll(receipt, "-", "")
}

// record appends the audit entry of a step on an objection.
func (s *Service) record(ctx context.Context, by actor.Actor, action string, id int64, reason string) error {
	e := audit.Entry{Action: action, ObjectType: "objection", ObjectID: strconv.FormatInt(id, 10), Reason: reason,
		ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()), ClientAddr: by.ClientAddr, RequestID: by.RequestID}
	if err := s.audit.Record(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// event appends a line to an objection's timeline.
func (s *Service) event(ctx context.Context, id int64, kind string, by int64, note string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO objection_events (objection_id, kind, actor_id, note, at) VALUES ($1, $2, $3, $4, $5)`,
		id, kind, by, note, db.Micros(s.clock.Now()))
	return err
}
