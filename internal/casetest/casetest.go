// Package casetest builds the services of the case-handling domain —
// accounts, employers, applicants, applications — on a fresh database with
// a fake clock and a round whose windows the test controls, for the
// domain packages' tests.
package casetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/ident"
	"jifen/internal/platform/mail"
	"jifen/internal/platform/password"
	"jifen/internal/settings"
)

// Env is the services on one database.
type Env struct {
	T            testing.TB
	Ctx          context.Context
	DB           *db.DB
	Clock        *clock.Fake
	Audit        *audit.Log
	Keys         *crypto.Keyring
	Accounts     *account.Service
	Employers    *employer.Service
	Persons      *person.Service
	Applications *application.Service
	Attachments  *application.Attachments
	Outbox       *mail.Outbox
	Windows      *Windows
	RoundID      int64
	Year         int
}

// Windows is a test double for the round's windows: every kind is open
// unless closed.
type Windows struct {
	mu     sync.Mutex
	closed map[string]bool
	// Hook, when set, runs at every check, inside the caller's
	// transaction: a concurrency test holds transactions there until all
	// have read the same row.
	Hook func(kind string)
}

// Close closes a window kind.
func (w *Windows) Close(kind string) { w.mu.Lock(); w.closed[kind] = true; w.mu.Unlock() }

// Open opens a window kind.
func (w *Windows) Open(kind string) { w.mu.Lock(); delete(w.closed, kind); w.mu.Unlock() }

// RequireOpen implements application.Windows.
func (w *Windows) RequireOpen(_ context.Context, _ int64, kind string) error {
	if w.Hook != nil {
		w.Hook(kind)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed[kind] {
		return apperr.New(apperr.Conflict, kind+" 窗口未开放")
	}
	return nil
}

// Password is the password of every account made here.
const Password = "Kz7#pQw2mLx9"

// New builds the services and a round for year 2027.
func New(t testing.TB) *Env {
	t.Helper()
	d := dbtest.Open(t)
	c := clock.NewFake(time.Date(2027, 4, 10, 2, 0, 0, 0, time.UTC))
	a := audit.New(d, c)
	keys, err := crypto.NewKeyring(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(keys.Pepper(), 2)
	if err != nil {
		t.Fatal(err)
	}
	st := settings.New(d, a, c, 0)
	acc := account.NewService(d, a, c, h, keys, st)
	out := mail.NewOutbox(d, c)
	emp := employer.NewService(d, a, c, acc).WithMail(out)
	per := person.NewService(d, a, c, keys, acc, emp)
	w := &Windows{closed: map[string]bool{}}
	apps := application.NewService(d, a, c, out, w)
	store, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Ctx: context.Background(), DB: d, Clock: c, Audit: a, Keys: keys, Accounts: acc, Employers: emp, Persons: per,
		Applications: apps, Attachments: application.NewAttachments(apps, store), Outbox: out, Windows: w, Year: 2027}
	e.RoundID = e.insertRound(2027)
	return e
}

func (e *Env) insertRound(year int) int64 {
	var id int64
	now := db.Micros(e.Clock.Now())
	if err := e.DB.QueryRow(e.Ctx, `INSERT INTO rounds (year, rulebook, quota, title, created_at, updated_at, created_by)
		VALUES ($1, '2020', 6000, $2, $3, $4, 0) RETURNING id`, year, fmt.Sprintf("%d年度积分落户", year), now, now).Scan(&id); err != nil {
		e.T.Fatalf("insert round: %v", err)
	}
	return id
}

var seq int

// IDNumber returns a valid, new ID number of someone born in 1988.
func IDNumber(male bool) string {
	seq++
	s := seq*2 + 1
	if !male {
		s--
	}
	first := fmt.Sprintf("3201021988%02d%02d%03d", 1+seq%12, 1+seq%28, s%1000)
	c, _ := ident.IDCheckChar(first)
	return first + string(c)
}

// CreditCode returns a valid, new credit code.
func CreditCode() string {
	seq++
	first := fmt.Sprintf("91110108MA%07d", seq)
	c, _ := ident.CreditCodeCheckChar(first)
	return first + string(c)
}

// VerifiedEmployer registers and verifies an employer and returns it with
// its operator.
func (e *Env) VerifiedEmployer(login string) (*employer.Employer, *account.User) {
	e.T.Helper()
	emp, op, err := e.Employers.Register(e.Ctx, employer.Registration{CreditCode: CreditCode(), Name: "北京测试科技有限公司",
		District: "海淀区", Address: "北京市海淀区中关村大街1号", LegalRep: "张三", OperatorName: "李四", OperatorLogin: login,
		Phone: "13800138000", Email: login + "@example.cn", Password: Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		e.T.Fatal(err)
	}
	emp, err = e.Employers.Decide(e.Ctx, actor.SystemActor("test"), emp.ID, true, "")
	if err != nil {
		e.T.Fatal(err)
	}
	return emp, op
}

// Applicant registers an applicant.
func (e *Env) Applicant(login string) (*person.Person, *account.User) {
	e.T.Helper()
	p, u, err := e.Persons.Register(e.Ctx, person.Registration{IDNumber: IDNumber(true), Name: "王小明", Login: login,
		Phone: "13900139000", Email: login + "@example.cn", Password: Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		e.T.Fatal(err)
	}
	return p, u
}

// Linked registers an applicant confirmed by emp and opens the application.
func (e *Env) Linked(login string, emp *employer.Employer, op *account.User) (*person.Person, actor.Actor, *application.Application) {
	e.T.Helper()
	p, u := e.Applicant(login)
	l, err := e.Persons.RequestLink(e.Ctx, p, e.RoundID, emp.RegCode)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := e.Persons.DecideLink(e.Ctx, OperatorActor(emp, op), l.ID, true, ""); err != nil {
		e.T.Fatal(err)
	}
	c := actor.Actor{UserID: u.ID, Login: u.Login, Roles: []actor.Role{actor.Applicant}, PersonID: p.ID}
	a, err := e.Applications.Open(e.Ctx, c, application.Subject{PersonID: p.ID, EmployerID: emp.ID, BirthDate: p.BirthDate, Sex: p.Sex},
		e.RoundID, e.Year)
	if err != nil {
		e.T.Fatal(err)
	}
	return p, c, a
}

// OperatorActor is an employer's operator acting for the employer.
func OperatorActor(emp *employer.Employer, op *account.User) actor.Actor {
	a := op.Actor()
	a.EmployerID = emp.ID
	return a
}

// OperatorCaller is an employer's operator acting for the employer.
func OperatorCaller(emp *employer.Employer, op *account.User) actor.Actor {
	return OperatorActor(emp, op)
}
