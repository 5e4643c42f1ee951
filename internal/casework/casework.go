// Package casework is the office's case work after the first result: the
// service clock's limits per round and step (table step_limits), the work
// queues of the district offices and the city bureau, and who works which
// case (table case_assignments: claim, release, assignment by a
// supervisor, workload). The clock itself lives on the application row
// (internal/application, steps.go); this package gives it its limits
// (Due, the application.Deadlines) over the working-day calendar.
package casework

import (
	"context"
	"sync"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/ident"
)

// Calendar is the working-day arithmetic (calendar.Service).
type Calendar interface {
	AddWorkingDays(ctx context.Context, t time.Time, n int) (time.Time, error)
}

// PublicNumbers finds the application of a 公示编号 in a round's committed
// ranking. The ranking store implements it; without one (nil) the queue
// does not search by 公示编号.
type PublicNumbers interface {
	ApplicationOf(ctx context.Context, roundID int64, number string) (int64, bool, error)
}

// Timeline records on an application's timeline who took up its case
// (application.Service.CaseEvent).
type Timeline interface {
	CaseEvent(ctx context.Context, c actor.Actor, id int64, reason string) error
}

// Service is the case work.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	clock   clock.Clock
	cal     Calendar
	keys    *crypto.Keyring
	numbers PublicNumbers
	events  Timeline

	countsTTL   time.Duration
	mu          sync.Mutex
	countsCache map[string]countsEntry
}

// NewService returns the case work service. keys computes the blind index
// of an ID number searched for (the one persons.id_idx holds).
func NewService(d *db.DB, a *audit.Log, c clock.Clock, cal Calendar, keys *crypto.Keyring) *Service {
	return &Service{db: d, audit: a, clock: c, cal: cal, keys: keys}
}

// WithTimeline puts claims, releases and assignments on the applications'
// timelines.
func (s *Service) WithTimeline(t Timeline) *Service { s.events = t; return s }

// event writes a timeline row, in the caller's transaction, when a
// timeline is set.
func (s *Service) event(ctx context.Context, c actor.Actor, id int64, reason string) error {
	if s.events == nil {
		return nil
	}
	return s.events.CaseEvent(ctx, c, id, reason)
}

// WithPublicNumbers lets the queue search by 公示编号.
func (s *Service) WithPublicNumbers(p PublicNumbers) *Service { s.numbers = p; return s }

// idIndex is the blind index of a valid ID number, as person stores it.
func (s *Service) idIndex(q string) (string, bool) {
	n, err := ident.ValidateIDNumber(q, s.clock.Now())
	if err != nil || s.keys == nil {
		return "", false
	}
	return s.keys.BlindIndex("id_number", n), true
}

// errNotFound answers a case the officer may not see or touch: it is not
// told apart from a case that does not exist.
var errNotFound = apperr.New(apperr.NotFound, "案件不存在")

// scope is the district an officer works in: "" for the city bureau (every
// district), the officer's own district otherwise. It needs cases.district.
func scope(c actor.Actor) (string, error) {
	if err := c.Require(actor.PermCasesDistrict); err != nil {
		return "", err
	}
	if c.Can(actor.PermCasesCity) {
		return "", nil
	}
	if c.District == "" {
		// A district officer without a district sees nothing rather than
		// every district.
		return "\x00none", nil
	}
	return c.District, nil
}

// caseInfo is what the checks below need of an application.
type caseInfo struct {
	id, roundID int64
	district    string
	status      string
	dueAt       int64
}

// visible reads application id if c may work on it (its district, from
// the first result on), else errNotFound, audited as a denied access.
func (s *Service) visible(ctx context.Context, c actor.Actor, id int64) (caseInfo, error) {
	d, err := scope(c)
	if err != nil {
		return caseInfo{}, err
	}
	var ci caseInfo
	err = s.db.QueryRow(ctx, `SELECT id, round_id, district, status, step_due_at FROM applications WHERE id = $1`, id).
		Scan(&ci.id, &ci.roundID, &ci.district, &ci.status, &ci.dueAt)
	if db.IsNoRows(err) {
		return caseInfo{}, errNotFound
	}
	if err != nil {
		return caseInfo{}, err
	}
	if (d != "" && ci.district != d) || !queueStatus(ci.status) {
		s.denied(ctx, id, "case outside the officer's queue")
		return caseInfo{}, errNotFound
	}
	return ci, nil
}

// denied records a refused access to a case. It runs outside any
// transaction of the refusal (a rolled-back record would be lost).
func (s *Service) denied(ctx context.Context, id int64, why string) {
	_ = s.audit.Record(ctx, audit.Entry{Action: "case.access.denied", ObjectType: "application", ObjectID: itoa(id),
		Outcome: audit.Denied, Reason: why})
}
