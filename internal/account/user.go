package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// User is an account of any actor.
type User struct {
	ID                 int64
	Login              string
	DisplayName        string
	Zone               Zone
	Email              string
	PhoneEnc           string
	PasswordHash       string
	PasswordChangedAt  time.Time
	MustChangePassword bool
	TOTPSecretEnc      string
	TOTPEnabled        bool
	TOTPLastStep       int64
	Disabled           bool
	Demo               bool
	District           string // a district officer's district; "" for everyone else
	CreatedAt          time.Time
	LastLoginAt        time.Time // zero: never logged in since it was recorded
	Roles              []Role
}

// Can reports whether the user's roles allow p.
func (u *User) Can(p Permission) bool { return u != nil && !u.Disabled && Can(u.Roles, p) }

// HasRole reports whether the user holds r.
func (u *User) HasRole(r Role) bool {
	for _, x := range u.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Actor is the user acting, for domain operations and the audit trail.
func (u *User) Actor() actor.Actor { return u.ActorAt("", "") }

// ActorAt is the user acting from a client address in a request.
func (u *User) ActorAt(clientAddr, requestID string) actor.Actor {
	if u == nil {
		return actor.Actor{ClientAddr: clientAddr, RequestID: requestID}
	}
	a := actor.Actor{UserID: u.ID, Login: u.Login, Name: u.DisplayName, District: u.District,
		ClientAddr: clientAddr, RequestID: requestID}
	if !u.Disabled {
		a.Roles = u.Roles
	}
	return a
}

// PrimaryRole is the role shown in the audit trail and on pages.
func (u *User) PrimaryRole() Role {
	if len(u.Roles) == 0 {
		return ""
	}
	return u.Roles[0]
}

// IsAdmin reports whether the account holds one of the three administrator
// roles (三员).
func (u *User) IsAdmin() bool {
	for _, r := range u.Roles {
		if ri, ok := Info(r); ok && ri.Admin {
			return true
		}
	}
	return false
}

// IsStaff reports whether the account belongs to the office zone.
func (u *User) IsStaff() bool { return u.Zone == Office }

// NormalizeLogin trims and lower-cases a login name.
func NormalizeLogin(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateLogin checks a login name: 3–64 characters of letters, digits,
// '.', '_', '-' and '@'.
func ValidateLogin(s string) error {
	n := len([]rune(s))
	if n < 3 || n > 64 {
		return apperr.Field("login", "登录名应为3到64个字符")
	}
	for _, r := range s {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-@", r))) {
			return apperr.Field("login", "登录名只能包含英文字母、数字和 . _ - @")
		}
	}
	return nil
}

const userColumns = `id, login, display_name, zone, email, phone_enc, password_hash, password_changed_at,
	must_change_password, totp_secret_enc, totp_enabled, totp_last_step, disabled, demo, district, created_at, last_login_at`

// userColumnsU is userColumns qualified with the alias u.
var userColumnsU = "u." + strings.Join(strings.Split(strings.Join(strings.Fields(userColumns), " "), ", "), ", u.")

func scanUser(s interface{ Scan(...any) error }) (*User, error) {
	u := &User{}
	var zone string
	var changed, created, lastLogin int64
	if err := s.Scan(&u.ID, &u.Login, &u.DisplayName, &zone, &u.Email, &u.PhoneEnc, &u.PasswordHash, &changed,
		&u.MustChangePassword, &u.TOTPSecretEnc, &u.TOTPEnabled, &u.TOTPLastStep, &u.Disabled, &u.Demo, &u.District, &created,
		&lastLogin); err != nil {
		return nil, err
	}
	u.Zone = Zone(zone)
	u.PasswordChangedAt = db.FromMicros(changed)
	u.CreatedAt = db.FromMicros(created)
	if lastLogin != 0 {
		u.LastLoginAt = db.FromMicros(lastLogin)
	}
	return u, nil
}

// errUserNotFound is returned when no account matches.
var errUserNotFound = apperr.New(apperr.NotFound, "账号不存在")

func (s *Service) userBy(ctx context.Context, where string, args ...any) (*User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &apperr.Error{Code: apperr.NotFound, Message: errUserNotFound.Message, Err: db.ErrNotFound}
	}
	if err != nil {
		return nil, err
	}
	if u.Roles, err = s.rolesOf(ctx, u.ID); err != nil {
		return nil, err
	}
	return u, nil
}

// UserByID returns the account with id.
func (s *Service) UserByID(ctx context.Context, id int64) (*User, error) {
	return s.userBy(ctx, "id = $1", id)
}

// UserByLogin returns the account with login (case-insensitive) for the
// server console and the demo, which name no zone: staff and public login
// names are separate namespaces, and when both hold the name the staff
// account is the one meant (the console manages staff).
func (s *Service) UserByLogin(ctx context.Context, login string) (*User, error) {
	u, err := s.UserInZone(ctx, Office, login)
	if apperr.Is(err, apperr.NotFound) {
		return s.UserInZone(ctx, Internet, login)
	}
	return u, err
}

// UserInZone returns the account with login (case-insensitive) in the
// namespace of zone.
func (s *Service) UserInZone(ctx context.Context, zone Zone, login string) (*User, error) {
	return s.userBy(ctx, "zone = $1 AND login = $2", string(zone), NormalizeLogin(login))
}

// LoginTaken reports whether an account of zone already has login.
func (s *Service) LoginTaken(ctx context.Context, zone Zone, login string) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM users WHERE zone = $1 AND login = $2`, string(zone), NormalizeLogin(login)).Scan(&n)
	return n > 0, err
}

func (s *Service) rolesOf(ctx context.Context, id int64) ([]Role, error) {
	rows, err := s.db.Query(ctx, `SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Role
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, Role(r))
	}
	return out, rows.Err()
}

// UserFilter selects accounts in ListUsers.
type UserFilter struct {
	Zone   Zone
	Role   Role
	Search string // substring of login or display name
	Limit  int
	Offset int
}

// ListUsers returns accounts ordered by login, with their roles, in two
// queries whatever the page size.
func (s *Service) ListUsers(ctx context.Context, f UserFilter) ([]*User, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	var w db.Where
	if f.Zone != "" {
		w.And("zone = ?", string(f.Zone))
	}
	if f.Role != "" {
		w.And("id IN (SELECT user_id FROM user_roles WHERE role = ?)", string(f.Role))
	}
	if f.Search != "" {
		like := "%" + strings.ToLower(f.Search) + "%"
		w.And("(login LIKE ? OR lower(display_name) LIKE ?)", like, like)
	}
	q := `SELECT ` + userColumns + ` FROM users` + w.SQL() + ` ORDER BY login LIMIT ` + w.Arg(f.Limit) + ` OFFSET ` + w.Arg(max(f.Offset, 0))
	args := w.Args()
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*User
	byID := map[int64]*User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
		byID[u.ID] = u
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]string, 0, len(out))
	for _, u := range out {
		ids = append(ids, fmt.Sprint(u.ID))
	}
	rrows, err := s.db.Query(ctx, `SELECT user_id, role FROM user_roles WHERE user_id IN (`+strings.Join(ids, ",")+`) ORDER BY role`)
	if err != nil {
		return nil, err
	}
	defer rrows.Close()
	for rrows.Next() {
		var id int64
		var r string
		if err := rrows.Scan(&id, &r); err != nil {
			return nil, err
		}
		byID[id].Roles = append(byID[id].Roles, Role(r))
	}
	return out, rrows.Err()
}

// CountActiveWithRole counts enabled accounts holding r.
func (s *Service) CountActiveWithRole(ctx context.Context, r Role) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM users u JOIN user_roles ur ON ur.user_id = u.id
		WHERE ur.role = $1 AND u.disabled = FALSE`, string(r)).Scan(&n)
	return n, err
}
