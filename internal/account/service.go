package account

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/ident"
	"jifen/internal/platform/mail"
	"jifen/internal/platform/password"
	"jifen/internal/rules"
	"jifen/internal/settings"
)

// Service is the account service.
type Service struct {
	db       *db.DB
	audit    *audit.Log
	clock    clock.Clock
	hasher   *password.Hasher
	keys     *crypto.Keyring
	settings *settings.Store
	outbox   *mail.Outbox
}

// NewService wires the account service.
func NewService(d *db.DB, a *audit.Log, c clock.Clock, h *password.Hasher, k *crypto.Keyring, st *settings.Store) *Service {
	return &Service{db: d, audit: a, clock: c, hasher: h, keys: k, settings: st}
}

// WithMail gives the service the mail outbox through which it tells an
// account's owner what was done to the account: a reset password, a second
// registration of their ID number. Without it those actions are refused
// (a reset) or tell no one (a registration).
func (s *Service) WithMail(out *mail.Outbox) *Service { s.outbox = out; return s }

// Hasher returns the password hasher (for the synthetic population, which
// hashes one shared password once).
func (s *Service) Hasher() *password.Hasher { return s.hasher }

// NewUser is the input to CreateUser.
type NewUser struct {
	Login       string
	DisplayName string
	Zone        Zone
	Email       string
	Phone       string
	Password    string
	Roles       []Role // granted directly: only from the command line, registration or the demo
	MustChange  bool
	Demo        bool
	District    string // staff of a district bureau: their district
	// PrivacyVersion is the version of the privacy notice the holder
	// accepted at self-registration; "" for accounts made otherwise.
	PrivacyVersion string
}

// PrivacyNoticeVersion is the version of the privacy notice (个人信息处理规则)
// the portal shows now; a registration records the version it accepted.
// Change it whenever the notice's text changes.
const PrivacyNoticeVersion = "2026-01"

// CheckConsent checks a self-registration's consent to the privacy notice:
// it must name the notice's current version.
func CheckConsent(version string) error {
	switch version {
	case PrivacyNoticeVersion:
		return nil
	case "":
		return apperr.Field("privacy", "请阅读并同意《个人信息处理规则》")
	default:
		return apperr.Field("privacy", "《个人信息处理规则》已更新，请阅读新版本后再次同意")
	}
}

// CreateUser creates an account. Roles given here are granted without the
// four-eyes procedure: this is for the operator's command line (bootstrap),
// self-registration (applicant, employer_operator) and the demo only.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (*User, error) {
	p, err := s.PrepareUser(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.InsertUser(ctx, p)
}

// PreparedUser is a validated new account with its password hashed.
type PreparedUser struct {
	in                       NewUser
	hash, phoneEnc, phoneIdx string
}

// InsertUser stores a prepared account. Registration prepares outside its
// transaction and inserts inside it, so the slow password hash never holds
// the database's write lock.
func (s *Service) InsertUser(ctx context.Context, p *PreparedUser) (*User, error) {
	return s.insertUser(ctx, p.in, p.hash, p.phoneEnc, p.phoneIdx)
}

// PrepareUser validates a new account and hashes its password; it writes
// nothing. Validation errors name the fields.
func (s *Service) PrepareUser(ctx context.Context, in NewUser) (*PreparedUser, error) {
	in.Login = NormalizeLogin(in.Login)
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	var fe []apperr.FieldError
	if err := ValidateLogin(in.Login); err != nil {
		fe = append(fe, apperr.As(err).Fields...)
	}
	if in.DisplayName == "" || utf8.RuneCountInString(in.DisplayName) > 50 {
		fe = append(fe, apperr.FieldError{Field: "display_name", Message: "姓名不能为空，且不超过50个字"})
	}
	if in.Zone != Internet && in.Zone != Office {
		fe = append(fe, apperr.FieldError{Field: "zone", Message: "账号类型不正确"})
	}
	for _, r := range in.Roles {
		ri, ok := Info(r)
		if !ok {
			fe = append(fe, apperr.FieldError{Field: "role", Message: "未知角色：" + string(r)})
		} else if ri.Zone != in.Zone {
			fe = append(fe, apperr.FieldError{Field: "role", Message: ri.Name + "不能授予该类账号"})
		}
	}
	if in.District != "" && !slices.Contains(rules.Districts(), in.District) {
		fe = append(fe, apperr.FieldError{Field: "district", Message: "请选择北京市16个区之一"})
	}
	if err := conflictingRoles(in.Roles); err != nil {
		fe = append(fe, apperr.As(err).Fields...)
	}
	if in.Email != "" && (!strings.Contains(in.Email, "@") || len(in.Email) > 200) {
		fe = append(fe, apperr.FieldError{Field: "email", Message: "电子邮箱格式不正确"})
	}
	var phoneEnc, phoneIdx string
	if in.Phone != "" {
		p, err := ident.ValidateMobile(in.Phone)
		if err != nil {
			fe = append(fe, apperr.FieldError{Field: "phone", Message: err.Error()})
		} else {
			if phoneEnc, err = s.keys.EncryptString(p, "phone"); err != nil {
				return nil, apperr.Wrap(err)
			}
			phoneIdx = s.keys.BlindIndex("phone", p)
		}
	}
	if err := password.CheckPolicy(in.Password, in.Login); err != nil {
		fe = append(fe, policyFields("password", err)...)
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return &PreparedUser{in: in, hash: hash, phoneEnc: phoneEnc, phoneIdx: phoneIdx}, nil
}

// CreateUserWithHash creates an account whose password hash is already
// computed (the demo and the synthetic population reuse one hash). The
// caller has checked the shared password against the policy once.
func (s *Service) CreateUserWithHash(ctx context.Context, in NewUser, hash string) (*User, error) {
	in.Login = NormalizeLogin(in.Login)
	if err := ValidateLogin(in.Login); err != nil {
		return nil, err
	}
	return s.insertUser(ctx, in, hash, "", "")
}

func (s *Service) insertUser(ctx context.Context, in NewUser, hash, phoneEnc, phoneIdx string) (*User, error) {
	var id int64
	now := db.Micros(s.clock.Now())
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		err := s.db.QueryRow(ctx, `INSERT INTO users (login, display_name, zone, email, phone_enc, phone_idx, password_hash,
			password_changed_at, must_change_password, demo, district, created_at, updated_at, privacy_version, privacy_accepted_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
			in.Login, in.DisplayName, string(in.Zone), in.Email, phoneEnc, phoneIdx, hash, now, in.MustChange, in.Demo, in.District,
			now, now, in.PrivacyVersion, consentAt(in.PrivacyVersion, now)).Scan(&id)
		if db.IsUniqueViolation(err) {
			return apperr.Field("login", MsgLoginTaken)
		}
		if err != nil {
			return err
		}
		by := actor.From(ctx)
		for _, r := range in.Roles {
			if _, err := s.db.Exec(ctx, `INSERT INTO user_roles (user_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4)`,
				id, string(r), now, by.UserID); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, audit.Entry{Action: "account.create", ObjectType: "user", ObjectID: fmt.Sprint(id),
			Reason: fmt.Sprintf("login=%s zone=%s roles=%v", in.Login, in.Zone, in.Roles)})
	})
	if err != nil {
		return nil, err
	}
	return s.UserByID(ctx, id)
}

// MsgLoginTaken answers a login name another account of the same zone
// holds. Staff and public names are separate namespaces, so registration on
// the internet never learns of a staff name.
const MsgLoginTaken = "该登录名已被使用，请换一个"

// conflictingRoles enforces 三员分立: an account holds at most one of the
// three administrator roles, and never an administrator role together with
// any other role.
func conflictingRoles(roles []Role) error {
	admins := 0
	for _, r := range roles {
		if ri, ok := Info(r); ok && ri.Admin {
			admins++
		}
	}
	if admins > 1 || (admins == 1 && len(roles) > 1) {
		return apperr.Field("role", "三员分立：系统管理员、安全管理员、审计管理员不能兼任，也不能兼任其他角色")
	}
	return nil
}

func policyFields(field string, err error) []apperr.FieldError {
	if pe, ok := err.(*password.PolicyError); ok {
		return []apperr.FieldError{{Field: field, Message: strings.Join(pe.Messages(), "；")}}
	}
	return []apperr.FieldError{{Field: field, Message: err.Error()}}
}

// Phone decrypts the user's phone number (for its owner or an official whose
// role needs it; callers mask it everywhere else).
func (s *Service) Phone(u *User) (string, error) {
	if u.PhoneEnc == "" {
		return "", nil
	}
	return s.keys.DecryptString(u.PhoneEnc, "phone")
}

// consentAt is when a consent to the privacy notice was given: now when
// there is one, 0 when not.
func consentAt(version string, now int64) int64 {
	if version == "" {
		return 0
	}
	return now
}
