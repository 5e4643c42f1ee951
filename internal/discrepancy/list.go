package discrepancy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"jifen/internal/rules"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// PageSize is the number of rows of one page of the queue.
const PageSize = 50

// Filter selects the queue. A district officer's District is always their
// own; the city bureau may choose one or leave it empty for all.
type Filter struct {
	District string
	Status   Status // "" for every status
	Item     string // a check item code, "" for all
	Overdue  bool   // only material requests past their deadline
	Page     int    // from 1
}

// Page is one page of the queue with the count per status (under the same
// district and check item, whatever the status filter) for the tabs.
type Page struct {
	Items  []*Item
	Counts map[Status]int
	Total  int // of every status
	Next   bool
}

// List returns a page of the queue the viewer may see, newest first.
func (s *Service) List(ctx context.Context, viewer actor.Actor, f Filter) (*Page, error) {
	own, ok := districtOf(viewer)
	if !ok {
		return nil, apperr.New(apperr.Forbidden, "您没有查看比对差异的权限")
	}
	if own != "" {
		f.District = own
	}
	f.Page = max(f.Page, 1)
	var w db.Where
	if f.District != "" {
		w.And("d.district = ?", f.District)
	}
	if f.Item != "" {
		w.And("d.item = ?", f.Item)
	}
	// Counts: by district and check item only, so every tab shows its number.
	counts := map[Status]int{}
	total := 0
	crows, err := s.db.Query(ctx, `SELECT d.status, count(*) FROM discrepancies d`+w.SQL()+` GROUP BY d.status`, w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer crows.Close()
	for crows.Next() {
		var st string
		var n int
		if err := crows.Scan(&st, &n); err != nil {
			return nil, apperr.Wrap(err)
		}
		counts[Status(st)] = n
		total += n
	}
	if err := crows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	if f.Overdue {
		f.Status = MaterialRequested
		w.And("d.deadline < ?", db.Micros(s.clock.Now()))
	}
	if f.Status != "" {
		w.And("d.status = ?", string(f.Status))
	}
	q := selectItem + w.SQL() + ` ORDER BY d.id DESC LIMIT ` + w.Arg(PageSize+1) + ` OFFSET ` + w.Arg((f.Page-1)*PageSize)
	rows, err := s.db.Query(ctx, q, w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	p := &Page{Counts: counts, Total: total}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		p.Items = append(p.Items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	if len(p.Items) > PageSize {
		p.Items, p.Next = p.Items[:PageSize], true
	}
	return p, nil
}

// Detail is one discrepancy as its page shows it: the two sides field by
// field, the application's current score and the history.
type Detail struct {
	*Item
	Rows          []Row
	Score         int64 // hundredths of a point, as applications.score
	ScoreEligible bool
	Scored        bool // the application has a cross-check score
	OverrideLogin string
	History       []Event
	// IfOverridden is the application's score if this item took the
	// declared value (an approved override), with every other approved
	// override kept; IfKnown is false when it cannot be computed.
	IfOverridden         int64
	IfOverriddenEligible bool
	IfKnown              bool
}

// Event is one step of a discrepancy's history.
type Event struct {
	At      time.Time
	ActorID int64 // 0 for the system
	Actor   string
	Action  string // Chinese
	Note    string
}

var actionNames = map[string]string{
	"discrepancy.accept": "以比对结果为准", "discrepancy.request_material": "要求申请人补充材料",
	"discrepancy.answer": "申请人提交补充说明", "discrepancy.override": "提出更正为申报值",
	"discrepancy.approve": "审批通过更正", "discrepancy.reject_override": "驳回更正",
	"application.rescore": "比对后重新计算积分",
}

// ActionName is the Chinese name of an audited action of the discrepancy
// queue (and of the re-scoring it causes); any other code is returned as is.
func ActionName(code string) string {
	if n, ok := actionNames[code]; ok {
		return n
	}
	return code
}

// Get returns a discrepancy the viewer may see with its history. The read
// of the applicant's declared and verified values is audited (batched).
func (s *Service) Get(ctx context.Context, viewer actor.Actor, id int64) (*Detail, error) {
	it, err := s.getFor(ctx, viewer, id)
	if err != nil {
		return nil, err
	}
	s.audit.RecordRead(ctx, viewer, audit.Read{Action: audit.ReadDiscrepancy, PersonID: it.PersonID,
		What: fmt.Sprintf("比对差异 %d（申请 %d，%s）：申报值与核验值", it.ID, it.ApplicationID, it.ItemName())})
	d := &Detail{Item: it}
	var book string
	var score, run int64
	if err := s.db.QueryRow(ctx, `SELECT a.score, a.score_eligible, a.score_run, r.rulebook FROM applications a
		JOIN rounds r ON r.id = a.round_id WHERE a.id = $1`, it.ApplicationID).Scan(&score, &d.ScoreEligible, &run, &book); err != nil {
		return nil, apperr.Wrap(err)
	}
	d.Score, d.Scored = score, run != 0
	if d.Scored {
		d.IfOverridden, d.IfOverriddenEligible, d.IfKnown = s.scoreIfOverridden(ctx, it)
	}
	d.Rows = Compare(book, it.CheckItem, it.Declared, it.Verified)
	if it.OverrideBy != 0 {
		_ = s.db.QueryRow(ctx, `SELECT login FROM users WHERE id = $1`, it.OverrideBy).Scan(&d.OverrideLogin)
	}
	d.History = append(d.History, Event{At: it.CreatedAt, Actor: "业务比对系统", Action: "比对发现差异：" + it.OutcomeName()})
	es, err := s.audit.Search(ctx, audit.Filter{ObjectType: "discrepancy", ObjectID: strconv.FormatInt(id, 10), Limit: 200})
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	for i := len(es) - 1; i >= 0; i-- { // oldest first
		e := es[i]
		d.History = append(d.History, Event{At: e.At, ActorID: e.ActorID, Actor: e.ActorLogin, Action: ActionName(e.Action), Note: e.Reason})
	}
	return d, nil
}

// Correction is a request for material as the applicant sees it.
type Correction struct {
	*Item
	Rows    []Row
	Overdue bool
}

// ForApplicant returns the applicant's material requests, open and
// answered, oldest deadline first.
func (s *Service) ForApplicant(ctx context.Context, personID int64) ([]Correction, error) {
	rows, err := s.db.Query(ctx, selectItem+` WHERE a.person_id = $1 AND d.status IN ('material_requested', 'material_received')
		ORDER BY d.deadline, d.id`, personID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var items []*Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	now := s.clock.Now()
	out := make([]Correction, 0, len(items))
	for _, it := range items {
		out = append(out, Correction{Item: it, Rows: Compare("", it.CheckItem, it.Declared, it.Verified), Overdue: it.Overdue(now)})
	}
	return out, nil
}

// OpenRequests counts the applicant's material requests still awaiting an
// answer before their deadline: the dashboard's notice.
func (s *Service) OpenRequests(ctx context.Context, personID int64) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM discrepancies d JOIN applications a ON a.id = d.application_id
		WHERE a.person_id = $1 AND d.status = 'material_requested' AND d.deadline >= $2`, personID, db.Micros(s.clock.Now())).Scan(&n)
	if err != nil {
		return 0, apperr.Wrap(err)
	}
	return n, nil
}

// scoreIfOverridden scores the application as Rescore would after an
// approved override of it: the verified facts of the run that scored it,
// with the declared value of it and of every item already overridden. It
// changes nothing; ok is false when the facts cannot be read or scored.
func (s *Service) scoreIfOverridden(ctx context.Context, it *Item) (total int64, eligible, ok bool) {
	var decl, book, verified string
	if err := s.db.QueryRow(ctx, `SELECT a.declaration, c.rulebook, cs.verified FROM applications a
		JOIN check_runs c ON c.id = a.score_run JOIN check_scores cs ON cs.run_id = a.score_run AND cs.application_id = a.id
		WHERE a.id = $1`, it.ApplicationID).Scan(&decl, &book, &verified); err != nil {
		return 0, false, false
	}
	ovr, err := s.overridden(ctx, it.ApplicationID)
	if err != nil {
		return 0, false, false
	}
	var d, v rules.CalculatorRequest
	if json.Unmarshal([]byte(decl), &d) != nil || json.Unmarshal([]byte(verified), &v) != nil {
		return 0, false, false
	}
	rb, err := rules.Book(book)
	if err != nil {
		return 0, false, false
	}
	ovr[it.CheckItem] = v.PartJSON(it.CheckItem)
	res, ok := ScoreVerified(rb, v, d, ovr)
	if !ok {
		return 0, false, false
	}
	return int64(res.Total), res.Eligible, true
}
