package fraud

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/ident"
	"jifen/internal/rules"
)

// Limits of the texts officers write.
const (
	minWhat = 5
	maxText = 1000
)

// Proposal is what an officer gives to propose an entry.
type Proposal struct {
	Kind       Kind   `json:"kind"`        // person or employer
	IDNumber   string `json:"id_number"`   // the applicant's, for a person
	CreditCode string `json:"credit_code"` // the employer's, for an employer
	Item       string `json:"item"`        // the check item concerned, optional
	What       string `json:"what"`        // what was false
	DecidedOn  string `json:"decided_on"`  // the decision's date, YYYY-MM-DD (Beijing)
}

// subject is whom an entry is about, as found.
type subject struct {
	kind       Kind
	personID   int64
	employerID int64
	name       string
	district   string
}

// conflict is the answer when the entry is no longer where the page showed
// it: someone acted first, or the same form was sent twice.
func conflict(e *Entry) error {
	return apperr.New(apperr.Conflict, "该记录已被处理（当前状态："+StatusName(e.Status)+"），请刷新页面后查看")
}

// Propose records an entry awaiting a second officer's approval. District
// officers propose for applicants and employers of their district (an
// applicant's district is that of the employer of their latest application
// or link), city officers for all. A subject with an entry waiting, or with
// a ban in force over the same years, is a conflict.
func (s *Service) Propose(ctx context.Context, officer actor.Actor, p Proposal) (*Entry, error) {
	district, ok := scope(officer)
	if !ok {
		return nil, ErrNotFound
	}
	var fe []apperr.FieldError
	add := func(field, msg string) { fe = append(fe, apperr.FieldError{Field: field, Message: msg}) }
	what := strings.TrimSpace(p.What)
	if n := utf8.RuneCountInString(what); n < minWhat || n > maxText {
		add("what", fmt.Sprintf("请写明提供了哪些虚假材料（%d到%d字）", minWhat, maxText))
	}
	item := strings.TrimSpace(p.Item)
	if item != "" && !slices.Contains(rules.CheckItems(), item) {
		add("item", "请从列表中选择涉及的指标")
	}
	now := s.clock.Now()
	day, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(p.DecidedOn), clock.Beijing)
	from := day.Year()
	switch {
	case err != nil:
		add("decided_on", "请填写认定日期，格式为 YYYY-MM-DD")
	case day.After(clock.BeijingDay(now)):
		add("decided_on", "认定日期不能晚于今天")
	case from+BanYears < clock.BeijingDay(now).Year():
		add("decided_on", fmt.Sprintf("该认定的禁止期（%d年至%d年）已届满，无需登记", from, from+BanYears))
	}
	sub, err := s.subject(ctx, p, district)
	if err != nil {
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != apperr.Invalid {
			return nil, err
		}
		fe = append(fe, ae.Fields...)
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}
	var out *Entry
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.checkFree(ctx, sub, from, from+BanYears, 0); err != nil {
			return err
		}
		at := db.Micros(now)
		var id int64
		err := s.db.QueryRow(ctx, `INSERT INTO fraud_entries (kind, person_id, employer_id, subject_name, district, item, what,
			decided_on, ban_from_year, ban_to_year, status, version, proposed_by, proposed_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 1, $11, $12, $12) RETURNING id`,
			string(sub.kind), sub.personID, sub.employerID, sub.name, sub.district, item, what, day.Format(time.DateOnly),
			from, from+BanYears, officer.UserID, at).Scan(&id)
		if db.IsUniqueViolation(err) {
			return errPendingExists(sub.kind)
		}
		if err != nil {
			return err
		}
		if err := s.record(ctx, officer, "fraud.propose", id, fmt.Sprintf("%s %s：%s（%d年至%d年）", KindName(sub.kind), sub.name,
			what, from, from+BanYears)); err != nil {
			return err
		}
		out, err = s.load(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func errPendingExists(k Kind) error {
	return apperr.New(apperr.Conflict, "该"+KindName(k)+"已有一条待审批的虚假材料库记录，请先审批或驳回该记录")
}

// subject finds whom a proposal names: the ID number through the person
// package's blind index, the credit code in the employers. For a district
// officer (district != "") anyone outside the district is answered as
// unknown, so the form does not tell whether they exist elsewhere.
func (s *Service) subject(ctx context.Context, p Proposal, district string) (*subject, error) {
	where := "系统中"
	if district != "" {
		where = "本区"
	}
	switch p.Kind {
	case Person:
		n, err := ident.ValidateIDNumber(p.IDNumber, s.clock.Now())
		if err != nil {
			return nil, apperr.Field("id_number", err.Error())
		}
		pe, err := s.persons.ByIDNumber(ctx, n)
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.Field("id_number", where+"没有该身份证号码的申请人，请核对")
		}
		if err != nil {
			return nil, err
		}
		sub := &subject{kind: Person, personID: pe.ID, name: pe.Name}
		// The employer of the latest application, else of the latest
		// confirmed link, places the applicant in a district.
		err = s.db.QueryRow(ctx, `SELECT e.district FROM applications a JOIN employers e ON e.id = a.employer_id
			WHERE a.person_id = $1 ORDER BY a.id DESC LIMIT 1`, pe.ID).Scan(&sub.district)
		if errors.Is(err, sql.ErrNoRows) {
			err = s.db.QueryRow(ctx, `SELECT e.district FROM employer_links l JOIN employers e ON e.id = l.employer_id
				WHERE l.person_id = $1 AND l.status = 'confirmed' ORDER BY l.id DESC LIMIT 1`, pe.ID).Scan(&sub.district)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, apperr.Wrap(err)
		}
		if district != "" && sub.district != district {
			return nil, apperr.Field("id_number", where+"没有该身份证号码的申请人，请核对")
		}
		return sub, nil
	case Employer:
		n, err := ident.ValidateCreditCode(p.CreditCode)
		if err != nil {
			return nil, apperr.Field("credit_code", err.Error())
		}
		sub := &subject{kind: Employer}
		err = s.db.QueryRow(ctx, `SELECT id, name, district FROM employers WHERE credit_code = $1`, n).
			Scan(&sub.employerID, &sub.name, &sub.district)
		if errors.Is(err, sql.ErrNoRows) || err == nil && district != "" && sub.district != district {
			return nil, apperr.Field("credit_code", where+"没有该统一社会信用代码的用人单位，请核对")
		}
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		return sub, nil
	}
	return nil, apperr.Field("kind", "请选择登记对象：申请人或用人单位")
}

// checkFree refuses an entry for a subject that has one waiting (other
// than except) or a ban in force over any of the years from–to.
func (s *Service) checkFree(ctx context.Context, sub *subject, from, to int, except int64) error {
	rows, err := s.db.Query(ctx, selectEntry+` WHERE kind = $1 AND person_id = $2 AND employer_id = $3
		AND status IN ('pending', 'in_force') AND id <> $4 ORDER BY id`, string(sub.kind), sub.personID, sub.employerID, except)
	if err != nil {
		return apperr.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return apperr.Wrap(err)
		}
		if e.Status == Pending {
			return errPendingExists(sub.kind)
		}
		if e.BanFrom <= to && from <= e.BanTo {
			return apperr.New(apperr.Conflict, fmt.Sprintf("该%s已在虚假材料库中，禁止期%d年至%d年仍在执行（记录 %d），不能重复登记",
				KindName(sub.kind), e.BanFrom, e.BanTo, e.ID))
		}
	}
	return rows.Err()
}

// fourEyes refuses a decision on an entry by the officer who proposed it.
func fourEyes(officer actor.Actor, e *Entry) error {
	if e.ProposedBy == officer.UserID {
		return apperr.New(apperr.Forbidden, "不能审批本人提出的虚假材料库记录，须由另一名经办人员审批")
	}
	return nil
}

// decide runs an approval or a rejection in one transaction: load and scope
// the entry, check it still waits and the four eyes, update it guarded by
// the status and version it read (so of two deciders exactly one wins),
// record the audit entry and run what follows in the same transaction.
func (s *Service) decide(ctx context.Context, officer actor.Actor, id int64, action string, check func(ctx context.Context, e *Entry) error,
	to Status, note string, after func(ctx context.Context, e *Entry) error) (*Entry, error) {
	var out *Entry
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		e, err := s.getFor(ctx, officer, id)
		if err != nil {
			return err
		}
		if s.afterLoad != nil {
			s.afterLoad()
		}
		if e.Status != Pending {
			return conflict(e)
		}
		if err := fourEyes(officer, e); err != nil {
			return err
		}
		if check != nil {
			if err := check(ctx, e); err != nil {
				return err
			}
		}
		now := db.Micros(s.clock.Now())
		res, err := s.db.Exec(ctx, `UPDATE fraud_entries SET status = $1, version = version + 1, decided_by = $2, decided_at = $3,
			decision_note = $4, updated_at = $3 WHERE id = $5 AND status = 'pending' AND version = $6`,
			string(to), officer.UserID, now, note, id, e.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			cur, err := s.load(ctx, id)
			if err != nil {
				return err
			}
			return conflict(cur)
		}
		if err := s.record(ctx, officer, action, id, note); err != nil {
			return err
		}
		if out, err = s.load(ctx, id); err != nil {
			return err
		}
		if after != nil {
			return after(ctx, out)
		}
		return nil
	})
	if err != nil {
		return nil, s.denied(ctx, officer, id, err)
	}
	return out, nil
}

// Approve lets an entry take effect: from now on its subject is barred in
// its ban years. The approver is never the proposer. The applicant's (or
// the employer's) cases concerned get a line on their timeline, and the
// person (or the employer's operators) an e-mail, in the same transaction.
func (s *Service) Approve(ctx context.Context, officer actor.Actor, id int64) (*Entry, error) {
	return s.decide(ctx, officer, id, "fraud.approve",
		func(ctx context.Context, e *Entry) error {
			// Another entry may have taken effect since this one was proposed.
			return s.checkFree(ctx, &subject{kind: e.Kind, personID: e.PersonID, employerID: e.EmployerID}, e.BanFrom, e.BanTo, e.ID)
		},
		InForce, "", func(ctx context.Context, e *Entry) error {
			if err := s.noteCases(ctx, officer, e); err != nil {
				return err
			}
			return s.mailInForce(ctx, e)
		})
}

// Reject closes a proposed entry without effect; the reason is required.
func (s *Service) Reject(ctx context.Context, officer actor.Actor, id int64, note string) (*Entry, error) {
	note = strings.TrimSpace(note)
	if note == "" {
		return nil, apperr.Field("note", "请说明驳回的理由")
	}
	if utf8.RuneCountInString(note) > maxText {
		return nil, apperr.Field("note", fmt.Sprintf("内容不能超过%d字", maxText))
	}
	return s.decide(ctx, officer, id, "fraud.reject", nil, Rejected, note, nil)
}

// noteCases writes the ban on the timeline of the applications it stops: a
// person's applications in the ban's years; an employer's applications in
// those years that wait for it to file.
func (s *Service) noteCases(ctx context.Context, officer actor.Actor, e *Entry) error {
	if s.apps == nil {
		return nil
	}
	q := `SELECT a.id FROM applications a JOIN rounds r ON r.id = a.round_id
		WHERE a.person_id = $1 AND r.year BETWEEN $2 AND $3 ORDER BY a.id`
	arg := e.PersonID
	if e.Kind == Employer {
		q = `SELECT a.id FROM applications a JOIN rounds r ON r.id = a.round_id
			WHERE a.employer_id = $1 AND r.year BETWEEN $2 AND $3 AND a.status = 'with_employer' ORDER BY a.id`
		arg = e.EmployerID
	}
	var ids []int64
	if err := func() error {
		rows, err := s.db.Query(ctx, q, arg, e.BanFrom, e.BanTo)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	}(); err != nil {
		return apperr.Wrap(err)
	}
	line := KindName(e.Kind) + "已列入虚假材料库：" + e.Reason()
	for _, id := range ids {
		if err := s.apps.Note(ctx, officer, id, line); err != nil {
			return err
		}
	}
	return nil
}
