package account

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/password"
)

// CreateStaff creates an office account with no role on behalf of a system
// administrator, and returns its one-time initial password. Roles are
// granted separately by a security administrator (三员分立).
func (s *Service) CreateStaff(ctx context.Context, by actor.Actor, login, name, email, phone, district string) (*User, string, error) {
	if err := by.Require(PermUsersManage); err != nil {
		return nil, "", err
	}
	pw, err := GeneratePassword(login)
	if err != nil {
		return nil, "", apperr.Wrap(err)
	}
	u, err := s.CreateUser(ctx, NewUser{Login: login, DisplayName: name, Zone: Office, Email: email, Phone: phone,
		Password: pw, MustChange: true, District: district})
	return u, pw, err
}

// ResetPassword gives a staff account a new one-time password that must be
// changed at the next login, ends its sessions and clears its lockout. The
// password is mailed to the account's own address and shown to no one: the
// administrator who reset it never sees it. An account without an e-mail
// address cannot be reset this way. An administrator's account is not reset
// here: the system administrator asks (RequestAdminAction) and another
// administrator of another role approves.
func (s *Service) ResetPassword(ctx context.Context, by actor.Actor, userID int64) error {
	if err := by.Require(PermUsersManage); err != nil {
		return err
	}
	if userID == by.UserID {
		return apperr.New(apperr.Forbidden, "不能重置自己的密码，请使用修改密码功能")
	}
	// The target's roles are read in the transaction that writes, so a role
	// granted meanwhile cannot slip an administrator past the check.
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		u, err := s.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.needsSecondAdmin(by, u); err != nil {
			return err
		}
		return s.resetAndMail(ctx, u)
	})
}

// resetAndMail sets a generated one-time password on u and mails it to u,
// in ctx's transaction.
func (s *Service) resetAndMail(ctx context.Context, u *User) error {
	if s.outbox == nil || u.Email == "" {
		return errNoMailbox
	}
	pw, err := GeneratePassword(u.Login)
	if err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	if err := s.SetPasswordHash(ctx, u, hash, true, "account.password_reset"); err != nil {
		return err
	}
	body := "您在北京市积分落户管理信息系统的账号（登录名 " + u.Login + "）的密码已由管理员重置。\n\n" +
		"一次性密码：" + pw + "\n\n请尽快登录，系统会要求您立即设置新密码。此前登录的会话均已退出。\n"
	return s.mailOwner(ctx, u, "您的账号密码已重置", body, "account.password_reset", "")
}

// needsSecondAdmin refuses a direct action on an administrator's account:
// 三员分立 lets no administrator act alone on another administrator. The
// server console (the operator at the machine, who bootstraps the three) is
// exempt.
func (s *Service) needsSecondAdmin(by actor.Actor, target *User) error {
	if target.IsAdmin() && !onConsole(by) {
		return apperr.New(apperr.Forbidden, "对管理员账号的操作需要另一名其他角色的管理员审批，请提交申请")
	}
	return nil
}

func onConsole(by actor.Actor) bool {
	return by.UserID == 0 && slices.Contains(by.Roles, actor.Console)
}

// SetPasswordHash stores a new password hash, ends the user's sessions and
// clears the lockout of the login name, with an audit record of action.
func (s *Service) SetPasswordHash(ctx context.Context, u *User, hash string, mustChange bool, action string) error {
	now := db.Micros(s.clock.Now())
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = $3,
			updated_at = $4 WHERE id = $5`, hash, now, mustChange, now, u.ID); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM login_attempts WHERE zone = $1 AND login = $2`, string(u.Zone), u.Login); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: action, ObjectType: "user", ObjectID: fmt.Sprint(u.ID)})
	})
}

// SetDisabled disables or re-enables an account; disabling ends its
// sessions. An administrator's account is changed only through an approved
// request (RequestAdminAction), except from the server console.
func (s *Service) SetDisabled(ctx context.Context, by actor.Actor, userID int64, disabled bool, reason string) error {
	if err := by.Require(PermUsersManage); err != nil {
		return err
	}
	if by.UserID != 0 && by.UserID == userID {
		return apperr.New(apperr.Forbidden, "不能停用自己的账号")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		target, err := s.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.needsSecondAdmin(by, target); err != nil {
			return err
		}
		return s.setDisabled(ctx, userID, disabled, reason)
	})
}

func (s *Service) setDisabled(ctx context.Context, userID int64, disabled bool, reason string) error {
	action := "account.enable"
	if disabled {
		action = "account.disable"
	}
	res, err := s.db.Exec(ctx, `UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3`, disabled, db.Micros(s.clock.Now()), userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errUserNotFound
	}
	if disabled {
		if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
			return err
		}
	}
	return s.audit.Record(ctx, audit.Entry{Action: action, ObjectType: "user", ObjectID: fmt.Sprint(userID), Reason: reason})
}

// GeneratePassword returns a random 14-character password that meets the
// policy (all four character classes), for one-time initial passwords.
func GeneratePassword(login string) (string, error) {
	const (
		lower  = "abcdefghijkmnpqrstuvwxyz"
		upper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits = "23456789"
		syms   = "!#%+-=?@^_"
	)
	sets := []string{lower, upper, digits, syms}
	all := lower + upper + digits + syms
	for range 20 {
		b := make([]byte, 14)
		for i := range b {
			set := all
			if i < len(sets) {
				set = sets[i]
			}
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
			if err != nil {
				return "", err
			}
			b[i] = set[n.Int64()]
		}
		// Shuffle so the class order is not predictable.
		for i := len(b) - 1; i > 0; i-- {
			j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
			if err != nil {
				return "", err
			}
			b[i], b[j.Int64()] = b[j.Int64()], b[i]
		}
		if password.CheckPolicy(string(b), login) == nil {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("could not generate a password")
}

// MarkDemo marks an account as one of the demo's (serve --demo), which the
// pages label as such.
func (s *Service) MarkDemo(ctx context.Context, login string) error {
	_, err := s.db.Exec(ctx, `UPDATE users SET demo = TRUE WHERE login = $1`, login)
	return err
}
