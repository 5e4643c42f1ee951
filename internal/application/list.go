package application

import (
	"context"
	"fmt"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// Filter selects an employer's applications.
type Filter struct {
	Status Status
	Name   string // substring of the applicant's name
	Limit  int
	Offset int
}

// Summary is one row of an employer's list: no declaration, one query for
// the whole page.
type Summary struct {
	ID          int64
	PersonName  string
	Status      Status
	Estimate    int64
	Eligible    bool
	SubmittedAt int64
	UpdatedAt   int64
}

// ForEmployer lists an employer's applications in a round, newest change
// first, with the count per status for the filter tabs.
func (s *Service) ForEmployer(ctx context.Context, employerID, roundID int64, f Filter) ([]Summary, map[Status]int, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	var w db.Where
	w.And("a.employer_id = ?", employerID)
	w.And("a.round_id = ?", roundID)
	if f.Status != "" {
		w.And("a.status = ?", string(f.Status))
	}
	if n := strings.TrimSpace(f.Name); n != "" {
		w.And("p.name LIKE ?", "%"+n+"%")
	}
	q := `SELECT a.id, p.name, a.status, a.estimate, a.eligible, a.submitted_at, a.updated_at
		FROM applications a JOIN persons p ON p.id = a.person_id` + w.SQL() +
		` ORDER BY a.updated_at DESC, a.id DESC LIMIT ` + w.Arg(f.Limit) + ` OFFSET ` + w.Arg(max(f.Offset, 0))
	rows, err := s.db.Query(ctx, q, w.Args()...)
	if err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var r Summary
		var st string
		if err := rows.Scan(&r.ID, &r.PersonName, &st, &r.Estimate, &r.Eligible, &r.SubmittedAt, &r.UpdatedAt); err != nil {
			return nil, nil, apperr.Wrap(err)
		}
		r.Status = Status(st)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	counts := map[Status]int{}
	crows, err := s.db.Query(ctx, `SELECT status, count(*) FROM applications WHERE employer_id = $1 AND round_id = $2 GROUP BY status`,
		employerID, roundID)
	if err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	defer crows.Close()
	for crows.Next() {
		var st string
		var n int
		if err := crows.Scan(&st, &n); err != nil {
			return nil, nil, apperr.Wrap(err)
		}
		counts[Status(st)] = n
	}
	return out, counts, crows.Err()
}

// ReviewRequest is an applicant's 复查 request.
type ReviewRequest struct {
	ApplicationID int64
	Indicators    []string
	Reason        string
	EmployerNote  string
	Status        string // requested | forwarded | received
}

// RequestReview asks for a re-review of some indicators of a first-round
// result, during the review window.
func (s *Service) RequestReview(ctx context.Context, c actor.Actor, id int64, indicators []string, reason string) error {
	reason = strings.TrimSpace(reason)
	var fe []apperr.FieldError
	if len(indicators) == 0 {
		fe = append(fe, apperr.FieldError{Field: "indicators", Message: "请选择需要复查的指标"})
	}
	known := map[string]bool{}
	for _, c := range indicatorCodes() {
		known[c] = true
	}
	for _, ind := range indicators {
		if !known[ind] {
			fe = append(fe, apperr.FieldError{Field: "indicators", Message: "未知的指标：" + ind})
		}
	}
	if reason == "" || len([]rune(reason)) > 1000 {
		fe = append(fe, apperr.FieldError{Field: "reason", Message: "请说明复查理由（不超过1000字）"})
	}
	if err := apperr.Fields(fe); err != nil {
		return err
	}
	return s.denied(ctx, id, s.db.WithTx(ctx, func(ctx context.Context) error {
		a, err := s.getFor(ctx, c, id)
		if err != nil {
			return err
		}
		if c.PersonID == 0 {
			return ErrNotFound
		}
		if a.Status == ReviewRequested {
			return nil // the same request again changes nothing
		}
		if a.Status != FirstResult {
			return apperr.New(apperr.Conflict, "只有在初核结果公布后才能申请复查（当前状态："+StatusName(a.Status)+"）")
		}
		if err := s.windows.RequireOpen(ctx, a.RoundID, "review"); err != nil {
			return err
		}
		if err := s.unfrozen(ctx, []int64{a.ID}); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO review_requests (application_id, indicators, reason, status, created_at)
			VALUES ($1, $2, $3, 'requested', $4)`, id, strings.Join(indicators, ","), reason, db.Micros(s.clock.Now())); err != nil {
			return err
		}
		now := db.Micros(s.clock.Now())
		due, err := s.dueAt(ctx, a.RoundID, StepReviewRequested, now)
		if err != nil {
			return err
		}
		res, err := s.db.Exec(ctx, `UPDATE applications SET status = 'review_requested', version = version + 1, updated_at = $1, `+
			clockSet(1, 4)+` WHERE id = $2 AND status = 'first_result' AND version = $3`, now, id, a.Version, due)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errMoved
		}
		if err := s.record(ctx, c, a, ReviewRequested, "申请复查："+strings.Join(indicators, "、")); err != nil {
			return err
		}
		return s.notify(ctx, a, ReviewRequested, reason)
	}))
}

// ForwardReview lets the employer add its evidence note and forward the
// request to the district office, which receives it for case handling.
func (s *Service) ForwardReview(ctx context.Context, c actor.Actor, id int64, note string) error {
	note = strings.TrimSpace(note)
	if note == "" {
		return apperr.Field("note", "请说明单位补充的证明材料（如：已于某日向区人力社保局窗口提交房产证复印件）")
	}
	return s.denied(ctx, id, s.db.WithTx(ctx, func(ctx context.Context) error {
		a, err := s.getFor(ctx, c, id)
		if err != nil || c.EmployerID == 0 {
			return ErrNotFound
		}
		now := db.Micros(s.clock.Now())
		res, err := s.db.Exec(ctx, `UPDATE review_requests SET employer_note = $1, status = 'forwarded', forwarded_at = $2
			WHERE application_id = $3 AND status = 'requested'`, note, now, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.Conflict, "没有待转交的复查申请")
		}
		if err := s.restartClock(ctx, a.RoundID, id, StepReviewForwarded, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, auditEntry("review.forward", id, note))
	}))
}

// Review returns the 复查 request of an application the caller may see.
func (s *Service) Review(ctx context.Context, c actor.Actor, id int64) (*ReviewRequest, error) {
	if _, err := s.Get(ctx, c, id); err != nil {
		return nil, err
	}
	r := &ReviewRequest{ApplicationID: id}
	var inds string
	err := s.db.QueryRow(ctx, `SELECT indicators, reason, employer_note, status FROM review_requests WHERE application_id = $1`, id).
		Scan(&inds, &r.Reason, &r.EmployerNote, &r.Status)
	if err != nil {
		return nil, apperr.New(apperr.NotFound, "没有复查申请")
	}
	r.Indicators = strings.Split(inds, ",")
	return r, nil
}

// ReviewItem is a 复查 request as the district office sees it.
type ReviewItem struct {
	ApplicationID int64
	PersonName    string
	EmployerName  string
	District      string
	Indicators    []string
	Reason        string
	EmployerNote  string
	Status        string
	ForwardedAt   int64
}

// ReviewsForDistrict lists the 复查 requests forwarded by employers of a
// district ("" for every district), oldest first: the district office's
// queue. One query.
func (s *Service) ReviewsForDistrict(ctx context.Context, district, status string, limit int) ([]ReviewItem, error) {
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	where := "rr.status = $1"
	args := []any{status}
	if district != "" {
		args = append(args, district)
		// The case's district (the employer's when it was filed): with the
		// index on (status, forwarded_at) the requests are read in order
		// and the first `limit` of the district end the scan.
		where += " AND a.district = $2"
	}
	rows, err := s.db.Query(ctx, `SELECT rr.application_id, p.name, e.name, e.district, rr.indicators, rr.reason, rr.employer_note,
		rr.status, rr.forwarded_at FROM review_requests rr JOIN applications a ON a.id = rr.application_id
		JOIN persons p ON p.id = a.person_id JOIN employers e ON e.id = a.employer_id
		WHERE `+where+` ORDER BY rr.forwarded_at, rr.application_id LIMIT `+fmt.Sprintf("$%d", len(args)+1), append(args, limit)...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []ReviewItem
	for rows.Next() {
		var it ReviewItem
		var inds string
		if err := rows.Scan(&it.ApplicationID, &it.PersonName, &it.EmployerName, &it.District, &inds, &it.Reason,
			&it.EmployerNote, &it.Status, &it.ForwardedAt); err != nil {
			return nil, apperr.Wrap(err)
		}
		it.Indicators = strings.Split(inds, ",")
		out = append(out, it)
	}
	return out, rows.Err()
}

// CountForwardedReviews counts the 复查 requests forwarded to district
// (every district's for ""), up to limit: the office home's to-do. It
// reads the requests' index and each one's application by key, none of the
// names the list shows (the list took 12 ms a home page at 350,000 people).
func (s *Service) CountForwardedReviews(ctx context.Context, district string, limit int) (int, error) {
	q := `SELECT count(*) FROM (SELECT 1 FROM review_requests rr WHERE rr.status = 'forwarded' LIMIT $1) x`
	args := []any{limit}
	if district != "" {
		q = `SELECT count(*) FROM (SELECT 1 FROM review_requests rr JOIN applications a ON a.id = rr.application_id
			WHERE rr.status = 'forwarded' AND a.district = $2 LIMIT $1) x`
		args = append(args, district)
	}
	var n int
	if err := s.db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, apperr.Wrap(err)
	}
	return n, nil
}

// ReceiveReview records that the district office has received a forwarded
// 复查 request (with the employer's written evidence) for case handling.
func (s *Service) ReceiveReview(ctx context.Context, district string, id int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		now := db.Micros(s.clock.Now())
		q := `UPDATE review_requests SET status = 'received', received_at = $1 WHERE application_id = $2 AND status = 'forwarded'`
		args := []any{now, id}
		if district != "" {
			// The one application's employer, by its key: an IN over the
			// district's applications read ~20,000 rows at 350,000 people,
			// 50 ms inside the one writer that every write queues behind.
			q += ` AND EXISTS (SELECT 1 FROM applications a JOIN employers e ON e.id = a.employer_id
				WHERE a.id = review_requests.application_id AND e.district = $3)`
			args = append(args, district)
		}
		res, err := s.db.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.NotFound, "没有待接收的复查申请")
		}
		var roundID int64
		if err := s.db.QueryRow(ctx, `SELECT round_id FROM applications WHERE id = $1`, id).Scan(&roundID); err != nil {
			return err
		}
		if err := s.restartClock(ctx, roundID, id, StepReviewReceived, now); err != nil {
			return err
		}
		return s.audit.Record(ctx, auditEntry("review.receive", id, district))
	})
}
