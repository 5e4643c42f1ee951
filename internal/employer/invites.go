package employer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// InviteTTL is how long an invitation to become an operator stays valid.
const InviteTTL = 7 * 24 * time.Hour

// Invite is an operator's invitation of a colleague.
type Invite struct {
	ID         int64
	EmployerID int64
	Email      string
	ExpiresAt  time.Time
	CreatedAt  time.Time
	AcceptedAt time.Time
}

// CreateInvite lets an operator invite a colleague by e-mail. The token
// goes to the invited address only (the mail; only its digest is kept):
// holding it shows one reads that mailbox, which is what lets AcceptInvite
// give the account that address. The returned token is for tests and the
// command line, never for a page or an API answer. The invitation is to
// the employer the operator acts for.
func (s *Service) CreateInvite(ctx context.Context, by actor.Actor, email string) (*Invite, string, error) {
	if err := by.Require(actor.PermEmployer); err != nil || by.EmployerID == 0 {
		return nil, "", apperr.New(apperr.Forbidden, "您没有执行此操作的权限")
	}
	employerID := by.EmployerID
	email = strings.TrimSpace(email)
	if a, err := netmail.ParseAddress(email); err != nil || a.Address != email {
		return nil, "", apperr.Field("email", "电子邮箱格式不正确")
	}
	e, err := s.Get(ctx, employerID)
	if err != nil {
		return nil, "", err
	}
	if e.Status != Verified {
		return nil, "", apperr.New(apperr.Conflict, "单位通过核验后才能邀请其他经办人")
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, "", apperr.Wrap(err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock.Now()
	inv := &Invite{EmployerID: employerID, Email: email, ExpiresAt: now.Add(InviteTTL), CreatedAt: now}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.QueryRow(ctx, `INSERT INTO employer_invites (employer_id, email, token_hash, expires_at, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, employerID, email, crypto.SM3Hex([]byte(token)),
			db.Micros(inv.ExpiresAt), by.UserID, db.Micros(now)).Scan(&inv.ID); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "employer.invite", ObjectType: "employer", ObjectID: fmt.Sprint(employerID),
			Reason: email}); err != nil {
			return err
		}
		if s.outbox == nil {
			return nil
		}
		_, err := s.outbox.Enqueue(ctx, mail.Message{To: email, Subject: "【北京市积分落户】" + e.Name + "邀请您成为单位经办人",
			Text: "您好：\n\n" + e.Name + "邀请您成为本单位在北京市积分落户网上申报系统中的经办人。\n" +
				"请在7天内用浏览器打开网上申报系统的以下地址，设置您的登录名和密码：\n\n/employer/invite/" + token +
				"\n\n如您不了解此事，请忽略本邮件。本邮件由系统自动发送，请勿回复。\n",
			Category: "employer.invite", Ref: fmt.Sprintf("employer:%d", employerID), IdempotencyKey: fmt.Sprintf("invite:%d", inv.ID)})
		return err
	})
	if err != nil {
		return nil, "", apperr.Wrap(err)
	}
	return inv, token, nil
}

var errBadInvite = apperr.New(apperr.NotFound, "邀请链接无效或已过期，请联系本单位经办人重新邀请")

// InviteByToken returns the live invitation a token names.
func (s *Service) InviteByToken(ctx context.Context, token string) (*Invite, *Employer, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, errBadInvite
	}
	inv := &Invite{}
	var exp, ca, aa int64
	err := s.db.QueryRow(ctx, `SELECT id, employer_id, email, expires_at, created_at, accepted_at FROM employer_invites
		WHERE token_hash = $1`, crypto.SM3Hex([]byte(token))).Scan(&inv.ID, &inv.EmployerID, &inv.Email, &exp, &ca, &aa)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errBadInvite
	}
	if err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	inv.ExpiresAt, inv.CreatedAt, inv.AcceptedAt = db.FromMicros(exp), db.FromMicros(ca), db.FromMicros(aa)
	if aa != 0 || !s.clock.Now().Before(inv.ExpiresAt) {
		return nil, nil, errBadInvite
	}
	e, err := s.Get(ctx, inv.EmployerID)
	if err != nil {
		return nil, nil, err
	}
	return inv, e, nil
}

// AcceptInvite creates the invited colleague's operator account. The
// invitation is used once, and only for the address it was sent to: the
// account's e-mail is the invited one, and an acceptance naming another
// address is refused.
func (s *Service) AcceptInvite(ctx context.Context, token string, nu account.NewUser) (*account.User, error) {
	inv, e, err := s.InviteByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	nu.Zone, nu.Roles = account.Internet, []account.Role{account.EmployerOperator}
	if email := strings.TrimSpace(nu.Email); email != "" && !strings.EqualFold(email, inv.Email) {
		return nil, apperr.Field("email", "此邀请只能由收到邀请的邮箱 "+inv.Email+" 接受；如需用其他邮箱，请让本单位经办人重新邀请")
	}
	nu.Email = inv.Email
	prep, err := s.accounts.PrepareUser(ctx, nu)
	if err != nil {
		return nil, err
	}
	var u *account.User
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `UPDATE employer_invites SET accepted_at = $1 WHERE id = $2 AND accepted_at = 0`,
			db.Micros(s.clock.Now()), inv.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errBadInvite
		}
		if u, err = s.accounts.InsertUser(ctx, prep); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `UPDATE employer_invites SET accepted_by = $1 WHERE id = $2`, u.ID, inv.ID); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO employer_operators (user_id, employer_id, is_primary, invited_by, created_at)
			VALUES ($1, $2, FALSE, (SELECT created_by FROM employer_invites WHERE id = $3), $4)`, u.ID, e.ID, inv.ID,
			db.Micros(s.clock.Now())); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{ActorID: u.ID, ActorLogin: u.Login, ActorRole: string(account.EmployerOperator),
			Action: "employer.invite_accept", ObjectType: "employer", ObjectID: fmt.Sprint(e.ID)})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Operator is one operator of an employer.
type Operator struct {
	UserID  int64
	Login   string
	Name    string
	Email   string
	Primary bool
}

// Operators lists an employer's operators in one query.
func (s *Service) Operators(ctx context.Context, employerID int64) ([]Operator, error) {
	rows, err := s.db.Query(ctx, `SELECT u.id, u.login, u.display_name, u.email, o.is_primary FROM employer_operators o
		JOIN users u ON u.id = o.user_id WHERE o.employer_id = $1 ORDER BY o.created_at, u.id`, employerID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Operator
	for rows.Next() {
		var o Operator
		if err := rows.Scan(&o.UserID, &o.Login, &o.Name, &o.Email, &o.Primary); err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
