// Package employer holds employers (用人单位): registration with the unified
// social credit code, verification, the unguessable registration code
// (单位注册码) that applicants enter to link to them, and their operators
// (经办人), who invite one another.
package employer

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/ident"
	"jifen/internal/platform/mail"
	"jifen/internal/rules"
)

// Status of an employer's registration.
type Status string

// The statuses.
const (
	Pending  Status = "pending"
	Verified Status = "verified"
	Rejected Status = "rejected"
)

// StatusName is the Chinese name of a status.
func StatusName(s Status) string {
	return map[Status]string{Pending: "待核验", Verified: "已核验", Rejected: "未通过核验"}[s]
}

// Employer is a registered employer.
type Employer struct {
	ID           int64
	CreditCode   string
	Name         string
	District     string
	Address      string
	LegalRep     string
	Status       Status
	RegCode      string // empty until verified
	RegCodeAt    time.Time
	DecidedAt    time.Time
	RejectReason string
	CreatedAt    time.Time
	// MarketCheck is the 市场监管 check at registration (internal/check):
	// '' not yet asked, match, mismatch, not_found or unavailable.
	MarketCheck  string
	MarketDetail string
}

// Service manages employers.
type Service struct {
	db       *db.DB
	audit    *audit.Log
	clock    clock.Clock
	accounts *account.Service
	outbox   *mail.Outbox
}

// WithMail makes the service e-mail invitations through out.
func (s *Service) WithMail(out *mail.Outbox) *Service { s.outbox = out; return s }

// NewService returns the employer service.
func NewService(d *db.DB, a *audit.Log, c clock.Clock, acc *account.Service) *Service {
	return &Service{db: d, audit: a, clock: c, accounts: acc}
}

const columns = `id, credit_code, name, district, address, legal_rep, status, COALESCE(reg_code, ''), reg_code_at, decided_at,
	reject_reason, created_at, market_check, market_detail`

func scan(s interface{ Scan(...any) error }) (*Employer, error) {
	e := &Employer{}
	var st string
	var rca, da, ca int64
	if err := s.Scan(&e.ID, &e.CreditCode, &e.Name, &e.District, &e.Address, &e.LegalRep, &st, &e.RegCode, &rca, &da,
		&e.RejectReason, &ca, &e.MarketCheck, &e.MarketDetail); err != nil {
		return nil, err
	}
	e.Status = Status(st)
	e.RegCodeAt, e.DecidedAt, e.CreatedAt = db.FromMicros(rca), db.FromMicros(da), db.FromMicros(ca)
	return e, nil
}

// ErrNotFound hides whether an employer exists from those who may not see it.
var ErrNotFound = apperr.New(apperr.NotFound, "单位不存在")

func (s *Service) one(ctx context.Context, where string, arg any) (*Employer, error) {
	e, err := scan(s.db.QueryRow(ctx, `SELECT `+columns+` FROM employers WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return e, nil
}

// Get returns an employer by id.
func (s *Service) Get(ctx context.Context, id int64) (*Employer, error) {
	return s.one(ctx, "id = $1", id)
}

// ByRegCode returns the verified employer with a registration code.
func (s *Service) ByRegCode(ctx context.Context, code string) (*Employer, error) {
	code = NormalizeRegCode(code)
	if code == "" {
		return nil, ErrNotFound
	}
	e, err := s.one(ctx, "reg_code = $1", code)
	if err != nil || e.Status != Verified {
		return nil, ErrNotFound
	}
	return e, nil
}

// ForOperator returns the employer an operator account acts for.
func (s *Service) ForOperator(ctx context.Context, userID int64) (*Employer, error) {
	return s.one(ctx, "id = (SELECT employer_id FROM employer_operators WHERE user_id = $1)", userID)
}

// Registration is what an employer declares to register, with its first operator.
type Registration struct {
	CreditCode string
	Name       string
	District   string
	Address    string
	LegalRep   string
	// Industry and Size are optional (Industries, Sizes); the statistics
	// count an employer without them as 未填写.
	Industry      string
	Size          string
	OperatorName  string
	OperatorLogin string
	Phone         string
	Email         string
	Password      string
	// PrivacyVersion is the operator's consent to the privacy notice
	// (account.PrivacyNoticeVersion), stored with their account.
	PrivacyVersion string
}

// Validate checks the employer's part of a registration; the operator's
// account is checked by the account service.
func (r *Registration) Validate() []apperr.FieldError {
	var fe []apperr.FieldError
	add := func(f, m string) { fe = append(fe, apperr.FieldError{Field: f, Message: m}) }
	if cc, err := ident.ValidateCreditCode(r.CreditCode); err != nil {
		add("credit_code", err.Error())
	} else {
		r.CreditCode = cc
	}
	r.Name = strings.TrimSpace(r.Name)
	if n := utf8.RuneCountInString(r.Name); n < 2 || n > 100 {
		add("name", "单位名称应为2到100个字")
	}
	if !slices.Contains(rules.Districts(), r.District) {
		add("district", "请选择单位所在区（北京市16个区之一）")
	}
	r.Address = strings.TrimSpace(r.Address)
	if n := utf8.RuneCountInString(r.Address); n < 5 || n > 200 {
		add("address", "单位地址应为5到200个字")
	}
	r.LegalRep = strings.TrimSpace(r.LegalRep)
	if n := utf8.RuneCountInString(r.LegalRep); n < 2 || n > 50 {
		add("legal_rep", "法定代表人姓名应为2到50个字")
	}
	if r.Industry != "" && ClassName(Industries, r.Industry) == "" {
		add("industry", "请从列表中选择单位所属行业")
	}
	if r.Size != "" && ClassName(Sizes, r.Size) == "" {
		add("size", "请从列表中选择单位规模")
	}
	r.OperatorName = strings.TrimSpace(r.OperatorName)
	if n := utf8.RuneCountInString(r.OperatorName); n < 2 || n > 50 {
		add("operator_name", "经办人姓名应为2到50个字")
	}
	if r.Email == "" {
		add("email", "请填写经办人电子邮箱，用于接收通知")
	}
	if r.Phone == "" {
		add("phone", "请填写经办人手机号")
	}
	return fe
}

// Register creates a pending employer and its first operator's account in
// one transaction. The caller has checked the registration window.
func (s *Service) Register(ctx context.Context, r Registration) (*Employer, *account.User, error) {
	fe := r.Validate()
	if err := account.CheckConsent(r.PrivacyVersion); err != nil {
		fe = append(fe, apperr.As(err).Fields...)
	}
	// Validate and hash the operator's account before the transaction: the
	// hash is slow and must not hold the write lock.
	prep, err := s.accounts.PrepareUser(ctx, account.NewUser{Login: r.OperatorLogin, DisplayName: r.OperatorName,
		Zone: account.Internet, Email: r.Email, Phone: r.Phone, Password: r.Password,
		Roles: []account.Role{account.EmployerOperator}, PrivacyVersion: r.PrivacyVersion})
	if err != nil {
		ae := apperr.As(err)
		if ae.Code != apperr.Invalid {
			return nil, nil, err
		}
		for _, f := range ae.Fields {
			if f.Field == "login" {
				f.Field = "operator_login"
			}
			fe = append(fe, f)
		}
	}
	var emp *Employer
	var user *account.User
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if len(fe) == 0 {
			var n int
			if err := s.db.QueryRow(ctx, `SELECT count(*) FROM employers WHERE credit_code = $1`, r.CreditCode).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				fe = append(fe, apperr.FieldError{Field: "credit_code", Message: "该统一社会信用代码已注册，请由本单位已有经办人邀请您加入"})
			}
		}
		if err := apperr.Fields(fe); err != nil {
			return err
		}
		u, err := s.accounts.InsertUser(ctx, prep)
		if err != nil {
			if ae := apperr.As(err); ae.Code == apperr.Invalid {
				for i := range ae.Fields {
					if ae.Fields[i].Field == "login" {
						ae.Fields[i].Field = "operator_login"
					}
				}
			}
			return err
		}
		user = u
		now := db.Micros(s.clock.Now())
		var id int64
		if err := s.db.QueryRow(ctx, `INSERT INTO employers (credit_code, name, district, address, legal_rep, industry, size, status, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) RETURNING id`, r.CreditCode, r.Name, r.District, r.Address, r.LegalRep,
			r.Industry, r.Size, now, now).Scan(&id); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.Field("credit_code", "该统一社会信用代码已注册")
			}
			return err
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO employer_operators (user_id, employer_id, is_primary, created_at) VALUES ($1, $2, TRUE, $3)`,
			u.ID, id, now); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{ActorID: u.ID, ActorLogin: u.Login, ActorRole: string(account.EmployerOperator),
			Action: "employer.register", ObjectType: "employer", ObjectID: fmt.Sprint(id), Reason: r.CreditCode + " " + r.Name}); err != nil {
			return err
		}
		emp, err = s.Get(ctx, id)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return emp, user, nil
}

// Decide verifies or rejects a pending employer (by hand in the office until
// the cross-check automates it). Verification issues the registration code.
// A district officer decides only employers of their own district.
func (s *Service) Decide(ctx context.Context, by actor.Actor, id int64, approve bool, reason string) (*Employer, error) {
	if err := by.Require(actor.PermCasesDistrict); err != nil {
		return nil, err
	}
	var out *Employer
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		e, err := s.one(ctx, "id = $1"+s.db.ForUpdate(), id)
		if err != nil {
			return err
		}
		if !by.Can(actor.PermCasesCity) && by.District != e.District {
			return ErrNotFound
		}
		if e.Status != Pending {
			return apperr.New(apperr.Conflict, "该单位已"+StatusName(e.Status))
		}
		now := db.Micros(s.clock.Now())
		if approve {
			code, err := newRegCode()
			if err != nil {
				return err
			}
			_, err = s.db.Exec(ctx, `UPDATE employers SET status = 'verified', reg_code = $1, reg_code_at = $2, decided_at = $3,
				decided_by = $4, updated_at = $5 WHERE id = $6`, code, now, now, by.UserID, now, id)
			if err != nil {
				return err
			}
		} else {
			if strings.TrimSpace(reason) == "" {
				return apperr.Field("reason", "请填写不予核验的理由")
			}
			if _, err := s.db.Exec(ctx, `UPDATE employers SET status = 'rejected', reject_reason = $1, decided_at = $2, decided_by = $3,
				updated_at = $4 WHERE id = $5`, reason, now, by.UserID, now, id); err != nil {
				return err
			}
		}
		action := map[bool]string{true: "employer.verify", false: "employer.reject"}[approve]
		if err := s.audit.Record(ctx, audit.Entry{Action: action, ObjectType: "employer", ObjectID: fmt.Sprint(id), Reason: reason}); err != nil {
			return err
		}
		out, err = s.Get(ctx, id)
		return err
	})
	return out, err
}

// RegenerateCode replaces a verified employer's registration code (when the
// old one leaked), for one of its operators. Links already made stay.
func (s *Service) RegenerateCode(ctx context.Context, by actor.Actor) (string, error) {
	if err := by.Require(actor.PermEmployer); err != nil || by.EmployerID == 0 {
		return "", apperr.New(apperr.Forbidden, "您没有执行此操作的权限")
	}
	employerID := by.EmployerID
	code, err := newRegCode()
	if err != nil {
		return "", apperr.Wrap(err)
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `UPDATE employers SET reg_code = $1, reg_code_at = $2, updated_at = $3 WHERE id = $4 AND status = 'verified'`,
			code, db.Micros(s.clock.Now()), db.Micros(s.clock.Now()), employerID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.Conflict, "单位尚未通过核验，还没有单位注册码")
		}
		return s.audit.Record(ctx, audit.Entry{Action: "employer.regenerate_code", ObjectType: "employer", ObjectID: fmt.Sprint(employerID)})
	})
	return code, err
}

// regCodeAlphabet leaves out 0/O and 1/I/L, which people misread.
const regCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// newRegCode returns 16 characters from a 31-letter alphabet (≈79 bits),
// grouped XXXX-XXXX-XXXX-XXXX for reading aloud.
func newRegCode() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		// 256 = 8×31 + 8: rejecting bytes ≥ 248 would remove the small
		// bias; at 79 bits it does not matter for guessing.
		sb.WriteByte(regCodeAlphabet[int(x)%len(regCodeAlphabet)])
	}
	return sb.String(), nil
}

// NormalizeRegCode upper-cases a typed code and restores its dashes.
func NormalizeRegCode(s string) string {
	var raw []byte
	for _, r := range strings.ToUpper(s) {
		if strings.ContainsRune(regCodeAlphabet, r) {
			raw = append(raw, byte(r))
		} else if r != '-' && r != ' ' {
			return ""
		}
	}
	if len(raw) != 16 {
		return ""
	}
	return string(raw[0:4]) + "-" + string(raw[4:8]) + "-" + string(raw[8:12]) + "-" + string(raw[12:16])
}

// Filter selects employers for the office list.
type Filter struct {
	Status   Status
	District string
	Query    string // substring of the name, or the exact credit code
	Limit    int
	Offset   int
}

// List returns employers, oldest registration first (the queue order).
func (s *Service) List(ctx context.Context, f Filter) ([]*Employer, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	var w db.Where
	if f.Status != "" {
		w.And("status = ?", string(f.Status))
	}
	if f.District != "" {
		w.And("district = ?", f.District)
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		w.And("(name LIKE ? OR credit_code = ?)", "%"+q+"%", strings.ToUpper(q))
	}
	q := `SELECT ` + columns + ` FROM employers` + w.SQL() + ` ORDER BY created_at, id LIMIT ` + w.Arg(f.Limit) + ` OFFSET ` + w.Arg(max(f.Offset, 0))
	rows, err := s.db.Query(ctx, q, w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []*Employer
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
