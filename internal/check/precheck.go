package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	"jifen/internal/rules"
)

// The pre-check (预核验, docs/precheck.md): before submitting, an applicant
// who consents has the agencies asked about them through the same
// connectors, rate limits and call log as a round run, and sees per check
// item what each agency holds next to what they declared. It is advice: it
// changes nothing by itself, does not block submission, and the round's
// cross-check asks again. The agencies are asked by a durable job on the
// worker (the internet listener never calls the agencies: they are on the
// government network), so a crash between the request and the answer loses
// nothing; the page polls until the job has finished.

// Pre-check statuses.
const (
	PrecheckQueued    = "queued"
	PrecheckDone      = "done"
	PrecheckCancelled = "cancelled"
)

// PrecheckPurpose is the purpose the applicant consents to; it is recorded
// with the consent and in the audit trail.
const PrecheckPurpose = "提交申请前，由系统向公安、人力社保、不动产登记、住房城乡建设、教育、税务、科技、工会等部门查询本人登记信息，" +
	"与本人填报内容逐项比对，结果仅供本人核对参考，不作为审核结论"

// DefaultPrecheckPerDay is how many pre-checks one person may ask for in a
// Beijing day unless configured (JIFEN_PRECHECK_PER_DAY).
const DefaultPrecheckPerDay = 3

// precheckWait bounds one agency's part of a pre-check (its retries and its
// wait for a call slot included): an agency that cannot answer by then is
// shown as unavailable, to be tried again later.
const precheckWait = 20 * time.Second

// PrecheckQueue is the job queue of pre-checks: their own, so a person
// waiting at the page is never queued behind a round's batches.
const PrecheckQueue = "check_precheck"

// Consent is an applicant's consent to the pre-check.
type Consent struct {
	Purpose     string
	GrantedAt   time.Time
	WithdrawnAt time.Time
}

// Active reports whether the consent stands (granted, not withdrawn).
func (c *Consent) Active() bool { return c != nil && !c.GrantedAt.IsZero() && c.WithdrawnAt.IsZero() }

// PrecheckCounts are the outcomes of a pre-check counted: the only part of
// it the employer (and the office) sees.
type PrecheckCounts struct {
	Match       int `json:"match"`
	Mismatch    int `json:"mismatch"`
	NotFound    int `json:"not_found"`
	Unavailable int `json:"unavailable"`
}

// AgencyState is how one agency answered a pre-check.
type AgencyState struct {
	Answered bool   `json:"answered"`
	Detail   string `json:"detail,omitempty"`   // why it did not answer, in Chinese
	RetryAt  int64  `json:"retry_at,omitempty"` // when to try again (micros), when known
}

// Precheck is one pre-check, as its applicant sees it.
type Precheck struct {
	ID            int64
	ApplicationID int64
	PersonID      int64
	Status        string
	RequestedAt   time.Time
	FinishedAt    time.Time
	// Declaration is the declaration as it was checked; Verified the facts
	// as the agencies hold them (the declared value where an agency did not
	// answer).
	Declaration rules.CalculatorRequest
	Verified    rules.CalculatorRequest
	Outcomes    []Outcome
	Agencies    map[string]AgencyState
	Counts      PrecheckCounts
}

// Outcome returns the outcome of one check item, or false.
func (p *Precheck) Outcome(item string) (Outcome, bool) {
	for _, o := range p.Outcomes {
		if o.Item == item {
			return o, true
		}
	}
	return Outcome{}, false
}

// Takeable reports whether the agency's value of item can be taken into the
// draft: the item was answered and differs (or the agency holds nothing),
// and it is not the birth date, which comes from the identity card.
func (p *Precheck) Takeable(item string) bool {
	o, ok := p.Outcome(item)
	return ok && p.Status == PrecheckDone && item != rules.CodeAge && (o.Outcome == Mismatch || o.Outcome == NotFound)
}

// Agrees reports whether item of decl now says what the agencies hold (the
// applicant took their value, or corrected it by hand).
func (p *Precheck) Agrees(decl rules.CalculatorRequest, item string) bool {
	d, v := copyRequest(decl), copyRequest(p.Verified)
	normalise(&d)
	normalise(&v)
	return rules.SamePart(&d, &v, item)
}

// Accepted is decl with the agencies' value of every item they answered:
// what the round's cross-check would score if the records stay as they are.
func (p *Precheck) Accepted(decl rules.CalculatorRequest) rules.CalculatorRequest {
	out := copyRequest(decl)
	for _, o := range p.Outcomes {
		if o.Outcome != Unavailable {
			rules.CopyPart(&out, &p.Verified, o.Item)
		}
	}
	clipToStatisticsDate(&out)
	return out
}

// Waiting reports whether the pre-check is still with the agencies.
func (p *Precheck) Waiting() bool { return p.Status == PrecheckQueued }

// PrecheckSummary is what an employer sees of an applicant's latest
// pre-check: that it was done, when, and its counts; never a value.
type PrecheckSummary struct {
	At     time.Time
	Counts PrecheckCounts
}

// clipToStatisticsDate ends every period at the statistics date (December
// of the year before the application year) and drops those that start
// after it: an agency's record runs to today, the declaration may not.
func clipToStatisticsDate(r *rules.CalculatorRequest) {
	limit := fmt.Sprintf("%04d-12", r.ApplicationYear-1)
	clip := func(from, to *string) bool {
		if len(*from) == 7 && *from > limit {
			return false
		}
		if len(*to) == 7 && *to > limit {
			*to = limit
		}
		return true
	}
	var si, bp []rules.PeriodInput
	for _, p := range r.SocialInsurance {
		if clip(&p.From, &p.To) {
			si = append(si, p)
		}
	}
	for _, p := range r.BackPaid {
		if clip(&p.From, &p.To) {
			bp = append(bp, p)
		}
	}
	var hs []rules.HousingInput
	for _, h := range r.Housing {
		if clip(&h.From, &h.To) {
			hs = append(hs, h)
		}
	}
	var ws []rules.WorkplaceInput
	for _, w := range r.Workplaces {
		if clip(&w.From, &w.To) {
			ws = append(ws, w)
		}
	}
	r.SocialInsurance, r.BackPaid, r.Housing, r.Workplaces = si, bp, hs, ws
}

// applicantOf refuses anyone but the applicant whose application a is.
func applicantOf(c actor.Actor, a *application.Application) error {
	if c.PersonID == 0 || !c.Can(actor.PermApply) || a == nil || a.PersonID != c.PersonID {
		return application.ErrNotFound
	}
	return nil
}

// Consent returns the applicant's consent to the pre-check (nil: never
// given).
func (e *Engine) Consent(ctx context.Context, c actor.Actor) (*Consent, error) {
	if c.PersonID == 0 {
		return nil, application.ErrNotFound
	}
	var purpose string
	var granted, withdrawn int64
	err := e.db.QueryRow(ctx, `SELECT purpose, granted_at, withdrawn_at FROM precheck_consents WHERE person_id = $1`, c.PersonID).
		Scan(&purpose, &granted, &withdrawn)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	out := &Consent{Purpose: purpose, GrantedAt: db.FromMicros(granted)}
	if withdrawn > 0 {
		out.WithdrawnAt = db.FromMicros(withdrawn)
	}
	return out, nil
}

// GrantConsent records the applicant's consent to the pre-check with its
// purpose, audited.
func (e *Engine) GrantConsent(ctx context.Context, c actor.Actor) error {
	if c.PersonID == 0 || !c.Can(actor.PermApply) {
		return application.ErrNotFound
	}
	now := db.Micros(e.clock.Now())
	return e.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := e.db.Exec(ctx, `INSERT INTO precheck_consents (person_id, purpose, granted_at) VALUES ($1, $2, $3)
			ON CONFLICT (person_id) DO UPDATE SET purpose = excluded.purpose, granted_at = excluded.granted_at, withdrawn_at = 0`,
			c.PersonID, PrecheckPurpose, now); err != nil {
			return err
		}
		return e.audited(ctx, c, "precheck.consent", "person", strconv.FormatInt(c.PersonID, 10), "同意预核验，用途："+PrecheckPurpose)
	})
}

// WithdrawConsent withdraws the applicant's consent, audited: nothing more
// is asked about them, not even a pre-check already requested and waiting
// for the worker (it is cancelled).
func (e *Engine) WithdrawConsent(ctx context.Context, c actor.Actor) error {
	if c.PersonID == 0 || !c.Can(actor.PermApply) {
		return application.ErrNotFound
	}
	now := db.Micros(e.clock.Now())
	return e.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := e.db.Exec(ctx, `UPDATE precheck_consents SET withdrawn_at = $1 WHERE person_id = $2 AND withdrawn_at = 0`, now, c.PersonID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // nothing stood: withdrawing twice is a no-op
		}
		if _, err := e.db.Exec(ctx, `UPDATE prechecks SET status = 'cancelled', finished_at = $1 WHERE person_id = $2 AND status = 'queued'`,
			now, c.PersonID); err != nil {
			return err
		}
		return e.audited(ctx, c, "precheck.withdraw", "person", strconv.FormatInt(c.PersonID, 10), "撤回预核验授权")
	})
}

// ErrNoConsent is the answer to a pre-check asked for without a standing
// consent.
var ErrNoConsent = apperr.Field("consent", "请先阅读并勾选同意查询用途，才能向各部门查询您的登记信息")

// RequestPrecheck asks for a pre-check of the applicant's application a
// (read by the caller with the application service): it needs a standing
// consent and is refused past the daily limit; a pre-check still waiting
// for the agencies is answered again instead of asking twice. The request,
// its audit record and its job are one transaction.
func (e *Engine) RequestPrecheck(ctx context.Context, c actor.Actor, a *application.Application) (*Precheck, error) {
	if err := applicantOf(c, a); err != nil {
		return nil, err
	}
	if !a.Status.Editable() {
		return nil, apperr.New(apperr.Conflict, "申请已提交，不需要再预核验；提交后的比对结果将在初核结果中告知（当前状态："+
			application.StatusName(a.Status)+"）")
	}
	limit := e.PrecheckPerDay
	if limit <= 0 {
		limit = DefaultPrecheckPerDay
	}
	now := e.clock.Now()
	day := clock.BeijingDay(now).Format(time.DateOnly)
	decl, _ := json.Marshal(a.Declaration)
	var id int64
	err := e.db.WithTx(ctx, func(ctx context.Context) error {
		// The consent row is the lock: a person's concurrent requests wait
		// here for each other, so the count below is never read stale.
		res, err := e.db.Exec(ctx, `UPDATE precheck_consents SET used_at = $1 WHERE person_id = $2 AND withdrawn_at = 0`,
			db.Micros(now), c.PersonID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNoConsent
		}
		err = e.db.QueryRow(ctx, `SELECT id FROM prechecks WHERE application_id = $1 AND status = 'queued' ORDER BY id DESC LIMIT 1`,
			a.ID).Scan(&id)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var used int
		if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM prechecks WHERE person_id = $1 AND day = $2 AND status <> 'cancelled'`,
			c.PersonID, day).Scan(&used); err != nil {
			return err
		}
		if used >= limit {
			return apperr.New(apperr.TooManyRequests, fmt.Sprintf("今天的预核验次数已用完（每人每天最多%d次），请明天再试；不预核验也可以直接提交申请", limit))
		}
		if err := e.db.QueryRow(ctx, `INSERT INTO prechecks (application_id, person_id, day, status, requested_at, declaration)
			VALUES ($1, $2, $3, 'queued', $4, $5) RETURNING id`, a.ID, c.PersonID, day, db.Micros(now), string(decl)).Scan(&id); err != nil {
			return err
		}
		if _, err := e.jobs.Insert(ctx, precheckArgs{ID: id}, nil); err != nil {
			return err
		}
		return e.audited(ctx, c, "precheck.request", "application", strconv.FormatInt(a.ID, 10),
			fmt.Sprintf("预核验 #%d，今日第%d次，用途：%s", id, used+1, PrecheckPurpose))
	})
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, apperr.Wrap(err)
	}
	return e.precheck(ctx, id)
}

const selectPrecheck = `SELECT id, application_id, person_id, status, requested_at, finished_at, declaration, verified, outcomes, agencies,
	matched, mismatched, not_found, unavailable FROM prechecks`

func scanPrecheck(row interface{ Scan(...any) error }) (*Precheck, error) {
	p := &Precheck{}
	var req, fin int64
	var decl, ver, outs, ags string
	if err := row.Scan(&p.ID, &p.ApplicationID, &p.PersonID, &p.Status, &req, &fin, &decl, &ver, &outs, &ags,
		&p.Counts.Match, &p.Counts.Mismatch, &p.Counts.NotFound, &p.Counts.Unavailable); err != nil {
		return nil, err
	}
	p.RequestedAt = db.FromMicros(req)
	if fin > 0 {
		p.FinishedAt = db.FromMicros(fin)
	}
	for _, x := range []struct {
		s string
		v any
	}{{decl, &p.Declaration}, {ver, &p.Verified}, {outs, &p.Outcomes}, {ags, &p.Agencies}} {
		if x.s != "" {
			if err := json.Unmarshal([]byte(x.s), x.v); err != nil {
				return nil, fmt.Errorf("precheck %d: %w", p.ID, err)
			}
		}
	}
	return p, nil
}

func (e *Engine) precheck(ctx context.Context, id int64) (*Precheck, error) {
	p, err := scanPrecheck(e.db.QueryRow(ctx, selectPrecheck+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "预核验记录不存在")
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return p, nil
}

// PrecheckState is everything the applicant's summary page shows of the
// pre-check: the consent, today's count against the limit and the latest
// pre-check of application a (nil: none).
type PrecheckState struct {
	Consent     *Consent
	Used, Limit int
	Latest      *Precheck
}

// StateOf reads the applicant's PrecheckState in one query (the summary
// page is read often and keeps to its query budget).
func (e *Engine) StateOf(ctx context.Context, c actor.Actor, a *application.Application) (*PrecheckState, error) {
	if err := applicantOf(c, a); err != nil {
		return nil, err
	}
	st := &PrecheckState{Limit: e.PrecheckPerDay}
	if st.Limit <= 0 {
		st.Limit = DefaultPrecheckPerDay
	}
	day := clock.BeijingDay(e.clock.Now()).Format(time.DateOnly)
	var purpose string
	var granted, withdrawn int64
	row := e.db.QueryRow(ctx, `SELECT COALESCE(c.purpose, ''), COALESCE(c.granted_at, 0), COALESCE(c.withdrawn_at, 0),
		(SELECT COUNT(*) FROM prechecks d WHERE d.person_id = x.person AND d.day = $2 AND d.status <> 'cancelled'),
		COALESCE(p.id, 0), COALESCE(p.application_id, 0), COALESCE(p.person_id, 0), COALESCE(p.status, ''),
		COALESCE(p.requested_at, 0), COALESCE(p.finished_at, 0), COALESCE(p.declaration, ''), COALESCE(p.verified, ''),
		COALESCE(p.outcomes, ''), COALESCE(p.agencies, ''), COALESCE(p.matched, 0), COALESCE(p.mismatched, 0),
		COALESCE(p.not_found, 0), COALESCE(p.unavailable, 0)
		FROM (SELECT CAST($1 AS BIGINT) AS person) x LEFT JOIN precheck_consents c ON c.person_id = x.person
		LEFT JOIN prechecks p ON p.id = (SELECT MAX(q.id) FROM prechecks q WHERE q.application_id = $3 AND q.status <> 'cancelled')`,
		c.PersonID, day, a.ID)
	p, err := scanPrecheck(prefixed{row: row, head: []any{&purpose, &granted, &withdrawn, &st.Used}})
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if granted > 0 {
		st.Consent = &Consent{Purpose: purpose, GrantedAt: db.FromMicros(granted)}
		if withdrawn > 0 {
			st.Consent.WithdrawnAt = db.FromMicros(withdrawn)
		}
	}
	if p.ID > 0 {
		st.Latest = p
	}
	return st, nil
}

// prefixed scans a row whose first columns are head and the rest a
// pre-check's.
type prefixed struct {
	row  interface{ Scan(...any) error }
	head []any
}

func (p prefixed) Scan(dest ...any) error { return p.row.Scan(append(p.head, dest...)...) }

// PrecheckSummaryOf is what the employer of application a sees of its
// applicant's latest finished pre-check: its date and counts (nil: none).
// a was read by the caller through the application service, which checked
// that the caller may see it.
func (e *Engine) PrecheckSummaryOf(ctx context.Context, a *application.Application) (*PrecheckSummary, error) {
	var fin int64
	var s PrecheckSummary
	err := e.db.QueryRow(ctx, `SELECT finished_at, matched, mismatched, not_found, unavailable FROM prechecks
		WHERE application_id = $1 AND status = 'done' ORDER BY id DESC LIMIT 1`, a.ID).
		Scan(&fin, &s.Counts.Match, &s.Counts.Mismatch, &s.Counts.NotFound, &s.Counts.Unavailable)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	s.At = db.FromMicros(fin)
	return &s, nil
}

// TakeAgencyValue puts the agencies' value of one check item, as the
// pre-check found it, into the applicant's draft (version: the draft's
// version the page showed), with a line on the timeline. The round's
// cross-check then finds that item as the agencies hold it.
func (e *Engine) TakeAgencyValue(ctx context.Context, c actor.Actor, a *application.Application, precheckID int64, item string,
	version int) (*application.Application, error) {
	if err := applicantOf(c, a); err != nil {
		return nil, err
	}
	p, err := e.precheck(ctx, precheckID)
	if err != nil {
		return nil, err
	}
	if p.ApplicationID != a.ID || p.PersonID != c.PersonID {
		return nil, apperr.New(apperr.NotFound, "预核验记录不存在")
	}
	if _, ok := p.Outcome(item); !ok {
		return nil, apperr.Field("item", "没有该核验项目")
	}
	if !p.Takeable(item) {
		return nil, apperr.Field("item", "“"+rules.CheckItemName(item)+"”不需要或不能采用部门记录")
	}
	decl := copyRequest(a.Declaration)
	rules.CopyPart(&decl, &p.Verified, item)
	clipToStatisticsDate(&decl)
	note := fmt.Sprintf("申请人采用了部门登记记录：%s（%s 预核验）", rules.CheckItemName(item),
		p.FinishedAt.In(clock.Beijing).Format("2006-01-02 15:04"))
	return e.own.Applications.SaveDraftNoted(ctx, c, a, decl, version, note)
}

// precheckArgs is the job that asks the agencies for one pre-check.
type precheckArgs struct {
	ID int64 `json:"id"`
}

func (precheckArgs) Kind() string { return "check_precheck" }

func (precheckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: PrecheckQueue, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type precheckWorker struct {
	river.WorkerDefaults[precheckArgs]
	e *Engine
}

func (w *precheckWorker) Work(ctx context.Context, job *river.Job[precheckArgs]) error {
	return w.e.doPrecheck(ctx, job)
}

// precheckAgencies are the agencies a pre-check asks: every one that holds
// a check item.
func precheckAgencies() []string {
	var out []string
	seen := map[string]bool{}
	for _, item := range rules.CheckItems() {
		for _, a := range agency.ItemAgencies(item) {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// doPrecheck asks every agency about the applicant at once and stores what
// they hold with each item's outcome. An agency that cannot answer (down,
// busy, switched off) is recorded as unavailable with when to try again;
// the pre-check still finishes, since it is advice and the applicant waits.
func (e *Engine) doPrecheck(ctx context.Context, job *river.Job[precheckArgs]) error {
	p, err := e.precheck(ctx, job.Args.ID)
	if apperr.Is(err, apperr.NotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if p.Status != PrecheckQueued {
		return nil
	}
	var enc, credit, district string
	var withdrawn int64
	err = e.db.QueryRow(ctx, `SELECT p.id_enc, e.credit_code, e.district, COALESCE(c.withdrawn_at, 1)
		FROM applications a JOIN persons p ON p.id = a.person_id JOIN employers e ON e.id = a.employer_id
		LEFT JOIN precheck_consents c ON c.person_id = a.person_id WHERE a.id = $1`, p.ApplicationID).Scan(&enc, &credit, &district, &withdrawn)
	if err != nil {
		return err
	}
	if withdrawn != 0 {
		// The consent was withdrawn after the request: nothing is asked.
		_, err := e.db.Exec(ctx, `UPDATE prechecks SET status = 'cancelled', finished_at = $1 WHERE id = $2 AND status = 'queued'`,
			db.Micros(e.clock.Now()), p.ID)
		return err
	}
	subject, err := e.keys.DecryptString(enc, "id_number")
	if err != nil {
		return fmt.Errorf("precheck %d: id number: %w", p.ID, err)
	}
	facts, states := e.askAll(ctx, p, subject)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	verified, outcomes := Verify(p.Declaration, facts, Employer{CreditCode: credit, District: district}, nil, nil)
	var n PrecheckCounts
	for _, o := range outcomes {
		switch o.Outcome {
		case Match:
			n.Match++
		case Mismatch:
			n.Mismatch++
		case NotFound:
			n.NotFound++
		default:
			n.Unavailable++
		}
	}
	ver, _ := json.Marshal(verified)
	outs, _ := json.Marshal(outcomes)
	ags, _ := json.Marshal(states)
	now := e.clock.Now()
	return e.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := e.db.Exec(ctx, `UPDATE prechecks SET status = 'done', finished_at = $1, verified = $2, outcomes = $3, agencies = $4,
			matched = $5, mismatched = $6, not_found = $7, unavailable = $8 WHERE id = $9 AND status = 'queued'`,
			db.Micros(now), string(ver), string(outs), string(ags), n.Match, n.Mismatch, n.NotFound, n.Unavailable, p.ID)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 1 {
			// The timeline shows the pre-check with its date and counts (the
			// employer sees the timeline too: no value is written here).
			if err := e.own.Applications.Note(ctx, actor.SystemActor("precheck"), p.ApplicationID, "申请人进行了预核验（仅供参考）："+n.String()); err != nil {
				return err
			}
		}
		return jobs.Complete(ctx, e.jobs, job)
	})
}

// String is the counts in words.
func (n PrecheckCounts) String() string {
	parts := []string{fmt.Sprintf("一致%d项", n.Match)}
	if n.Mismatch > 0 {
		parts = append(parts, fmt.Sprintf("不一致%d项", n.Mismatch))
	}
	if n.NotFound > 0 {
		parts = append(parts, fmt.Sprintf("无记录%d项", n.NotFound))
	}
	if n.Unavailable > 0 {
		parts = append(parts, fmt.Sprintf("暂无法核验%d项", n.Unavailable))
	}
	return strings.Join(parts, "，")
}

// askAll asks every agency about subject in parallel, each bounded by
// precheckWait, through the connectors (rate limit, breaker, call log).
func (e *Engine) askAll(ctx context.Context, p *Precheck, subject string) (Facts, map[string]AgencyState) {
	ags := precheckAgencies()
	facts := Facts{}
	states := make(map[string]AgencyState, len(ags))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ag := range ags {
		wg.Go(func() {
			actx, cancel := context.WithTimeout(ctx, precheckWait)
			defer cancel()
			reqID := fmt.Sprintf("jifen-pre%d-%s", p.ID, ag)
			ans, err := e.conn.Query(actx, ag, reqID, []string{subject}, CallMeta{Kind: "precheck", AppFrom: p.ApplicationID, AppTo: p.ApplicationID})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				facts[ag] = ans[subject]
				states[ag] = AgencyState{Answered: true}
				return
			}
			st := AgencyState{Detail: "接口暂不可用"}
			var w *WaitError
			switch {
			case errors.As(err, &w):
				st.RetryAt = db.Micros(w.Until)
				if w.Reason == "rate_limited" {
					st.Detail = "查询繁忙"
				} else {
					st.Detail = "接口暂停服务"
				}
			case errors.Is(err, ErrDisabled):
				st.Detail = "接口已暂停使用"
			case errors.Is(err, context.DeadlineExceeded):
				st.Detail = "等待答复超时"
			}
			if st.RetryAt == 0 {
				st.RetryAt = db.Micros(e.clock.Now().Add(10 * time.Minute))
			}
			states[ag] = st
			e.log.Info("precheck: agency did not answer", "precheck", p.ID, "agency", ag, "err", err)
		})
	}
	wg.Wait()
	return facts, states
}
