package review

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/discrepancy"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Decision is an officer's decision on one indicator of a 复查 request.
type Decision struct {
	Indicator string
	Outcome   string // Upheld | Rejected
	Reason    string
	// Corrected holds the facts of the indicator where the evidence changed
	// them (only its fields are read: rules.CopyPart); nil keeps the facts.
	Corrected *rules.CalculatorRequest
	// UseDeclared corrects the indicator to the applicant's declared facts
	// (the evidence proved the declaration right): the common case, which
	// needs no facts typed in.
	UseDeclared bool
	// Version is the case's version the officer saw (CaseView.Version).
	Version int
}

const (
	minReason = 2
	maxReason = 1000
)

func checkText(field, text, hint string, required bool) (string, error) {
	text = strings.TrimSpace(text)
	n := utf8.RuneCountInString(text)
	switch {
	case required && n < minReason:
		return "", apperr.Field(field, hint)
	case n > maxReason:
		return "", apperr.Field(field, fmt.Sprintf("内容不能超过%d字", maxReason))
	}
	return text, nil
}

// Decide records the decision on one indicator of a received 复查 request.
// The officer must hold the case and be of its district (else 404,
// audited). Corrected facts are validated exactly as a declaration is
// (application.Estimate) and need the round not to be frozen. When the
// last indicator is decided, the case completes (complete).
func (s *Service) Decide(ctx context.Context, officer actor.Actor, id int64, d Decision) error {
	var fe []apperr.FieldError
	reason, err := checkText("reason", d.Reason, "请写明复查决定的理由", true)
	if err != nil {
		fe = append(fe, apperr.As(err).Fields...)
	}
	if d.Outcome != Upheld && d.Outcome != Rejected {
		fe = append(fe, apperr.FieldError{Field: "outcome", Message: "请选择复查决定：支持复查请求或驳回"})
	}
	if d.UseDeclared && d.Corrected != nil {
		fe = append(fe, apperr.FieldError{Field: "corrected", Message: "按申报事实更正时不能另填更正后的事实"})
	}
	if (d.Corrected != nil || d.UseDeclared) && d.Outcome == Rejected {
		fe = append(fe, apperr.FieldError{Field: "corrected", Message: "驳回复查请求时不能更正事实；事实有变化的，请选择支持复查请求"})
	}
	if (d.Corrected != nil || d.UseDeclared) && d.Indicator == rules.CodeAge {
		fe = append(fe, apperr.FieldError{Field: "corrected", Message: "年龄由身份证号码确定，不能更正"})
	}
	if err := apperr.Fields(fe); err != nil {
		return err
	}
	c, err := s.officerCase(ctx, officer, id, true)
	if err != nil {
		return s.denied(ctx, id, err)
	}
	if !contains(c.Indicators, d.Indicator) {
		return apperr.Field("indicator", "该指标不在申请人的复查申请之中")
	}
	if err := open(c); err != nil {
		return err
	}
	var corrected string
	if d.Corrected != nil || d.UseDeclared {
		a, err := s.apps.Get(ctx, officer, id)
		if err != nil {
			return err
		}
		if d.UseDeclared {
			d.Corrected = &a.Declaration
		}
		decl := a.Declaration
		rules.CopyPart(&decl, d.Corrected, d.Indicator)
		if _, err := application.Estimate(decl); err != nil {
			return prefixFields(err, "corrected.")
		}
		if err := s.requireUnfrozen(ctx, c.RoundID); err != nil {
			return err
		}
		corrected = decl.PartJSON(d.Indicator)
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.bump(ctx, id, d.Version, "open"); err != nil {
			return err
		}
		if pending, err := s.inspectionPending(ctx, id, d.Indicator); err != nil {
			return err
		} else if pending {
			return apperr.New(apperr.Conflict, "该指标须先完成现场审核，记录现场审核结果后再作出复查决定")
		}
		_, err := s.db.Exec(ctx, `INSERT INTO review_decisions (application_id, indicator, outcome, reason, corrected, decided_by, decided_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, d.Indicator, d.Outcome, reason, corrected, officer.UserID, db.Micros(s.clock.Now()))
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, "该指标已作出复查决定，请刷新页面后查看")
		}
		if err != nil {
			return err
		}
		text := fmt.Sprintf("复查决定：%s — %s。理由：%s", rules.CheckItemName(d.Indicator), OutcomeName(d.Outcome), reason)
		if corrected != "" {
			text += "（已按核实的材料更正该指标的事实）"
		}
		if err := s.apps.ReviewStep(ctx, officer, id, text); err != nil {
			return err
		}
		if err := s.record(ctx, officer, "review.decide", id, text); err != nil {
			return err
		}
		return s.complete(ctx, officer, c)
	})
}

func (s *Service) requireUnfrozen(ctx context.Context, roundID int64) error {
	if s.freezer == nil {
		return nil
	}
	return s.freezer.RequireUnfrozen(ctx, roundID)
}

// prefixFields puts prefix before every field an error names, so that the
// API's paths point into the request body.
func prefixFields(err error, prefix string) error {
	e := apperr.As(err)
	if len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = nil
	for _, f := range e.Fields {
		out.Fields = append(out.Fields, apperr.FieldError{Field: prefix + f.Field, Message: f.Message})
	}
	return &out
}

// decided returns the decisions of a case by indicator.
func (s *Service) decided(ctx context.Context, id int64) (map[string]DecisionView, error) {
	rows, err := s.db.Query(ctx, `SELECT indicator, outcome, reason, corrected, decided_by, decided_at FROM review_decisions
		WHERE application_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]DecisionView{}
	for rows.Next() {
		var d DecisionView
		var at int64
		if err := rows.Scan(&d.Indicator, &d.Outcome, &d.Reason, &d.Corrected, &d.DecidedBy, &at); err != nil {
			return nil, err
		}
		d.DecidedAt = db.FromMicros(at)
		d.IndicatorName, d.OutcomeName = rules.CheckItemName(d.Indicator), OutcomeName(d.Outcome)
		out[d.Indicator] = d
	}
	return out, rows.Err()
}

// complete closes the case once every indicator asked for is decided: the
// decisions' corrected facts are scored by the rules engine; a different
// score or eligibility waits for a second officer's approval
// (score_changes), anything else makes the application final now.
func (s *Service) complete(ctx context.Context, officer actor.Actor, c *caseRow) error {
	ds, err := s.decided(ctx, c.AppID)
	if err != nil {
		return err
	}
	for _, ind := range c.Indicators {
		if _, ok := ds[ind]; !ok {
			return nil
		}
	}
	res, facts, changed, err := s.rescore(ctx, c, ds)
	if err != nil {
		return err
	}
	old, oldEligible, _, err := s.apps.Score(ctx, c.AppID)
	if err != nil {
		return err
	}
	now := db.Micros(s.clock.Now())
	if changed && (int64(res.Total) != old || res.Eligible != oldEligible) {
		if _, err := s.db.Exec(ctx, `INSERT INTO score_changes (application_id, old_score, new_score, old_eligible, new_eligible, facts,
			status, proposed_by, proposed_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)`,
			c.AppID, old, int64(res.Total), oldEligible, res.Eligible, facts, officer.UserID, now); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `UPDATE review_cases SET status = 'approval' WHERE application_id = $1`, c.AppID); err != nil {
			return err
		}
		if err := s.record(ctx, officer, "review.score_change", c.AppID, fmt.Sprintf("%s → %s", rules.Points(old), res.Total)); err != nil {
			return err
		}
		return s.apps.ReviewStep(ctx, officer, c.AppID, "复查决定已全部作出，积分调整须经另一名经办人员审批后生效")
	}
	if _, err := s.db.Exec(ctx, `UPDATE review_cases SET status = 'decided' WHERE application_id = $1`, c.AppID); err != nil {
		return err
	}
	_, err = s.apps.FinalizeReview(ctx, officer, c.AppID, nil, "复查决定已全部作出，积分不变，审核完成")
	return err
}

// rescore scores the application again with the decisions' corrected
// facts: the verified request of the applied cross-check run (or the
// declaration, for an application no run scored) with each corrected
// indicator's facts put in, under that run's rulebook, honouring approved
// discrepancy overrides as the cross-check does (discrepancy.ScoreVerified).
// changed reports whether any decision corrected facts.
func (s *Service) rescore(ctx context.Context, c *caseRow, ds map[string]DecisionView) (rules.Result, string, bool, error) {
	var declJSON string
	var run int64
	if err := s.db.QueryRow(ctx, `SELECT declaration, score_run FROM applications WHERE id = $1`, c.AppID).Scan(&declJSON, &run); err != nil {
		return rules.Result{}, "", false, err
	}
	var decl rules.CalculatorRequest
	if err := json.Unmarshal([]byte(declJSON), &decl); err != nil {
		return rules.Result{}, "", false, fmt.Errorf("review %d: declaration: %w", c.AppID, err)
	}
	base := decl
	book, err := rules.ForYear(c.Year)
	if err != nil {
		return rules.Result{}, "", false, err
	}
	if run != 0 {
		var name, verified string
		err := s.db.QueryRow(ctx, `SELECT c.rulebook, cs.verified FROM check_runs c JOIN check_scores cs ON cs.run_id = c.id
			WHERE c.id = $1 AND cs.application_id = $2`, run, c.AppID).Scan(&name, &verified)
		switch {
		case db.IsNoRows(err):
		case err != nil:
			return rules.Result{}, "", false, err
		default:
			base = rules.CalculatorRequest{}
			if err := json.Unmarshal([]byte(verified), &base); err != nil {
				return rules.Result{}, "", false, fmt.Errorf("review %d: verified: %w", c.AppID, err)
			}
			if book, err = rules.Book(name); err != nil {
				return rules.Result{}, "", false, err
			}
		}
	}
	ovr, err := s.overridden(ctx, c.AppID)
	if err != nil {
		return rules.Result{}, "", false, err
	}
	changed := false
	for _, ind := range c.Indicators {
		d := ds[ind]
		if d.Corrected == "" {
			continue
		}
		var part rules.CalculatorRequest
		if err := json.Unmarshal([]byte(d.Corrected), &part); err != nil {
			return rules.Result{}, "", false, fmt.Errorf("review %d: corrected %s: %w", c.AppID, ind, err)
		}
		rules.CopyPart(&base, &part, ind)
		changed = true
	}
	res, ok := discrepancy.ScoreVerified(book, base, decl, ovr)
	if !ok {
		return rules.Result{}, "", false, apperr.New(apperr.Conflict, "更正后的事实无法计分，请检查更正内容")
	}
	b, _ := json.Marshal(base)
	return res, string(b), changed, nil
}

// overridden reads the approved discrepancy overrides of an application
// (the discrepancy package's table, read only).
func (s *Service) overridden(ctx context.Context, id int64) (map[string]string, error) {
	rows, err := s.db.Query(ctx, `SELECT item, verified FROM discrepancies WHERE application_id = $1 AND status = 'overridden'`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var c, v string
		if err := rows.Scan(&c, &v); err != nil {
			return nil, err
		}
		out[c] = v
	}
	return out, rows.Err()
}

// proposers are the officers who corrected facts in a case: none of them
// may approve or reject the score change their decisions caused.
func (s *Service) proposers(ctx context.Context, id int64) (map[int64]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT decided_by FROM review_decisions WHERE application_id = $1 AND corrected <> ''
		UNION SELECT proposed_by FROM score_changes WHERE application_id = $1`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var u int64
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out[u] = true
	}
	return out, rows.Err()
}

// errOwnChange refuses an officer's decision on a score change their own
// decisions caused.
var errOwnChange = apperr.New(apperr.Forbidden, "不能审批本人作出的复查积分调整，须由另一名经办人员审批")

// Approve lets a pending score change take effect: the application gets
// the new score and becomes final, in one transaction. The approver is of
// the case's district and never an officer whose decision corrected facts
// in it; the round must not be frozen.
func (s *Service) Approve(ctx context.Context, officer actor.Actor, id int64) error {
	return s.decideChange(ctx, officer, id, true, "")
}

// RejectChange refuses a pending score change: the first score stays and
// the application becomes final.
func (s *Service) RejectChange(ctx context.Context, officer actor.Actor, id int64, note string) error {
	note, err := checkText("note", note, "请写明不予审批的理由", true)
	if err != nil {
		return err
	}
	return s.decideChange(ctx, officer, id, false, note)
}

func (s *Service) decideChange(ctx context.Context, officer actor.Actor, id int64, approve bool, note string) error {
	c, err := s.officerCase(ctx, officer, id, false)
	if err != nil {
		return s.denied(ctx, id, err)
	}
	if approve {
		if err := s.requireUnfrozen(ctx, c.RoundID); err != nil {
			return err
		}
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		ch, err := s.change(ctx, id)
		if err != nil {
			return err
		}
		if ch == nil || ch.Status != "pending" {
			return apperr.New(apperr.Conflict, "没有待审批的积分调整，请刷新页面后查看")
		}
		own, err := s.proposers(ctx, id)
		if err != nil {
			return err
		}
		if own[officer.UserID] {
			return errOwnChange
		}
		status := "rejected"
		if approve {
			status = "approved"
		}
		now := db.Micros(s.clock.Now())
		res, err := s.db.Exec(ctx, `UPDATE score_changes SET status = $1, decided_by = $2, decided_at = $3, note = $4
			WHERE application_id = $5 AND status = 'pending'`, status, officer.UserID, now, note, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errRace
		}
		if _, err := s.db.Exec(ctx, `UPDATE review_cases SET status = 'decided', version = version + 1, updated_at = $1
			WHERE application_id = $2 AND status = 'approval'`, now, id); err != nil {
			return err
		}
		if !approve {
			if err := s.record(ctx, officer, "review.reject_change", id, note); err != nil {
				return err
			}
			if err := s.apps.ReviewStep(ctx, officer, id, "复查积分调整未获审批，维持原积分。理由："+note); err != nil {
				return err
			}
			_, err := s.apps.FinalizeReview(ctx, officer, id, nil, "复查办结，积分调整未获审批，维持原积分")
			return err
		}
		old, _, _, err := s.apps.Score(ctx, id)
		if err != nil {
			return err
		}
		if old != int64(ch.OldScore) {
			return apperr.New(apperr.Conflict, "该申请的积分在提出调整后已有变化，请重新复查后再审批")
		}
		if err := s.record(ctx, officer, "review.approve_change", id, fmt.Sprintf("%s → %s", ch.OldScore, ch.NewScore)); err != nil {
			return err
		}
		if err := s.apps.ReviewStep(ctx, officer, id, fmt.Sprintf("复查积分调整已审批：%s 分 → %s 分", ch.OldScore, ch.NewScore)); err != nil {
			return err
		}
		_, err = s.apps.FinalizeReview(ctx, officer, id, &application.NewScore{Score: ch.NewScore, Eligible: ch.NewEligible},
			fmt.Sprintf("复查办结，积分调整为 %s 分", ch.NewScore))
		return err
	})
}

// ApprovedBreakdown returns the ten indicator values (rules.IndicatorCodes
// order) of application id's score as an approved 复查 score change set it:
// the approved facts scored as rescore does. ok is false when no approved
// change exists (the cross-check's statement holds the breakdown then).
func (s *Service) ApprovedBreakdown(ctx context.Context, id int64) (vals []rules.Points, ok bool, err error) {
	var facts, declJSON string
	var run int64
	var year int
	err = s.db.QueryRow(ctx, `SELECT sc.facts, a.declaration, a.score_run, r.year FROM score_changes sc
		JOIN applications a ON a.id = sc.application_id JOIN rounds r ON r.id = a.round_id
		WHERE sc.application_id = $1 AND sc.status = 'approved'`, id).Scan(&facts, &declJSON, &run, &year)
	if db.IsNoRows(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, apperr.Wrap(err)
	}
	book, err := rules.ForYear(year)
	if err != nil {
		return nil, false, apperr.Wrap(err)
	}
	if run != 0 {
		var name string
		if err := s.db.QueryRow(ctx, `SELECT rulebook FROM check_runs WHERE id = $1`, run).Scan(&name); err != nil {
			return nil, false, apperr.Wrap(err)
		}
		if book, err = rules.Book(name); err != nil {
			return nil, false, apperr.Wrap(err)
		}
	}
	var decl, base rules.CalculatorRequest
	if err := json.Unmarshal([]byte(declJSON), &decl); err != nil {
		return nil, false, apperr.Wrap(err)
	}
	if err := json.Unmarshal([]byte(facts), &base); err != nil {
		return nil, false, apperr.Wrap(err)
	}
	ovr, err := s.overridden(ctx, id)
	if err != nil {
		return nil, false, apperr.Wrap(err)
	}
	res, scored := discrepancy.ScoreVerified(book, base, decl, ovr)
	if !scored {
		return nil, false, nil
	}
	return Values(res), true, nil
}

// Values are a result's ten indicator values in rules.IndicatorCodes order.
func Values(res rules.Result) []rules.Points {
	out := make([]rules.Points, 0, len(res.Indicators))
	for _, code := range rules.IndicatorCodes() {
		in, _ := res.Indicator(code)
		out = append(out, in.Points)
	}
	return out
}
