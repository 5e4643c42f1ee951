package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/settings"
)

// Messages that must be identical for every reason they cover.
var (
	ErrBadCredentials = apperr.New(apperr.Unauthorized, "登录名或密码不正确")
	ErrLocked         = apperr.New(apperr.Locked, "登录失败次数过多，账号已临时锁定，请稍后再试")
)

// LoginResult is a successful password check.
type LoginResult struct {
	Token   string
	Session *Session
	User    *User
	Next    Stage // what the session must do before anything else
}

// Login checks a password for zone and opens a session. Login names are
// looked up in the zone's own namespace only: a staff name tried on the
// internet listener is an unknown login there, hashed against a dummy and
// counted against the internet's counter of that name, never the staff
// account's. Unknown logins, wrong passwords and disabled accounts all
// answer ErrBadCredentials; a login name with too many recent failures in
// the zone answers ErrLocked whether or not an account has that name, and
// its password is not even checked.
func (s *Service) Login(ctx context.Context, zone Zone, login, pw, addr, ua string) (*LoginResult, error) {
	login = NormalizeLogin(login)
	if len(login) > 64 {
		login = login[:64]
	}
	now := s.clock.Now()
	if locked, err := s.isLocked(ctx, zone, login, now); err != nil {
		return nil, apperr.Wrap(err)
	} else if locked {
		s.auditLogin(ctx, 0, login, "", "account.login", audit.Denied, "locked in the "+string(zone)+" zone")
		return nil, ErrLocked
	}
	u, err := s.UserInZone(ctx, zone, login)
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, apperr.Wrap(err)
	}
	if u == nil {
		_ = s.hasher.DummyVerify(ctx)
		return nil, s.loginFailed(ctx, zone, 0, login, "", "unknown login in the "+string(zone)+" zone", now)
	}
	ok, err := s.hasher.Verify(ctx, u.PasswordHash, pw)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	switch {
	case !ok:
		return nil, s.loginFailed(ctx, zone, u.ID, login, string(u.PrimaryRole()), "wrong password", now)
	case u.Disabled:
		return nil, s.loginFailed(ctx, zone, u.ID, login, string(u.PrimaryRole()), "account disabled", now)
	}
	next := s.nextStage(ctx, u, StageFull, now)
	var res *LoginResult
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `DELETE FROM login_attempts WHERE zone = $1 AND login = $2`, string(zone), login); err != nil {
			return err
		}
		// The access review (AccessReview) flags accounts by this time.
		if _, err := s.db.Exec(ctx, `UPDATE users SET last_login_at = $1 WHERE id = $2`, db.Micros(now), u.ID); err != nil {
			return err
		}
		token, err := s.createSession(ctx, u, zone, next, addr, ua)
		if err != nil {
			return err
		}
		if next == StageFull {
			if err := s.endExcessSessions(ctx, u, sessionID(token)); err != nil {
				return err
			}
		}
		res = &LoginResult{Token: token, User: u, Next: next}
		res.Session, err = s.sessionByID(ctx, sessionID(token))
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{ActorID: u.ID, ActorLogin: u.Login, ActorRole: string(u.PrimaryRole()),
			Action: "account.login", ObjectType: "user", ObjectID: fmt.Sprint(u.ID), Outcome: audit.Success,
			Reason: "next=" + string(next)})
	})
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return res, nil
}

// nextStage decides what a session must still do after completing done.
func (s *Service) nextStage(ctx context.Context, u *User, done Stage, now time.Time) Stage {
	if done == StageFull || done == "" {
		if u.MustChangePassword {
			return StageChangePassword
		}
		maxAge := time.Duration(s.settings.Int(ctx, settings.PasswordMaxAgeDays)) * 24 * time.Hour
		if u.IsStaff() && !u.Demo && now.Sub(u.PasswordChangedAt) >= maxAge {
			return StageChangePassword
		}
	}
	if done != StageTOTP && u.IsStaff() && !u.Demo {
		return StageTOTP
	}
	return StageFull
}

func (s *Service) sessionByID(ctx context.Context, id string) (*Session, error) {
	se := &Session{ID: id}
	var z, st string
	var c, l, e int64
	err := s.db.QueryRow(ctx, `SELECT user_id, zone, stage, created_at, last_seen_at, expires_at, client_addr, user_agent
		FROM sessions WHERE id = $1`, id).Scan(&se.UserID, &z, &st, &c, &l, &e, &se.ClientAddr, &se.UserAgent)
	if err != nil {
		return nil, err
	}
	se.Zone, se.Stage = Zone(z), Stage(st)
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = db.FromMicros(c), db.FromMicros(l), db.FromMicros(e)
	return se, nil
}

func (s *Service) isLocked(ctx context.Context, zone Zone, login string, now time.Time) (bool, error) {
	var until int64
	err := s.db.QueryRow(ctx, `SELECT locked_until FROM login_attempts WHERE zone = $1 AND login = $2`, string(zone), login).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return until > db.Micros(now), err
}

// loginFailed counts a failure against the login name (known or not) in the
// zone it was tried on, locks it there at the threshold, and records both in
// the audit trail.
func (s *Service) loginFailed(ctx context.Context, zone Zone, userID int64, login, role, why string, now time.Time) error {
	threshold := s.settings.Int(ctx, settings.LockoutThreshold)
	lockFor := time.Duration(s.settings.Int(ctx, settings.LockoutMinutes)) * time.Minute
	locked := false
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var failures int
		var until int64
		err := s.db.QueryRow(ctx, `SELECT failures, locked_until FROM login_attempts WHERE zone = $1 AND login = $2`+s.db.ForUpdate(),
			string(zone), login).Scan(&failures, &until)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			failures = 0
			if _, err := s.db.Exec(ctx, `INSERT INTO login_attempts (zone, login, failures, locked_until, updated_at)
				VALUES ($1, $2, 0, 0, $3) ON CONFLICT (zone, login) DO NOTHING`, string(zone), login, db.Micros(now)); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if until != 0 && until <= db.Micros(now) {
			failures = 0 // an expired lock starts a new count
		}
		failures++
		until = 0
		if failures >= threshold {
			until = db.Micros(now.Add(lockFor))
			locked = true
		}
		if _, err := s.db.Exec(ctx, `UPDATE login_attempts SET failures = $1, locked_until = $2, updated_at = $3
			WHERE zone = $4 AND login = $5`, failures, until, db.Micros(now), string(zone), login); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{ActorID: userID, ActorLogin: login, ActorRole: role,
			Action: "account.login", ObjectType: "user", ObjectID: idString(userID), Outcome: audit.Failure, Reason: why}); err != nil {
			return err
		}
		if locked {
			return s.audit.Record(ctx, audit.Entry{ActorID: userID, ActorLogin: login, ActorRole: role,
				Action: "account.lockout", ObjectType: "user", ObjectID: idString(userID), Outcome: audit.Success,
				Reason: fmt.Sprintf("%d consecutive failures in the %s zone; locked for %s", failures, zone, lockFor)})
		}
		return nil
	})
	if err != nil {
		return apperr.Wrap(err)
	}
	if locked {
		return ErrLocked
	}
	return ErrBadCredentials
}

func (s *Service) auditLogin(ctx context.Context, userID int64, login, role, action, outcome, why string) {
	_ = s.audit.Record(ctx, audit.Entry{ActorID: userID, ActorLogin: login, ActorRole: role, Action: action,
		ObjectType: "user", ObjectID: idString(userID), Outcome: outcome, Reason: why})
}

func (s *Service) auditUser(ctx context.Context, u *User, action, reason string) error {
	return s.audit.Record(ctx, audit.Entry{ActorID: u.ID, ActorLogin: u.Login, ActorRole: string(u.PrimaryRole()),
		Action: action, ObjectType: "user", ObjectID: fmt.Sprint(u.ID), Reason: reason})
}

func idString(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprint(id)
}

// Unlock clears the failure counts of a login name in both zones (the
// server console's action, which names no zone).
func (s *Service) Unlock(ctx context.Context, login string) error {
	login = NormalizeLogin(login)
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `DELETE FROM login_attempts WHERE login = $1`, login); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "account.unlock", ObjectType: "login", ObjectID: login})
	})
}

// UnlockIn clears the failure count of a login name in one zone (the office
// unlocks a staff account: the internet's counter of the same name is not
// the staff account's).
func (s *Service) UnlockIn(ctx context.Context, zone Zone, login string) error {
	login = NormalizeLogin(login)
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `DELETE FROM login_attempts WHERE zone = $1 AND login = $2`, string(zone), login); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "account.unlock", ObjectType: "login", ObjectID: login,
			Reason: "zone=" + string(zone)})
	})
}
