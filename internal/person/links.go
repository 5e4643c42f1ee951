package person

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// LinkStatus is the state of an applicant's request to link to an employer.
type LinkStatus string

// The link statuses.
const (
	LinkPending   LinkStatus = "pending"
	LinkConfirmed LinkStatus = "confirmed"
	LinkRejected  LinkStatus = "rejected"
	LinkUnlinked  LinkStatus = "unlinked"
)

// LinkStatusName is the Chinese name of a link status.
func LinkStatusName(s LinkStatus) string {
	return map[LinkStatus]string{LinkPending: "待单位确认", LinkConfirmed: "已确认", LinkRejected: "单位已拒绝", LinkUnlinked: "已解除"}[s]
}

// Link is an applicant's link to an employer in a round.
type Link struct {
	ID           int64
	RoundID      int64
	PersonID     int64
	EmployerID   int64
	EmployerName string
	PersonName   string
	PersonMasked string // masked ID number, for the employer's list
	Status       LinkStatus
	Reason       string
	CreatedAt    time.Time
	DecidedAt    time.Time
}

const linkSelect = `SELECT l.id, l.round_id, l.person_id, l.employer_id, e.name, p.name, p.id_enc, l.status, l.reason,
	l.created_at, l.decided_at
	FROM employer_links l JOIN employers e ON e.id = l.employer_id JOIN persons p ON p.id = l.person_id`

func (s *Service) scanLink(row interface{ Scan(...any) error }) (*Link, error) {
	l := &Link{}
	var st, enc string
	var ca, da int64
	if err := row.Scan(&l.ID, &l.RoundID, &l.PersonID, &l.EmployerID, &l.EmployerName, &l.PersonName, &enc, &st, &l.Reason,
		&ca, &da); err != nil {
		return nil, err
	}
	l.Status, l.CreatedAt, l.DecidedAt = LinkStatus(st), db.FromMicros(ca), db.FromMicros(da)
	if id, err := s.keys.DecryptString(enc, "id_number"); err == nil {
		l.PersonMasked = maskID(id)
	}
	return l, nil
}

func (s *Service) links(ctx context.Context, where string, args ...any) ([]*Link, error) {
	rows, err := s.db.Query(ctx, linkSelect+" WHERE "+where+" ORDER BY l.id DESC", args...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []*Link
	for rows.Next() {
		l, err := s.scanLink(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

var errLinkNotFound = apperr.New(apperr.NotFound, "关联申请不存在")

// RequestLink records an applicant's request to link to the employer with a
// registration code, in a round. The caller has checked the round's window.
func (s *Service) RequestLink(ctx context.Context, p *Person, roundID int64, code string) (*Link, error) {
	emp, err := s.employers.ByRegCode(ctx, code)
	if err != nil {
		return nil, apperr.Field("reg_code", "单位注册码不正确，请向单位经办人核对（16位，如 ABCD-EFGH-JKLM-NPQR）")
	}
	var out *Link
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM employer_links WHERE round_id = $1 AND person_id = $2 AND status = 'confirmed'`,
			roundID, p.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "您本年度已关联单位。如需更换，请先由原单位解除关联")
		}
		var id int64
		err := s.db.QueryRow(ctx, `INSERT INTO employer_links (round_id, person_id, employer_id, status, created_at)
			VALUES ($1, $2, $3, 'pending', $4) RETURNING id`, roundID, p.ID, emp.ID, db.Micros(s.clock.Now())).Scan(&id)
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, "您已向该单位提交关联申请，请等待单位确认")
		}
		if err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "link.request", ObjectType: "employer_link", ObjectID: fmt.Sprint(id),
			Reason: fmt.Sprintf("person=%d employer=%d round=%d", p.ID, emp.ID, roundID)}); err != nil {
			return err
		}
		out, err = s.link(ctx, id)
		return err
	})
	return out, err
}

func (s *Service) link(ctx context.Context, id int64) (*Link, error) {
	l, err := s.scanLink(s.db.QueryRow(ctx, linkSelect+" WHERE l.id = $1", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errLinkNotFound
	}
	return l, err
}

// LinksOfPerson lists a person's links in a round, newest first.
func (s *Service) LinksOfPerson(ctx context.Context, personID, roundID int64) ([]*Link, error) {
	return s.links(ctx, "l.person_id = $1 AND l.round_id = $2", personID, roundID)
}

// LinksOfEmployer lists an employer's links in a round with a status
// (empty: all), in one query.
func (s *Service) LinksOfEmployer(ctx context.Context, employerID, roundID int64, status LinkStatus) ([]*Link, error) {
	if status == "" {
		return s.links(ctx, "l.employer_id = $1 AND l.round_id = $2", employerID, roundID)
	}
	return s.links(ctx, "l.employer_id = $1 AND l.round_id = $2 AND l.status = $3", employerID, roundID, string(status))
}

// ConfirmedEmployer returns the employer id a person is confirmed with in a
// round, or 0.
func (s *Service) ConfirmedEmployer(ctx context.Context, personID, roundID int64) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT employer_id FROM employer_links WHERE person_id = $1 AND round_id = $2 AND status = 'confirmed'`,
		personID, roundID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// DecideLink confirms or rejects a pending link on behalf of an operator of
// the link's employer. A link of another employer answers not found.
func (s *Service) DecideLink(ctx context.Context, by actor.Actor, linkID int64, confirm bool, reason string) error {
	employerID, err := operatorOf(by)
	if err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if !confirm && reason == "" {
		return apperr.Field("reason", "请填写拒绝理由，申请人将看到该理由")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		l, err := s.link(ctx, linkID)
		if err != nil || l.EmployerID != employerID {
			return errLinkNotFound
		}
		if l.Status != LinkPending {
			return apperr.New(apperr.Conflict, "该关联申请已处理："+LinkStatusName(l.Status))
		}
		st := LinkRejected
		if confirm {
			st = LinkConfirmed
		}
		_, err = s.db.Exec(ctx, `UPDATE employer_links SET status = $1, reason = $2, decided_at = $3, decided_by = $4 WHERE id = $5`,
			string(st), reason, db.Micros(s.clock.Now()), by.UserID, linkID)
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, "该申请人本年度已关联其他单位")
		}
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "link." + string(st), ObjectType: "employer_link", ObjectID: fmt.Sprint(linkID), Reason: reason})
	})
}

// Unlink ends a confirmed link. The caller checks that the employer has not
// submitted the person's application.
func (s *Service) Unlink(ctx context.Context, by actor.Actor, linkID int64, reason string) error {
	employerID, err := operatorOf(by)
	if err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		l, err := s.link(ctx, linkID)
		if err != nil || l.EmployerID != employerID {
			return errLinkNotFound
		}
		if l.Status != LinkConfirmed {
			return apperr.New(apperr.Conflict, "只能解除已确认的关联")
		}
		if _, err := s.db.Exec(ctx, `UPDATE employer_links SET status = 'unlinked', reason = $1, decided_at = $2, decided_by = $3 WHERE id = $4`,
			reason, db.Micros(s.clock.Now()), by.UserID, linkID); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "link.unlinked", ObjectType: "employer_link", ObjectID: fmt.Sprint(linkID), Reason: reason})
	})
}

// operatorOf returns the employer an operator acts for, or forbidden.
func operatorOf(by actor.Actor) (int64, error) {
	if !by.Can(actor.PermEmployer) || by.EmployerID == 0 {
		return 0, apperr.New(apperr.Forbidden, "您没有执行此操作的权限")
	}
	return by.EmployerID, nil
}

// LinkOfEmployer returns one link if it belongs to the employer (else not found).
func (s *Service) LinkOfEmployer(ctx context.Context, employerID, linkID int64) (*Link, error) {
	l, err := s.link(ctx, linkID)
	if err != nil || l.EmployerID != employerID {
		return nil, errLinkNotFound
	}
	return l, nil
}
