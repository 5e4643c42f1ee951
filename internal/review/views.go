package review

import (
	"context"
	"encoding/json"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// DecisionView is a decision as pages and the API show it.
type DecisionView struct {
	Indicator     string    `json:"indicator"`
	IndicatorName string    `json:"indicator_name"`
	Outcome       string    `json:"outcome"`
	OutcomeName   string    `json:"outcome_name"`
	Reason        string    `json:"reason"`
	Corrected     string    `json:"corrected,omitempty"` // the indicator's corrected facts as JSON, "" when unchanged
	DecidedBy     int64     `json:"-"`
	DecidedAt     time.Time `json:"decided_at"`
}

// ChangeView is a score change.
type ChangeView struct {
	OldScore    rules.Points `json:"old_score"`
	NewScore    rules.Points `json:"new_score"`
	OldEligible bool         `json:"old_eligible"`
	NewEligible bool         `json:"new_eligible"`
	Status      string       `json:"status"` // pending | approved | rejected
	ProposedBy  int64        `json:"-"`
	ProposedAt  time.Time    `json:"proposed_at"`
	DecidedBy   int64        `json:"-"`
	DecidedAt   time.Time    `json:"decided_at,omitzero"`
	Note        string       `json:"note,omitempty"`
}

// ChangeStatusName is the Chinese name of a score change's status.
func ChangeStatusName(s string) string {
	switch s {
	case "pending":
		return "待审批"
	case "approved":
		return "已审批生效"
	case "rejected":
		return "未获审批"
	}
	return s
}

// StatusName is the Chinese name of the change's status.
func (c *ChangeView) StatusName() string { return ChangeStatusName(c.Status) }

func (s *Service) change(ctx context.Context, id int64) (*ChangeView, error) {
	var ch ChangeView
	var old, nw, pa, da int64
	err := s.db.QueryRow(ctx, `SELECT old_score, new_score, old_eligible, new_eligible, status, proposed_by, proposed_at, decided_by,
		decided_at, note FROM score_changes WHERE application_id = $1`, id).Scan(&old, &nw, &ch.OldEligible, &ch.NewEligible, &ch.Status,
		&ch.ProposedBy, &pa, &ch.DecidedBy, &da, &ch.Note)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ch.OldScore, ch.NewScore, ch.ProposedAt = rules.Points(old), rules.Points(nw), db.FromMicros(pa)
	if da != 0 {
		ch.DecidedAt = db.FromMicros(da)
	}
	return &ch, nil
}

// Item is one indicator of a case with its declared facts and decision.
type Item struct {
	Code       string        `json:"code"`
	Name       string        `json:"name"`
	Declared   string        `json:"declared"` // the declared facts of the indicator as JSON
	Verified   string        `json:"verified"` // the facts the applied cross-check verified (the declared ones when none did)
	Decision   *DecisionView `json:"decision,omitempty"`
	Inspection bool          `json:"inspection"` // an in-person check is required for it
}

// CaseView is a 复查 case as the office sees it.
type CaseView struct {
	ApplicationID int64                    `json:"application_id"`
	PersonName    string                   `json:"person_name"`
	EmployerName  string                   `json:"employer_name"`
	District      string                   `json:"district"`
	AppStatus     application.Status       `json:"application_status"`
	Reason        string                   `json:"reason"`
	EmployerNote  string                   `json:"employer_note"`
	RequestStatus string                   `json:"request_status"`
	Status        string                   `json:"status"` // '' | open | approval | decided
	Version       int                      `json:"version"`
	Score         rules.Points             `json:"score"`
	Items         []Item                   `json:"items"`
	Change        *ChangeView              `json:"score_change,omitempty"`
	Inspection    *Inspection              `json:"inspection,omitempty"`
	Events        []application.Event      `json:"-"`
	Attachments   []application.Attachment `json:"-"`
}

// Case returns a case for an officer of its district (another district's
// is 404, audited); opening it is an audited read of the application.
func (s *Service) Case(ctx context.Context, officer actor.Actor, id int64) (*CaseView, error) {
	c, err := s.officerCase(ctx, officer, id, false)
	if err != nil {
		return nil, s.denied(ctx, id, err)
	}
	a, err := s.apps.Get(ctx, officer, id)
	if err != nil {
		return nil, err
	}
	v := &CaseView{ApplicationID: id, PersonName: a.PersonName, EmployerName: a.EmployerName, District: c.District,
		AppStatus: a.Status, Reason: c.Reason, EmployerNote: c.Note, RequestStatus: c.ReqStatus, Status: c.CaseStatus,
		Version: c.CaseVersion}
	score, _, _, err := s.apps.Score(ctx, id)
	if err != nil {
		return nil, err
	}
	v.Score = rules.Points(score)
	ds, err := s.decided(ctx, id)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if v.Change, err = s.change(ctx, id); err != nil {
		return nil, apperr.Wrap(err)
	}
	if v.Inspection, err = s.inspection(ctx, id); err != nil {
		return nil, apperr.Wrap(err)
	}
	verified, err := s.verified(ctx, id)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if verified == nil {
		verified = &a.Declaration
	}
	for _, ind := range c.Indicators {
		it := Item{Code: ind, Name: rules.CheckItemName(ind), Declared: a.Declaration.PartJSON(ind), Verified: verified.PartJSON(ind)}
		if d, ok := ds[ind]; ok {
			it.Decision = &d
		}
		it.Inspection = v.Inspection != nil && contains(v.Inspection.Indicators, ind)
		v.Items = append(v.Items, it)
	}
	if v.Events, err = s.apps.EventsOf(ctx, officer, a); err != nil {
		return nil, err
	}
	return v, nil
}

// Pending is a score change waiting for approval, as the queue lists it.
type Pending struct {
	ApplicationID int64        `json:"application_id"`
	PersonName    string       `json:"person_name"`
	District      string       `json:"district"`
	OldScore      rules.Points `json:"old_score"`
	NewScore      rules.Points `json:"new_score"`
	ProposedBy    int64        `json:"-"`
	ProposedAt    time.Time    `json:"proposed_at"`
	Own           bool         `json:"own"` // the viewer's decisions caused it: another officer must approve
}

// Approvals lists the score changes waiting for approval in the officer's
// district (every district for the city bureau), oldest first.
func (s *Service) Approvals(ctx context.Context, officer actor.Actor) ([]Pending, error) {
	if !officer.Can(actor.PermCasesDistrict) && !officer.Can(actor.PermCasesCity) {
		return nil, apperr.New(apperr.Forbidden, "没有权限")
	}
	var w db.Where
	w.And("sc.status = 'pending'")
	if !officer.Can(actor.PermCasesCity) {
		w.And("e.district = ?", officer.District)
	}
	rows, err := s.db.Query(ctx, `SELECT sc.application_id, p.name, e.district, sc.old_score, sc.new_score, sc.proposed_by, sc.proposed_at,
		EXISTS (SELECT 1 FROM review_decisions d WHERE d.application_id = sc.application_id AND d.corrected <> '' AND d.decided_by = `+
		w.Arg(officer.UserID)+`) FROM score_changes sc JOIN applications a ON a.id = sc.application_id
		JOIN persons p ON p.id = a.person_id JOIN employers e ON e.id = a.employer_id`+w.SQL()+
		` ORDER BY sc.proposed_at, sc.application_id LIMIT 500`, w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		var p Pending
		var old, nw, at int64
		if err := rows.Scan(&p.ApplicationID, &p.PersonName, &p.District, &old, &nw, &p.ProposedBy, &at, &p.Own); err != nil {
			return nil, apperr.Wrap(err)
		}
		p.OldScore, p.NewScore, p.ProposedAt = rules.Points(old), rules.Points(nw), db.FromMicros(at)
		p.Own = p.Own || p.ProposedBy == officer.UserID
		out = append(out, p)
	}
	return out, rows.Err()
}

// ApplicantView is what the applicant sees of their 复查: each decision,
// the score change's status (the new score once approved), the in-person
// check with its booking, and the slots they may book.
type ApplicantView struct {
	ApplicationID int64              `json:"application_id"`
	RequestStatus string             `json:"request_status"`
	Indicators    []Item             `json:"indicators"`
	ChangeStatus  string             `json:"score_change_status,omitempty"`
	NewScore      *rules.Points      `json:"new_score,omitempty"`
	Inspection    *Inspection        `json:"inspection,omitempty"`
	Slots         []Slot             `json:"slots,omitempty"`
	Final         bool               `json:"final"`
	Status        application.Status `json:"application_status"`
}

// ForApplicant returns the applicant's view of their application's 复查.
func (s *Service) ForApplicant(ctx context.Context, applicant actor.Actor, id int64) (*ApplicantView, error) {
	c, err := s.applicantCase(ctx, applicant, id)
	if err != nil {
		return nil, err
	}
	v := &ApplicantView{ApplicationID: id, RequestStatus: c.ReqStatus, Final: c.AppStatus == application.Final, Status: c.AppStatus}
	ds, err := s.decided(ctx, id)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if v.Inspection, err = s.inspection(ctx, id); err != nil {
		return nil, apperr.Wrap(err)
	}
	for _, ind := range c.Indicators {
		it := Item{Code: ind, Name: rules.CheckItemName(ind)}
		if d, ok := ds[ind]; ok {
			d.Corrected = ""
			it.Decision = &d
		}
		it.Inspection = v.Inspection != nil && contains(v.Inspection.Indicators, ind)
		v.Indicators = append(v.Indicators, it)
	}
	ch, err := s.change(ctx, id)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if ch != nil {
		v.ChangeStatus = ch.Status
		if ch.Status == "approved" {
			v.NewScore = &ch.NewScore
		}
	}
	if v.Inspection != nil && v.Inspection.Attendance == "" {
		open, err := s.OpenSlots(ctx, c.District)
		if err != nil {
			return nil, err
		}
		for _, sl := range open {
			if v.Inspection.Slot == nil || sl.ID != v.Inspection.Slot.ID { // the booked one is not a choice to move to
				v.Slots = append(v.Slots, sl)
			}
		}
	}
	if v.Inspection != nil {
		v.Inspection.EvidenceKey = ""
	}
	return v, nil
}

// applicantCase loads the case of the applicant's own application.
func (s *Service) applicantCase(ctx context.Context, applicant actor.Actor, id int64) (*caseRow, error) {
	if applicant.PersonID == 0 || !applicant.Can(actor.PermApply) {
		return nil, ErrNotFound
	}
	c, err := s.loadCase(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.PersonID != applicant.PersonID {
		return nil, s.denied(ctx, id, errDenied)
	}
	return c, nil
}

// verified reads the facts the applied cross-check run verified of an
// application; nil when no run scored it.
func (s *Service) verified(ctx context.Context, id int64) (*rules.CalculatorRequest, error) {
	var v string
	err := s.db.QueryRow(ctx, `SELECT cs.verified FROM applications a JOIN check_scores cs ON cs.run_id = a.score_run AND cs.application_id = a.id
		WHERE a.id = $1`, id).Scan(&v)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r rules.CalculatorRequest
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return nil, err
	}
	return &r, nil
}
