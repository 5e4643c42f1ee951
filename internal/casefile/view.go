package casefile

import (
	"context"
	"fmt"
	"io"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/check"
	"jifen/internal/discrepancy"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/ident"
	"jifen/internal/rules"
)

// Case is one application as the case view shows it.
type Case struct {
	ID           int64     `json:"id"`
	RoundYear    int       `json:"round_year"`
	Status       string    `json:"status"`
	StatusName   string    `json:"status_name"`
	PersonID     int64     `json:"person_id"`
	PersonName   string    `json:"person_name"`
	Sex          string    `json:"sex"`
	BirthDate    string    `json:"birth_date"`
	IDNumber     string    `json:"id_number"` // masked unless Revealed
	Phone        string    `json:"phone"`     // masked unless Revealed
	Revealed     bool      `json:"revealed"`
	EmployerID   int64     `json:"employer_id"`
	EmployerName string    `json:"employer_name"`
	District     string    `json:"district"` // the employer's: whose bureau handles the case
	Address      string    `json:"employer_address"`
	SubmittedAt  time.Time `json:"submitted_at"`
	FiledAt      time.Time `json:"filed_at"`
	Purpose      Purpose   `json:"purpose"`

	Fraud      *Section `json:"fraud"`      // the fraud register's entry; null when not wired or none
	Assignment *Section `json:"assignment"` // who holds the case until when; null when not wired

	Items       []Item       `json:"items"` // declared beside verified, per check item
	Checked     bool         `json:"checked"`
	Score       Score        `json:"score"`
	Attachments []Attachment `json:"attachments"`
	Timeline    []Event      `json:"timeline"`
	Notes       []Note       `json:"notes"`
	Related     []Related    `json:"related"`
	Extras      []Section    `json:"extras"`
}

// Item is one check item: the applicant's declaration beside what the
// agencies answered, field by field (discrepancy.Compare, the rendering the
// discrepancy queue uses), and any discrepancy it opened.
type Item struct {
	Code        string            `json:"code"`
	Name        string            `json:"name"`
	Outcome     string            `json:"outcome"` // match, mismatch, not_found, unavailable; "" before the check
	OutcomeName string            `json:"outcome_name"`
	Agencies    []string          `json:"agencies"`
	Rows        []discrepancy.Row `json:"rows"`
	Discrepancy int64             `json:"discrepancy_id,omitempty"`
	DiscStatus  string            `json:"discrepancy_status,omitempty"`
}

// Score is the score statement declared against verified, per indicator.
type Score struct {
	Declared         rules.Points `json:"declared"`
	DeclaredEligible bool         `json:"declared_eligible"`
	Verified         rules.Points `json:"verified"`
	VerifiedEligible bool         `json:"verified_eligible"`
	Checked          bool         `json:"checked"` // false before the first check: no verified side
	Lines            []ScoreLine  `json:"lines"`
	Ineligible       []string     `json:"ineligible_reasons"` // of the verified side, or the declared before the check
}

// ScoreLine is one indicator's points on each side.
type ScoreLine struct {
	Code                string       `json:"code"`
	Name                string       `json:"name"`
	Declared            rules.Points `json:"declared"`
	DeclaredExplanation string       `json:"declared_explanation"`
	Verified            rules.Points `json:"verified"`
	VerifiedExplanation string       `json:"verified_explanation"`
	Differs             bool         `json:"differs"`
}

// Attachment is one of the application's materials.
type Attachment struct {
	ID          int64     `json:"id"`
	Indicator   string    `json:"indicator"`
	Name        string    `json:"indicator_name"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	CreatedAt   time.Time `json:"created_at"`
	Image       bool      `json:"image"` // shown in the page itself
}

// Event is one row of the timeline.
type Event struct {
	At       time.Time `json:"at"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	FromName string    `json:"from_name"`
	ToName   string    `json:"to_name"`
	Role     string    `json:"role"` // Chinese
	Reason   string    `json:"reason"`
}

// Open reads the case of application id for viewer, for purpose (a code
// of Purposes; "" is 案件办理), and records the reading in the audit trail.
func (s *Service) Open(ctx context.Context, viewer actor.Actor, id int64, purpose string) (*Case, error) {
	p, err := PurposeOf(purpose)
	if err != nil {
		return nil, err
	}
	sc, err := s.scopeFor(ctx, viewer, id, "case.open")
	if err != nil {
		return nil, err
	}
	ctx = audit.WithPurpose(ctx, p.Name)
	c, err := s.load(ctx, viewer, sc, p)
	if err != nil {
		return nil, err
	}
	s.audit.RecordRead(ctx, viewer, audit.Read{Action: audit.ReadCase, PersonID: sc.personID,
		What: fmt.Sprintf("申请 %d 案件视图：申报与比对结果、材料清单、积分、办理记录、备注、关联案件", id)})
	return c, nil
}

// Reveal is Open with the applicant's full ID number and phone, for a
// reason the officer gives: one audited row (person.view_id_number) with
// the purpose and the reason, written before the numbers are returned. The
// numbers are in this answer only; the next Open masks them again.
func (s *Service) Reveal(ctx context.Context, viewer actor.Actor, id int64, purpose, reason string) (*Case, error) {
	// Not found comes before a missing reason: a case one may not open
	// says nothing about what the form lacks.
	if _, err := PurposeOf(purpose); err != nil {
		return nil, err
	}
	if _, err := s.scopeFor(ctx, viewer, id, "case.reveal"); err != nil {
		return nil, err
	}
	reason, err := text("reason", reason, MinRevealReason, MaxRevealReason, "请填写查看完整身份信息的理由")
	if err != nil {
		return nil, err
	}
	c, err := s.Open(ctx, viewer, id, purpose)
	if err != nil {
		return nil, err
	}
	pe, err := s.persons.Get(ctx, c.PersonID)
	if err != nil {
		return nil, err
	}
	why := audit.Purposed("核实身份", fmt.Sprintf("理由：%s；申请 %d 案件视图（查阅目的：%s）：完整身份证号、手机号", reason, id, c.Purpose.Name))
	full, err := s.persons.FullIDNumber(ctx, viewer, pe, why)
	if err != nil {
		return nil, err
	}
	u, err := s.accounts.UserByID(ctx, pe.UserID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	phone, err := s.accounts.Phone(u)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	c.IDNumber, c.Phone, c.Revealed = full, phone, true
	return c, nil
}

// OpenAttachment returns the content of one of the case's materials, for
// purpose. The access check is the case's (district), then the application
// package's; the read is audited there (audit.ReadAttachment) with the
// purpose.
func (s *Service) OpenAttachment(ctx context.Context, viewer actor.Actor, id, attID int64, purpose string) (*application.Attachment, io.ReadCloser, error) {
	p, err := PurposeOf(purpose)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.scopeFor(ctx, viewer, id, "case.attachment"); err != nil {
		return nil, nil, err
	}
	return s.atts.Open(audit.WithPurpose(ctx, p.Name), viewer, id, attID)
}

// load reads everything the case view shows.
func (s *Service) load(ctx context.Context, viewer actor.Actor, sc *scope, p Purpose) (*Case, error) {
	a, err := s.apps.ForPerson(ctx, sc.personID, sc.roundID)
	if err != nil {
		return nil, err
	}
	if a.ID != sc.appID {
		return nil, ErrNotFound
	}
	c := &Case{ID: a.ID, RoundYear: a.RoundYear, Status: string(a.Status), StatusName: application.StatusName(a.Status),
		PersonID: a.PersonID, PersonName: a.PersonName, EmployerID: a.EmployerID, EmployerName: a.EmployerName,
		District: sc.district, Address: sc.address, SubmittedAt: a.SubmittedAt, FiledAt: a.FiledAt, Purpose: p,
		Attachments: []Attachment{}, Timeline: []Event{}, Notes: []Note{}, Related: []Related{}, Extras: []Section{}}
	pe, err := s.persons.Get(ctx, a.PersonID)
	if err != nil {
		return nil, err
	}
	c.IDNumber, c.Sex, c.BirthDate = pe.IDMasked, map[string]string{"M": "男", "F": "女"}[pe.Sex], pe.BirthDate
	if u, err := s.accounts.UserByID(ctx, pe.UserID); err == nil {
		if ph, err := s.accounts.Phone(u); err == nil {
			c.Phone = ident.MaskPhone(ph)
		}
	}
	if c.Fraud, err = s.extra(ctx, viewer, s.Fraud, a.ID); err != nil {
		return nil, err
	}
	if c.Assignment, err = s.extra(ctx, viewer, s.Assignment, a.ID); err != nil {
		return nil, err
	}
	if err := s.items(ctx, c, a, sc.rulebook); err != nil {
		return nil, err
	}
	files, err := s.atts.ListOf(ctx, viewer, a)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		c.Attachments = append(c.Attachments, Attachment{ID: f.ID, Indicator: f.Indicator, Name: indicatorName(f.Indicator),
			Filename: f.Filename, ContentType: f.ContentType, Size: f.Size, CreatedAt: f.CreatedAt,
			Image: f.ContentType == "image/png" || f.ContentType == "image/jpeg"})
	}
	evs, err := s.apps.EventsOf(ctx, viewer, a)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		c.Timeline = append(c.Timeline, Event{At: e.At, From: string(e.From), To: string(e.To),
			FromName: application.StatusName(e.From), ToName: application.StatusName(e.To),
			Role: actor.RoleName(actor.Role(e.ActorRole)), Reason: e.Reason})
	}
	if c.Notes, err = s.notes(ctx, a.ID); err != nil {
		return nil, err
	}
	if c.Related, err = s.related(ctx, viewer, sc, pe.UserID); err != nil {
		return nil, err
	}
	for _, x := range s.Extras {
		sec, err := s.extra(ctx, viewer, x, a.ID)
		if err != nil {
			return nil, err
		}
		if sec != nil {
			c.Extras = append(c.Extras, *sec)
		}
	}
	return c, nil
}

func (s *Service) extra(ctx context.Context, viewer actor.Actor, x Extra, id int64) (*Section, error) {
	if x == nil {
		return nil, nil
	}
	return x(ctx, viewer, id)
}

func indicatorName(code string) string {
	if n := rules.CheckItemName(code); n != "" {
		return n
	}
	return code
}

// items builds the declared/verified comparison of every check item and
// the score statement on both sides.
func (s *Service) items(ctx context.Context, c *Case, a *application.Application, rulebook string) error {
	declared, _ := application.Estimate(a.Declaration)
	c.Score = Score{Declared: declared.Total, DeclaredEligible: declared.Eligible, Ineligible: declared.IneligibleReasons}
	var res *check.Result
	var st *check.Statement
	if s.results != nil {
		var err error
		if res, err = s.results.ResultOf(ctx, a.ID); err != nil {
			return apperr.Wrap(err)
		}
		if res != nil {
			if st, err = s.results.StatementOf(ctx, a.ID); err != nil {
				return apperr.Wrap(err)
			}
		}
	}
	var verified rules.CalculatorRequest
	outcomes := map[string]check.Outcome{}
	names := map[string]check.StatementItem{}
	if res != nil && st != nil {
		c.Checked, c.Score.Checked = true, true
		_ = jsonUnmarshal(res.Verified, &verified)
		for _, o := range res.Outcomes {
			outcomes[o.Item] = o
		}
		for _, it := range st.Items {
			names[it.Item] = it
		}
		c.Score.Verified, c.Score.VerifiedEligible, c.Score.Ineligible = st.Result.Total, st.Result.Eligible, st.Result.IneligibleReasons
	}
	for _, in := range declared.Indicators {
		l := ScoreLine{Code: in.Code, Name: in.Name, Declared: in.Points, DeclaredExplanation: in.Explanation}
		if c.Score.Checked {
			if v, ok := st.Result.Indicator(in.Code); ok {
				l.Verified, l.VerifiedExplanation = v.Points, v.Explanation
			}
			l.Differs = l.Verified != l.Declared
		}
		c.Score.Lines = append(c.Score.Lines, l)
	}
	discs, err := s.discrepancies(ctx, a.ID)
	if err != nil {
		return err
	}
	for _, code := range rules.CheckItems() {
		it := Item{Code: code, Name: rules.CheckItemName(code), OutcomeName: "尚未比对"}
		dj := a.Declaration.PartJSON(code)
		if o, ok := outcomes[code]; ok {
			it.Outcome, it.OutcomeName = o.Outcome, check.OutcomeNames[o.Outcome]
			if n, ok := names[code]; ok {
				it.OutcomeName, it.Agencies = n.OutcomeName, n.Agencies
			}
			vj := verified.PartJSON(code)
			if o.Declared != "" || o.Verified != "" {
				dj, vj = o.Declared, o.Verified
			}
			it.Rows = discrepancy.Compare(rulebook, code, dj, vj)
		} else {
			it.Rows = discrepancy.Compare(rulebook, code, dj, dj)
			for i := range it.Rows {
				it.Rows[i].Verified, it.Rows[i].Differs = nil, false
			}
		}
		if d, ok := discs[code]; ok {
			it.Discrepancy, it.DiscStatus = d.id, discrepancy.StatusName(discrepancy.Status(d.status))
		}
		c.Items = append(c.Items, it)
	}
	return nil
}

type discRef struct {
	id     int64
	status string
}

// discrepancies returns the discrepancy rows of an application by item.
func (s *Service) discrepancies(ctx context.Context, appID int64) (map[string]discRef, error) {
	rows, err := s.db.Query(ctx, `SELECT id, item, status FROM discrepancies WHERE application_id = $1`, appID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	out := map[string]discRef{}
	for rows.Next() {
		var d discRef
		var item string
		if err := rows.Scan(&d.id, &item, &d.status); err != nil {
			return nil, apperr.Wrap(err)
		}
		out[item] = d
	}
	return out, rows.Err()
}
