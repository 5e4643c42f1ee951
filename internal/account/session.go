package account

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/settings"
)

// Stage is what a session may do. A session that still owes a step can do
// nothing but that step.
type Stage string

// The stages. Next-step names match the JSON login answer.
const (
	StageFull           Stage = ""
	StageChangePassword Stage = "change_password"
	StageTOTP           Stage = "totp"
	// stageReplaced marks a session ended by a newer login of the same
	// account (the session limit): its next request is told why, once.
	stageReplaced Stage = "replaced"
)

// Session is a server-side login session. The cookie holds a random token;
// the database holds only its SM3 digest.
type Session struct {
	ID         string // SM3 of the token
	UserID     int64
	Zone       Zone
	Stage      Stage
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	ClientAddr string
	UserAgent  string
}

// touchEvery bounds session writes: a hit refreshes last_seen_at at most once
// a minute, so reading pages does not cost a database commit each.
const touchEvery = time.Minute

func newToken() (token, id string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, crypto.SM3Hex([]byte(token)), nil
}

// prefixScanner scans leading columns into pre, then the rest into the
// caller's destinations: it lets scanUser read a user that follows other
// columns in the same row.
type prefixScanner struct {
	row interface{ Scan(...any) error }
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.row.Scan(append(p.pre, dest...)...) }

// sessionID is the stored key of a token.
func sessionID(token string) string { return crypto.SM3Hex([]byte(token)) }

func (s *Service) createSession(ctx context.Context, u *User, zone Zone, stage Stage, addr, ua string) (string, error) {
	token, id, err := newToken()
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	abs := time.Duration(s.settings.Int(ctx, settings.AbsoluteHours)) * time.Hour
	if len(ua) > 300 {
		ua = ua[:300]
	}
	_, err = s.db.Exec(ctx, `INSERT INTO sessions (id, user_id, zone, stage, created_at, last_seen_at, expires_at, client_addr, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, u.ID, string(zone), string(stage), db.Micros(now), db.Micros(now),
		db.Micros(now.Add(abs)), addr, ua)
	return token, err
}

// ErrNoSession means the token names no live session.
var ErrNoSession = apperr.New(apperr.Unauthorized, "登录已失效，请重新登录")

// ErrSessionReplaced means the session was ended by a newer login of the same
// account, beyond the account's limit of concurrent sessions.
var ErrSessionReplaced = apperr.New(apperr.Unauthorized, "您的账号已在其他地方登录，本会话已退出。如非本人操作，请立即修改密码")

// Authenticate returns the session and user for token on zone. Expired
// sessions (idle or absolute) are deleted and answer ErrNoSession.
func (s *Service) Authenticate(ctx context.Context, zone Zone, token string) (*Session, *User, error) {
	if token == "" || len(token) > 100 {
		return nil, nil, ErrNoSession
	}
	id := sessionID(token)
	se := &Session{ID: id}
	var z, st string
	var created, seen, exp int64
	// One query for the session and its user; the roles are the second.
	row := s.db.QueryRow(ctx, `SELECT s.user_id, s.zone, s.stage, s.created_at, s.last_seen_at, s.expires_at, s.client_addr,
		s.user_agent, `+userColumnsU+` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`, id)
	u, err := scanUser(prefixScanner{row, []any{&se.UserID, &z, &st, &created, &seen, &exp, &se.ClientAddr, &se.UserAgent}})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNoSession
	}
	if err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	se.Zone, se.Stage = Zone(z), Stage(st)
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = db.FromMicros(created), db.FromMicros(seen), db.FromMicros(exp)
	if se.Zone != zone || u.Disabled {
		return nil, nil, ErrNoSession
	}
	if se.Stage == stageReplaced {
		_, _ = s.db.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
		return nil, nil, ErrSessionReplaced
	}
	now := s.clock.Now()
	if !now.Before(se.ExpiresAt) || !now.Before(se.LastSeenAt.Add(s.idle(ctx, zone))) {
		_, _ = s.db.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
		return nil, nil, ErrNoSession
	}
	if u.Roles, err = s.rolesOf(ctx, u.ID); err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	if now.Sub(se.LastSeenAt) >= touchEvery {
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, db.Micros(now), id); err == nil {
			se.LastSeenAt = now
		}
	}
	return se, u, nil
}

func (s *Service) idle(ctx context.Context, zone Zone) time.Duration {
	key := settings.IdleInternetMin
	if zone == Office {
		key = settings.IdleOfficeMin
	}
	return time.Duration(s.settings.Int(ctx, key)) * time.Minute
}

// IdleTimeout returns the idle timeout of a zone (for cookie lifetimes and pages).
func (s *Service) IdleTimeout(ctx context.Context, zone Zone) time.Duration { return s.idle(ctx, zone) }

// renew replaces a session's token (at a change of privilege: a finished
// password change or second factor), keeping its absolute expiry.
func (s *Service) renew(ctx context.Context, se *Session, stage Stage) (string, error) {
	token, id, err := newToken()
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	_, err = s.db.Exec(ctx, `UPDATE sessions SET id = $1, stage = $2, last_seen_at = $3 WHERE id = $4`,
		id, string(stage), db.Micros(now), se.ID)
	if err != nil {
		return "", err
	}
	se.ID, se.Stage, se.LastSeenAt = id, stage, now
	return token, nil
}

// Logout ends one session.
func (s *Service) Logout(ctx context.Context, se *Session, u *User) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, se.ID); err != nil {
			return err
		}
		return s.auditUser(ctx, u, "account.logout", "")
	})
}

// LogoutEverywhere ends every session of the user ("log out everywhere").
func (s *Service) LogoutEverywhere(ctx context.Context, u *User) (int64, error) {
	var n int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return s.auditUser(ctx, u, "account.logout_everywhere", "")
	})
	return n, err
}

// Sessions lists the live sessions of a user, newest first.
func (s *Service) Sessions(ctx context.Context, userID int64) ([]Session, error) {
	rows, err := s.db.Query(ctx, `SELECT id, zone, stage, created_at, last_seen_at, expires_at, client_addr, user_agent
		FROM sessions WHERE user_id = $1 AND expires_at > $2 AND stage <> 'replaced' ORDER BY created_at DESC`, userID, db.Micros(s.clock.Now()))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		se := Session{UserID: userID}
		var z, st string
		var c, l, e int64
		if err := rows.Scan(&se.ID, &z, &st, &c, &l, &e, &se.ClientAddr, &se.UserAgent); err != nil {
			return nil, err
		}
		se.Zone, se.Stage = Zone(z), Stage(st)
		se.CreatedAt, se.LastSeenAt, se.ExpiresAt = db.FromMicros(c), db.FromMicros(l), db.FromMicros(e)
		out = append(out, se)
	}
	return out, rows.Err()
}

// PurgeExpiredSessions deletes sessions past their absolute expiry.
func (s *Service) PurgeExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, db.Micros(s.clock.Now()))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sessionLimit is how many full sessions a staff account may hold at once
// (0: no limit): the security administrator's settings, one for the three
// administrators and one for every other staff member. Internet accounts
// have no limit.
func (s *Service) sessionLimit(ctx context.Context, u *User) int {
	switch {
	case !u.IsStaff():
		return 0
	case u.IsAdmin():
		return s.settings.Int(ctx, settings.MaxSessionsAdmin)
	default:
		return s.settings.Int(ctx, settings.MaxSessionsStaff)
	}
}

// endExcessSessions ends the oldest full sessions of u beyond its limit,
// keeping keep (the session that just became full), in ctx's transaction.
// A new login wins over an old one: an administrator who left a session open
// on another machine, or whose session was stolen, is never locked out by
// it, and the older holder is sent back to the login page. It is called
// when a session completes its last step (the second factor), so a password
// alone cannot end anyone's session.
// fullSessionsBut returns the ids of the user's full sessions other than
// keep, newest first.
func (s *Service) fullSessionsBut(ctx context.Context, userID int64, keep string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM sessions WHERE user_id = $1 AND stage = '' AND id <> $2
		ORDER BY created_at DESC, id`, userID, keep)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func (s *Service) endExcessSessions(ctx context.Context, u *User, keep string) error {
	limit := s.sessionLimit(ctx, u)
	if limit <= 0 {
		return nil
	}
	ids, err := s.fullSessionsBut(ctx, u.ID, keep)
	if err != nil {
		return err
	}
	if len(ids) < limit {
		return nil
	}
	ended := ids[limit-1:]
	for _, id := range ended {
		// Kept, marked, until its holder's next request tells them why.
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET stage = 'replaced' WHERE id = $1`, id); err != nil {
			return err
		}
	}
	return s.auditUser(ctx, u, "account.session_replaced",
		fmt.Sprintf("limit=%d; %d older session(s) ended by a new login", limit, len(ended)))
}

// StaffSession is a live staff session with its account, for the security
// administrator.
type StaffSession struct {
	Session
	Login       string
	DisplayName string
}

// StaffSessions lists every live staff session, newest first (the security
// administrator's view; at most 500).
func (s *Service) StaffSessions(ctx context.Context, by actor.Actor) ([]StaffSession, error) {
	if err := by.Require(PermSecurityManage); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	idleSince := now.Add(-s.idle(ctx, Office))
	rows, err := s.db.Query(ctx, `SELECT s.id, s.user_id, s.stage, s.created_at, s.last_seen_at, s.expires_at, s.client_addr,
		s.user_agent, u.login, u.display_name FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.zone = 'office' AND s.expires_at > $1 AND s.last_seen_at > $2 AND s.stage <> 'replaced'
		ORDER BY s.created_at DESC LIMIT 500`,
		db.Micros(now), db.Micros(idleSince))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StaffSession
	for rows.Next() {
		se := StaffSession{Session: Session{Zone: Office}}
		var st string
		var c, l, e int64
		if err := rows.Scan(&se.ID, &se.UserID, &st, &c, &l, &e, &se.ClientAddr, &se.UserAgent, &se.Login, &se.DisplayName); err != nil {
			return nil, err
		}
		se.Stage = Stage(st)
		se.CreatedAt, se.LastSeenAt, se.ExpiresAt = db.FromMicros(c), db.FromMicros(l), db.FromMicros(e)
		out = append(out, se)
	}
	return out, rows.Err()
}

// EndStaffSession ends one staff session (the security administrator's
// action, e.g. a session from an address nobody recognises).
func (s *Service) EndStaffSession(ctx context.Context, by actor.Actor, id string) error {
	if err := by.Require(PermSecurityManage); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		var uid int64
		err := s.db.QueryRow(ctx, `DELETE FROM sessions WHERE id = $1 AND zone = 'office' RETURNING user_id`, id).Scan(&uid)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "该会话已结束")
		}
		if err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "account.session_end", ObjectType: "user", ObjectID: fmt.Sprint(uid)})
	})
}
