package account

import (
	"context"
	"fmt"

	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/password"
	"jifen/internal/platform/totp"
)

// ChangePassword replaces the user's password after checking the old one.
// It is the one thing a session in StageChangePassword may do. It returns
// the session's new token and next stage.
func (s *Service) ChangePassword(ctx context.Context, se *Session, u *User, oldPw, newPw string) (string, Stage, error) {
	ok, err := s.hasher.Verify(ctx, u.PasswordHash, oldPw)
	if err != nil {
		return "", "", apperr.Wrap(err)
	}
	if !ok {
		_ = s.auditUserOutcome(ctx, u, "account.password_change", audit.Failure, "wrong current password")
		return "", "", apperr.Field("old_password", "当前密码不正确")
	}
	if err := password.CheckPolicy(newPw, u.Login); err != nil {
		return "", "", apperr.Fields(policyFields("new_password", err))
	}
	if same, _ := s.hasher.Verify(ctx, u.PasswordHash, newPw); same {
		return "", "", apperr.Field("new_password", "新密码不能与当前密码相同")
	}
	hash, err := s.hasher.Hash(ctx, newPw)
	if err != nil {
		return "", "", apperr.Wrap(err)
	}
	now := s.clock.Now()
	u.MustChangePassword = false
	u.PasswordChangedAt = now
	next := s.nextStage(ctx, u, StageChangePassword, now)
	if se.Stage == StageFull {
		next = StageFull // a voluntary change from a full session stays full
	}
	var token string
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = FALSE,
			updated_at = $3 WHERE id = $4`, hash, db.Micros(now), db.Micros(now), u.ID); err != nil {
			return err
		}
		// Every other session of the user ends: whoever knew the old password is out.
		if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, u.ID, se.ID); err != nil {
			return err
		}
		var err error
		if token, err = s.renew(ctx, se, next); err != nil {
			return err
		}
		return s.auditUser(ctx, u, "account.password_change", "")
	})
	if err != nil {
		return "", "", apperr.Wrap(err)
	}
	u.PasswordHash = hash
	return token, next, nil
}

// TOTPEnrolment is what a staff member needs to add jifen to an
// authenticator app.
type TOTPEnrolment struct {
	Secret string
	URI    string
	QRPNG  []byte
}

// BeginTOTP returns the pending TOTP secret of a user who has not enrolled,
// creating it on first call (the same secret is shown until enrolment ends,
// so reloading the page does not invalidate a scanned code).
func (s *Service) BeginTOTP(ctx context.Context, u *User) (*TOTPEnrolment, error) {
	if u.TOTPEnabled {
		return nil, apperr.New(apperr.Conflict, "已绑定动态口令")
	}
	secret := ""
	if u.TOTPSecretEnc != "" {
		var err error
		if secret, err = s.keys.DecryptString(u.TOTPSecretEnc, totpAD(u.ID)); err != nil {
			return nil, apperr.Wrap(err)
		}
	} else {
		var err error
		if secret, err = totp.GenerateSecret(); err != nil {
			return nil, apperr.Wrap(err)
		}
		enc, err := s.keys.EncryptString(secret, totpAD(u.ID))
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		if _, err := s.db.Exec(ctx, `UPDATE users SET totp_secret_enc = $1, updated_at = $2 WHERE id = $3`,
			enc, db.Micros(s.clock.Now()), u.ID); err != nil {
			return nil, apperr.Wrap(err)
		}
		u.TOTPSecretEnc = enc
	}
	uri := totp.URI("北京市积分落户", u.Login, secret)
	png, err := totp.QRCodePNG(uri, 240)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return &TOTPEnrolment{Secret: secret, URI: uri, QRPNG: png}, nil
}

func totpAD(userID int64) string { return fmt.Sprintf("totp:%d", userID) }

// VerifyTOTP checks a code for a session in StageTOTP. The first correct
// code completes enrolment. A code's time step is never accepted twice.
// Wrong codes count towards the lockout like wrong passwords.
func (s *Service) VerifyTOTP(ctx context.Context, se *Session, u *User, code string) (string, Stage, error) {
	if se.Stage != StageTOTP {
		return "", "", apperr.New(apperr.Conflict, "当前无需输入动态口令")
	}
	if u.TOTPSecretEnc == "" {
		return "", "", apperr.Field("code", "请先扫描二维码绑定动态口令")
	}
	now := s.clock.Now()
	if locked, err := s.isLocked(ctx, u.Zone, u.Login, now); err != nil {
		return "", "", apperr.Wrap(err)
	} else if locked {
		return "", "", ErrLocked
	}
	secret, err := s.keys.DecryptString(u.TOTPSecretEnc, totpAD(u.ID))
	if err != nil {
		return "", "", apperr.Wrap(err)
	}
	step, ok := totp.Validate(secret, code, now, 1)
	if !ok || step <= u.TOTPLastStep {
		if err := s.loginFailed(ctx, u.Zone, u.ID, u.Login, string(u.PrimaryRole()), "wrong or reused TOTP code", now); apperr.Is(err, apperr.Locked) {
			return "", "", err
		}
		return "", "", apperr.Field("code", "动态口令不正确或已使用，请输入验证器中显示的最新6位数字")
	}
	var token string
	enrolled := !u.TOTPEnabled
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `UPDATE users SET totp_enabled = TRUE, totp_last_step = $1, updated_at = $2 WHERE id = $3`,
			step, db.Micros(now), u.ID); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM login_attempts WHERE zone = $1 AND login = $2`, string(u.Zone), u.Login); err != nil {
			return err
		}
		var err error
		if token, err = s.renew(ctx, se, StageFull); err != nil {
			return err
		}
		if err := s.endExcessSessions(ctx, u, se.ID); err != nil {
			return err
		}
		action := "account.totp_verify"
		if enrolled {
			action = "account.totp_enrol"
		}
		return s.auditUser(ctx, u, action, "")
	})
	if err != nil {
		return "", "", apperr.Wrap(err)
	}
	u.TOTPEnabled, u.TOTPLastStep = true, step
	return token, StageFull, nil
}

func (s *Service) auditUserOutcome(ctx context.Context, u *User, action, outcome, reason string) error {
	return s.audit.Record(ctx, audit.Entry{ActorID: u.ID, ActorLogin: u.Login, ActorRole: string(u.PrimaryRole()),
		Action: action, ObjectType: "user", ObjectID: fmt.Sprint(u.ID), Outcome: outcome, Reason: reason})
}
