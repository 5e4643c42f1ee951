package application

// Carry-over between rounds (issue 17, item 2). When a new round opens, the
// people who applied in an earlier round start from their last application
// instead of an empty form.
//
// Choices, and why:
//   - Who is carried: a person whose latest application in an earlier round
//     reached the bureau (status submitted or later). A draft, or one the
//     employer never filed, never entered the round and is not a declaration
//     anyone vouched for.
//   - The employer link is not carried: links belong to a round, and the
//     employer must confirm the applicant again. Since an application needs a
//     confirmed employer (applications.employer_id), the job prepares a
//     carry-over row (application_carryovers) and Open makes the draft from
//     it the moment the applicant opens their application with an employer
//     confirmed for the new round.
//   - Periods that ran to the old statistics month ("至今") are extended to
//     the new statistics month; periods that ended earlier, and back-paid
//     months, are kept as they were.
//   - Attachments of the carried indicators that the applicant had not
//     withdrawn are re-linked: a new attachments row naming the same stored
//     file (blob key); the file is not copied.
//   - Every carried indicator is marked "来自YYYY年申请" until the applicant
//     confirms it; submission to the employer is refused while a mark
//     remains. An indicator the new rulebook does not accept, or whose score
//     the new rulebook computes differently from the old one for the same
//     facts, is marked "需要注意" with the reason. Nothing is dropped: the
//     declaration is carried whole and the applicant corrects it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	"jifen/internal/rules"
)

// CarryBatch is how many persons one transaction of the carry-over handles.
const CarryBatch = 1000

// CarriedItem is one carried indicator not yet confirmed by the applicant.
type CarriedItem struct {
	Item     string `json:"item"`                // an indicator code (rules.IndicatorCodes) or "other"
	FromYear int    `json:"from_year"`           // the round it was declared in
	Note     string `json:"attention,omitempty"` // why it needs attention, in Chinese; empty: none
}

// ItemName is the Chinese name of a carried item.
func ItemName(item string) string {
	if n := rules.CheckItemName(item); n != "" {
		return n
	}
	return "其他信息"
}

// Label is the mark shown on the item, e.g. "来自2026年申请".
func (c CarriedItem) Label() string { return fmt.Sprintf("来自%d年申请", c.FromYear) }

// Attention reports whether the item is marked "需要注意".
func (c CarriedItem) Attention() bool { return c.Note != "" }

// carriedStatuses are the statuses of an earlier application that is carried
// (see the package comment of this file).
const carriedFrom = `('submitted', 'checking', 'first_result', 'review_requested', 'final', 'published')`

// CarryOver prepares, for every person whose latest application of an
// earlier round reached the bureau, the carry-over into roundID, in batches
// of CarryBatch persons, one transaction each. It is idempotent: a person who
// already has an application or a carry-over in the round is skipped, so a
// run cut short is finished by running it again. It returns how many
// carry-overs it made.
func (s *Service) CarryOver(ctx context.Context, roundID int64) (int, error) {
	var year int
	if err := s.db.QueryRow(ctx, `SELECT year FROM rounds WHERE id = $1`, roundID).Scan(&year); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, apperr.New(apperr.NotFound, "申请年度不存在")
		}
		return 0, apperr.Wrap(err)
	}
	newBook, err := rules.ForYear(year)
	if err != nil {
		return 0, apperr.Field("year", "该年度没有适用的积分规则")
	}
	total := 0
	var cursor int64
	for {
		next, n, err := s.carryBatch(ctx, roundID, year, newBook, cursor)
		if err != nil {
			return total, err
		}
		total += n
		if next == 0 {
			return total, nil
		}
		cursor = next
	}
}

type carrySource struct {
	appID, personID int64
	year            int
	decl            string
}

// readCarrySources reads the latest earlier application of each person
// (rows come ordered by person, newest round first) and closes rows.
func readCarrySources(rows *sql.Rows) ([]carrySource, error) {
	defer func() { _ = rows.Close() }()
	var src []carrySource
	for rows.Next() {
		var c carrySource
		if err := rows.Scan(&c.appID, &c.personID, &c.year, &c.decl); err != nil {
			return nil, err
		}
		if len(src) > 0 && src[len(src)-1].personID == c.personID {
			continue // an older application of the same person
		}
		src = append(src, c)
	}
	return src, rows.Err()
}

// carryBatch carries the persons after cursor, up to CarryBatch of them,
// and returns the last person handled (0: none left).
func (s *Service) carryBatch(ctx context.Context, roundID int64, year int, newBook *rules.Rulebook, cursor int64) (int64, int, error) {
	var last int64
	n := 0
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		last, n = 0, 0
		var hi int64
		var hiN sql.NullInt64
		if err := s.db.QueryRow(ctx, `SELECT max(person_id) FROM (SELECT DISTINCT a.person_id FROM applications a
			JOIN rounds r ON r.id = a.round_id WHERE r.year < $1 AND a.person_id > $2 AND a.status IN `+carriedFrom+`
			ORDER BY a.person_id LIMIT $3) t`, year, cursor, CarryBatch).Scan(&hiN); err != nil {
			return err
		}
		if !hiN.Valid {
			return nil
		}
		hi = hiN.Int64
		// The latest earlier application of each person in (cursor, hi]
		// with no application or carry-over in the new round yet.
		rows, err := s.db.Query(ctx, `SELECT a.id, a.person_id, r.year, a.declaration FROM applications a
			JOIN rounds r ON r.id = a.round_id
			WHERE r.year < $1 AND a.person_id > $2 AND a.person_id <= $3 AND a.status IN `+carriedFrom+`
			AND NOT EXISTS (SELECT 1 FROM applications b WHERE b.round_id = $4 AND b.person_id = a.person_id)
			AND NOT EXISTS (SELECT 1 FROM application_carryovers c WHERE c.round_id = $4 AND c.person_id = a.person_id)
			ORDER BY a.person_id, r.year DESC`, year, cursor, hi, roundID)
		if err != nil {
			return err
		}
		src, err := readCarrySources(rows)
		if err != nil {
			return err
		}
		// One statement per batch (db.JSONRows): a statement per person
		// was a round trip each, the most of the time on PostgreSQL.
		type row struct {
			PersonID    int64  `json:"person_id"`
			FromApp     int64  `json:"from_app"`
			FromYear    int    `json:"from_year"`
			Declaration string `json:"declaration"`
			Items       string `json:"items"`
		}
		batch := make([]row, 0, len(src))
		for _, c := range src {
			var old rules.CalculatorRequest
			if err := json.Unmarshal([]byte(c.decl), &old); err != nil {
				return fmt.Errorf("application %d: declaration: %w", c.appID, err)
			}
			decl, items := Carry(old, c.year, year, newBook)
			db1, _ := json.Marshal(decl)
			it, _ := json.Marshal(items)
			batch = append(batch, row{c.personID, c.appID, c.year, string(db1), string(it)})
		}
		if len(batch) > 0 {
			b, _ := json.Marshal(batch)
			// "WHERE TRUE" tells SQLite's parser that ON CONFLICT belongs
			// to the INSERT, not to a join.
			if _, err := s.db.Exec(ctx, `INSERT INTO application_carryovers (round_id, person_id, from_application_id, from_year,
				declaration, items, created_at) SELECT $1, r.person_id, r.from_app, r.from_year, r.declaration, r.items, $2
				FROM `+s.db.JSONRows("$3", "person_id BIGINT", "from_app BIGINT", "from_year BIGINT", "declaration TEXT", "items TEXT")+
				` r WHERE TRUE ON CONFLICT (round_id, person_id) DO NOTHING`, roundID, db.Micros(s.clock.Now()), string(b)); err != nil {
				return err
			}
			n += len(batch)
		}
		last = hi
		return nil
	})
	if err != nil {
		return 0, 0, apperr.Wrap(err)
	}
	return last, n, nil
}

// Carry makes the declaration of newYear from one of fromYear, and the
// marks of its carried items (see the comment at the top of this file).
func Carry(old rules.CalculatorRequest, fromYear, newYear int, newBook *rules.Rulebook) (rules.CalculatorRequest, []CarriedItem) {
	oldStat := fmt.Sprintf("%04d-12", fromYear-1)
	if ob, err := rules.ForYear(fromYear); err == nil {
		oldStat = ob.StatisticsMonth(fromYear).String()
	}
	newStat := newBook.StatisticsMonth(newYear).String()
	extend := func(to string) string {
		if to == "" || to == oldStat {
			return newStat
		}
		return to
	}
	d := old
	d.ApplicationYear = newYear
	d.SocialInsurance = append([]rules.PeriodInput(nil), old.SocialInsurance...)
	for i := range d.SocialInsurance {
		d.SocialInsurance[i].To = extend(d.SocialInsurance[i].To)
	}
	d.Housing = append([]rules.HousingInput(nil), old.Housing...)
	for i := range d.Housing {
		d.Housing[i].To = extend(d.Housing[i].To)
	}
	d.Workplaces = append([]rules.WorkplaceInput(nil), old.Workplaces...)
	for i := range d.Workplaces {
		d.Workplaces[i].To = extend(d.Workplaces[i].To)
	}

	notes := map[string][]string{}
	res, err := Estimate(d)
	var fe *apperr.Error
	if err != nil && errors.As(err, &fe) {
		for _, f := range fe.Fields {
			item := itemOfField(f.Field)
			notes[item] = append(notes[item], f.Message)
		}
	}
	if ob, e := rules.ForYear(fromYear); err == nil && e == nil && ob.Version() != newBook.Version() {
		if facts, fe := d.Facts(); len(fe) == 0 {
			before := ob.Score(facts)
			for _, code := range rules.IndicatorCodes() {
				nw, _ := res.Indicator(code)
				was, _ := before.Indicator(code)
				if nw.Points != was.Points {
					notes[code] = append(notes[code], fmt.Sprintf("积分规则已变更（%s版→%s版）：同样的情况按原规则计%s分，按新规则计%s分",
						ob.Version(), newBook.Version(), was.Points, nw.Points))
				}
			}
		}
	}
	var items []CarriedItem
	present := declaredItems(d)
	for _, code := range append(rules.IndicatorCodes(), "other") {
		if !present[code] && len(notes[code]) == 0 {
			continue
		}
		items = append(items, CarriedItem{Item: code, FromYear: fromYear, Note: strings.Join(notes[code], "；")})
	}
	return d, items
}

// declaredItems says which indicators the declaration says something about.
func declaredItems(d rules.CalculatorRequest) map[string]bool {
	return map[string]bool{
		rules.CodeEmployment:        len(d.SocialInsurance) > 0 || len(d.BackPaid) > 0,
		rules.CodeHousing:           len(d.Housing) > 0,
		rules.CodeEducation:         d.Education.Level != "" && d.Education.Level != "none",
		rules.CodeStudyDeduction:    d.StudyMonths > 0,
		rules.CodeWorkResidenceArea: len(d.Workplaces) > 0,
		rules.CodeInnovation:        len(d.Innovation) > 0,
		rules.CodeTax:               len(d.IncomeTax) > 0 || d.TaxOffences > 0,
		rules.CodeHonors:            len(d.Honors) > 0,
		rules.CodeLawRecord:         d.Detentions > 0 || d.CriminalRecord,
	}
}

// itemOfField maps a field path of the declaration to its indicator.
func itemOfField(field string) string {
	head, _, _ := strings.Cut(field, ".")
	head, _, _ = strings.Cut(head, "[")
	switch head {
	case "social_insurance", "back_paid":
		return rules.CodeEmployment
	case "housing":
		return rules.CodeHousing
	case "education":
		return rules.CodeEducation
	case "study_months":
		return rules.CodeStudyDeduction
	case "workplaces":
		return rules.CodeWorkResidenceArea
	case "innovation":
		return rules.CodeInnovation
	case "income_tax", "tax_offences":
		return rules.CodeTax
	case "honors":
		return rules.CodeHonors
	case "detentions", "criminal_record":
		return rules.CodeLawRecord
	}
	return "other"
}

// pendingCarry is the carry-over waiting for the person in the round, if any.
type pendingCarry struct {
	id, fromApp int64
	fromYear    int
	decl        rules.CalculatorRequest
	items       []CarriedItem
}

func (s *Service) pendingCarry(ctx context.Context, roundID, personID int64) (*pendingCarry, error) {
	var p pendingCarry
	var decl, items string
	err := s.db.QueryRow(ctx, `SELECT id, from_application_id, from_year, declaration, items FROM application_carryovers
		WHERE round_id = $1 AND person_id = $2 AND application_id = 0`, roundID, personID).Scan(&p.id, &p.fromApp, &p.fromYear, &decl, &items)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(decl), &p.decl); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(items), &p.items); err != nil {
		return nil, err
	}
	return &p, nil
}

// adoptCarry ties the carry-over to the new draft appID and re-links the
// attachments of the carried indicators; it runs in Open's transaction.
func (s *Service) adoptCarry(ctx context.Context, p *pendingCarry, appID int64) error {
	r, err := s.db.Exec(ctx, `UPDATE application_carryovers SET application_id = $1 WHERE id = $2 AND application_id = 0`, appID, p.id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return errStale
	}
	_, err = s.db.Exec(ctx, `INSERT INTO attachments (application_id, indicator, blob_key, filename, content_type, size_bytes,
		uploaded_by, created_at) SELECT $1, indicator, blob_key, filename, content_type, size_bytes, uploaded_by, $2
		FROM attachments WHERE application_id = $3 AND deleted_at = 0 ORDER BY id`, appID, db.Micros(s.clock.Now()), p.fromApp)
	return err
}

// Carried returns the carried items of an application not yet confirmed,
// in indicator order; none when the application was not carried over.
func (s *Service) Carried(ctx context.Context, c actor.Actor, a *Application) ([]CarriedItem, error) {
	if err := s.mayRead(ctx, c, a); err != nil {
		return nil, err
	}
	// Read with the application: no query of its own (the portal's pages
	// have a query budget).
	if a.carried == "" {
		return nil, nil
	}
	var items []CarriedItem
	if err := json.Unmarshal([]byte(a.carried), &items); err != nil {
		return nil, apperr.Wrap(err)
	}
	return items, nil
}

func (s *Service) carried(ctx context.Context, appID int64) ([]CarriedItem, string, error) {
	var raw string
	err := s.db.QueryRow(ctx, `SELECT items FROM application_carryovers WHERE application_id = $1`, appID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", apperr.Wrap(err)
	}
	var items []CarriedItem
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		return nil, "", apperr.Wrap(err)
	}
	return items, raw, nil
}

// Confirm removes the mark of one carried item: the applicant has checked
// it. Confirming an item not marked (or no longer) changes nothing.
func (s *Service) Confirm(ctx context.Context, c actor.Actor, appID int64, item string) ([]CarriedItem, error) {
	a, err := s.Get(ctx, c, appID)
	if err != nil {
		return nil, err
	}
	if c.PersonID == 0 || a.PersonID != c.PersonID {
		return nil, ErrNotFound
	}
	if !a.Status.Editable() {
		return nil, apperr.New(apperr.Conflict, "申请已提交，不能再修改（当前状态："+StatusName(a.Status)+"）")
	}
	items, raw, err := s.carried(ctx, appID)
	if err != nil {
		return nil, err
	}
	kept := items[:0:0]
	found := false
	for _, it := range items {
		if it.Item == item {
			found = true
			continue
		}
		kept = append(kept, it)
	}
	if !found {
		return items, nil
	}
	b, _ := json.Marshal(kept)
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		// Conditional on the list read: a concurrent confirmation makes
		// this match nothing instead of being undone.
		r, err := s.db.Exec(ctx, `UPDATE application_carryovers SET items = $1 WHERE application_id = $2 AND items = $3`,
			string(b), appID, raw)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return errStale
		}
		return s.audit.Record(ctx, audit.Entry{Action: "application.carry_confirm", ObjectType: "application",
			ObjectID: fmt.Sprint(appID), Reason: item})
	})
	if err == errStale {
		return nil, err
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return kept, nil
}

// unconfirmedCarry refuses a submission while carried items are unconfirmed.
func (s *Service) unconfirmedCarry(ctx context.Context, appID int64) error {
	items, _, err := s.carried(ctx, appID)
	if err != nil || len(items) == 0 {
		return err
	}
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = ItemName(it.Item)
	}
	return apperr.Field("carried", "以下从往年申请带入的内容尚未确认，请逐项核对并确认后再提交："+strings.Join(names, "、"))
}

// CarryOverArgs is the durable job that carries a round's applicants over.
type CarryOverArgs struct {
	RoundID int64 `json:"round_id"`
}

// Kind names the job.
func (CarryOverArgs) Kind() string { return "application_carry_over" }

// InsertOpts: one live job per round (running included, so a second click
// while it runs adds nothing).
func (CarryOverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: CarryQueue, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning,
		rivertype.JobStateScheduled}}}
}

// CarryQueue is the River queue of the carry-over job: one at a time per
// process (each round's job is unique, and the batches share the writer).
const CarryQueue = "carry_over"

type carryWorker struct {
	river.WorkerDefaults[CarryOverArgs]
	s *Service
}

// Work runs CarryOver; after a crash River runs it again and the persons
// already carried are skipped.
func (w *carryWorker) Work(ctx context.Context, job *river.Job[CarryOverArgs]) error {
	_, err := w.s.CarryOver(ctx, job.Args.RoundID)
	if apperr.Is(err, apperr.NotFound) {
		return river.JobCancel(err)
	}
	return err
}

// RegisterCarryOver registers the carry-over job with j; StartCarryOver
// then inserts it.
func (s *Service) RegisterCarryOver(j *jobs.Jobs) {
	jobs.Register(j, river.Worker[CarryOverArgs](&carryWorker{s: s}))
	j.Queue(CarryQueue, 1)
	s.jobs = j
}

// StartCarryOver asks for the carry-over into the round as a durable job
// (an officer's action). It reports false when one is already under way.
func (s *Service) StartCarryOver(ctx context.Context, c actor.Actor, roundID int64) (bool, error) {
	if s.jobs == nil {
		return false, apperr.New(apperr.Conflict, "后台任务未启用，无法带入申请")
	}
	var inserted bool
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if inserted, err = s.jobs.Insert(ctx, CarryOverArgs{RoundID: roundID}, nil); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "round.carry_over", ObjectType: "round", ObjectID: fmt.Sprint(roundID),
			Reason: fmt.Sprintf("by user %d", c.UserID)})
	})
	if err != nil {
		return false, apperr.Wrap(err)
	}
	return inserted, nil
}
