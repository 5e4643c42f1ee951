// Package person holds applicants (申请人): their identity, kept encrypted
// with a blind index so that one ID number has one account, and their links
// to employers (关联单位) in each round.
package person

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/employer"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/ident"
)

// Person is an applicant.
type Person struct {
	ID        int64
	UserID    int64
	Name      string
	BirthDate string // YYYY-MM-DD, from the ID number
	Sex       string // M or F, from the ID number
	IDMasked  string
	CreatedAt time.Time
	idEnc     string
}

// Service manages applicants and their links.
type Service struct {
	db        *db.DB
	audit     *audit.Log
	clock     clock.Clock
	keys      *crypto.Keyring
	accounts  *account.Service
	employers *employer.Service
}

// NewService returns the person service.
func NewService(d *db.DB, a *audit.Log, c clock.Clock, k *crypto.Keyring, acc *account.Service, emp *employer.Service) *Service {
	return &Service{db: d, audit: a, clock: c, keys: k, accounts: acc, employers: emp}
}

// Registration is what an applicant gives to register.
type Registration struct {
	IDNumber string
	Name     string
	Login    string
	Phone    string
	Email    string
	Password string
	// PrivacyVersion is the version of the privacy notice (个人信息处理规则)
	// the registrant accepted; it must be the current one
	// (account.PrivacyNoticeVersion) and is stored with the account.
	PrivacyVersion string
}

// ErrNotFound hides whether a person exists.
var ErrNotFound = apperr.New(apperr.NotFound, "申请人不存在")

const columns = `id, user_id, name, birth_date, sex, id_enc, created_at`

func (s *Service) scan(row interface{ Scan(...any) error }) (*Person, error) {
	p := &Person{}
	var ca int64
	if err := row.Scan(&p.ID, &p.UserID, &p.Name, &p.BirthDate, &p.Sex, &p.idEnc, &ca); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, apperr.Wrap(err)
	}
	p.CreatedAt = db.FromMicros(ca)
	if id, err := s.keys.DecryptString(p.idEnc, "id_number"); err == nil {
		p.IDMasked = ident.MaskIDNumber(id)
	}
	return p, nil
}

// Get returns a person by id.
func (s *Service) Get(ctx context.Context, id int64) (*Person, error) {
	return s.scan(s.db.QueryRow(ctx, `SELECT `+columns+` FROM persons WHERE id = $1`, id))
}

// ByUser returns the person of an applicant account.
func (s *Service) ByUser(ctx context.Context, userID int64) (*Person, error) {
	return s.scan(s.db.QueryRow(ctx, `SELECT `+columns+` FROM persons WHERE user_id = $1`, userID))
}

// ByIDNumber finds a person by ID number through the blind index.
func (s *Service) ByIDNumber(ctx context.Context, idNumber string) (*Person, error) {
	n, err := ident.ValidateIDNumber(idNumber, s.clock.Now())
	if err != nil {
		return nil, ErrNotFound
	}
	return s.scan(s.db.QueryRow(ctx, `SELECT `+columns+` FROM persons WHERE id_idx = $1`, s.keys.BlindIndex("id_number", n)))
}

// FullIDNumber decrypts a person's ID number for display to its owner or to
// an official who handles cases (the caller has already checked that the
// official may see this person's case, e.g. through the discrepancy or
// application it came from). Every reveal to someone else is recorded in
// the audit trail, with why, before the number is returned; anyone else
// gets ErrNotFound.
func (s *Service) FullIDNumber(ctx context.Context, by actor.Actor, p *Person, why string) (string, error) {
	own := by.PersonID != 0 && by.PersonID == p.ID
	if !own && !by.Can(actor.PermCasesDistrict) && !by.Can(actor.PermCasesCity) {
		return "", ErrNotFound
	}
	id, err := s.keys.DecryptString(p.idEnc, "id_number")
	if err != nil {
		return "", apperr.Wrap(err)
	}
	if own {
		return id, nil
	}
	if err := s.audit.Record(ctx, audit.Entry{ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()),
		ClientAddr: by.ClientAddr, RequestID: by.RequestID, Action: audit.ViewIDNumber, ObjectType: "person",
		ObjectID: fmt.Sprint(p.ID), Reason: why}); err != nil {
		return "", apperr.Wrap(err)
	}
	return id, nil
}

// ValidateName checks a person's name as on the ID card: 2–30 characters,
// Chinese or Latin letters, with the middle dot of minority and foreign names.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n < 2 || n > 30 {
		return "", apperr.Field("name", "姓名应为2到30个字，与身份证一致")
	}
	for _, r := range name {
		if !(unicode.Is(unicode.Han, r) || unicode.IsLetter(r) || r == '·' || r == '•' || r == ' ') {
			return "", apperr.Field("name", "姓名只能包含汉字、字母和间隔号“·”，与身份证一致")
		}
	}
	return name, nil
}

// ErrRegisteredAgain is what Register returns when the ID number already
// has an account and everything else in the registration was valid: nothing
// was created and the holder was told by e-mail. A surface answers it
// exactly as it answers a new registration, so registration never reveals
// which ID numbers have accounts (the answer must not be this error's).
var ErrRegisteredAgain = errors.New("person: ID number already registered; holder notified")

// Register creates an applicant's account and person record in one
// transaction. One ID number has one account: a second registration
// creates nothing (the blind index's unique constraint holds it too), tells
// the holder by e-mail and returns the person as the registration describes
// it (no id, no account) with ErrRegisteredAgain. Field errors, the login
// name's included, are reported the same whether or not the ID number has
// an account.
func (s *Service) Register(ctx context.Context, r Registration) (*Person, *account.User, error) {
	var fe []apperr.FieldError
	id, err := ident.ValidateIDNumber(r.IDNumber, s.clock.Now())
	if err != nil {
		fe = append(fe, apperr.FieldError{Field: "id_number", Message: err.Error()})
	}
	name, err := ValidateName(r.Name)
	if err != nil {
		fe = append(fe, apperr.As(err).Fields...)
	}
	if r.Phone == "" {
		fe = append(fe, apperr.FieldError{Field: "phone", Message: "请填写手机号"})
	}
	if r.Email == "" {
		fe = append(fe, apperr.FieldError{Field: "email", Message: "请填写电子邮箱，用于接收办理进度通知"})
	}
	if err := account.CheckConsent(r.PrivacyVersion); err != nil {
		fe = append(fe, apperr.As(err).Fields...)
	}
	prep, err := s.accounts.PrepareUser(ctx, account.NewUser{Login: r.Login, DisplayName: name, Zone: account.Internet,
		Email: r.Email, Phone: r.Phone, Password: r.Password, Roles: []account.Role{account.Applicant},
		PrivacyVersion: r.PrivacyVersion})
	if err != nil {
		ae := apperr.As(err)
		if ae.Code != apperr.Invalid {
			return nil, nil, err
		}
		fe = append(fe, ae.Fields...)
	}
	var p *Person
	var u *account.User
	holder := false
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		idx := ""
		if id != "" {
			idx = s.keys.BlindIndex("id_number", id)
			var n int
			if err := s.db.QueryRow(ctx, `SELECT count(*) FROM persons WHERE id_idx = $1`, idx).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				holder = true
			}
		}
		if err := apperr.Fields(fe); err != nil {
			return err
		}
		if holder {
			// Answer a taken login name as the insert below would, then
			// tell the holder: the same answers as for a new ID number.
			if taken, err := s.accounts.LoginTaken(ctx, account.Internet, r.Login); err != nil {
				return err
			} else if taken {
				return apperr.Field("login", account.MsgLoginTaken)
			}
			var holderID int64
			if err := s.db.QueryRow(ctx, `SELECT user_id FROM persons WHERE id_idx = $1`, idx).Scan(&holderID); err != nil {
				return err
			}
			return s.accounts.TellRegisteredAgain(ctx, holderID, account.NormalizeLogin(r.Login))
		}
		var err error
		if u, err = s.accounts.InsertUser(ctx, prep); err != nil {
			return err
		}
		enc, err := s.keys.EncryptString(id, "id_number")
		if err != nil {
			return err
		}
		birth := ident.IDBirthDate(id).Format("2006-01-02")
		var pid int64
		if err := s.db.QueryRow(ctx, `INSERT INTO persons (user_id, id_enc, id_idx, name, birth_date, sex, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, u.ID, enc, idx, name, birth, ident.IDSex(id),
			db.Micros(s.clock.Now())).Scan(&pid); err != nil {
			if db.IsUniqueViolation(err) {
				// A registration of the same ID number committed first.
				return apperr.New(apperr.Conflict, "注册未完成，请稍后重试")
			}
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{ActorID: u.ID, ActorLogin: u.Login, ActorRole: string(account.Applicant),
			Action: "person.register", ObjectType: "person", ObjectID: fmt.Sprint(pid)}); err != nil {
			return err
		}
		p, err = s.Get(ctx, pid)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if holder {
		return &Person{Name: name, BirthDate: ident.IDBirthDate(id).Format("2006-01-02"), Sex: ident.IDSex(id),
			IDMasked: ident.MaskIDNumber(id)}, nil, ErrRegisteredAgain
	}
	return p, u, nil
}
