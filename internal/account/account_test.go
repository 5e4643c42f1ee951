package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/password"
	"jifen/internal/platform/totp"
	"jifen/internal/settings"
)

type env struct {
	svc   *account.Service
	clock *clock.Fake
	audit *audit.Log
	db    *db.DB
	ctx   context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := dbtest.Open(t)
	c := clock.NewFake(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
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
	return &env{svc: account.NewService(d, a, c, h, keys, st), clock: c, audit: a, db: d, ctx: context.Background()}
}

const goodPW = "Qz7#mVt2pLw9"

func (e *env) user(t *testing.T, login string, zone account.Zone, roles ...account.Role) *account.User {
	t.Helper()
	u, err := e.svc.CreateUser(e.ctx, account.NewUser{Login: login, DisplayName: "测试" + login, Zone: zone, Password: goodPW, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) countAudit(t *testing.T, action, outcome string) int {
	t.Helper()
	rows, err := e.audit.Search(e.ctx, audit.Filter{Action: action, Outcome: outcome, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

func TestLoginApplicantFullSession(t *testing.T) {
	e := newEnv(t)
	e.user(t, "applicant1", account.Internet, account.Applicant)
	res, err := e.svc.Login(e.ctx, account.Internet, "Applicant1", goodPW, "1.2.3.4", "ua")
	if err != nil {
		t.Fatal(err)
	}
	if res.Next != account.StageFull || res.Token == "" {
		t.Fatalf("next %q", res.Next)
	}
	se, u, err := e.svc.Authenticate(e.ctx, account.Internet, res.Token)
	if err != nil || u.Login != "applicant1" || se.Stage != account.StageFull {
		t.Fatalf("authenticate: %v %v", u, err)
	}
	// The office listener does not accept an internet session.
	if _, _, err := e.svc.Authenticate(e.ctx, account.Office, res.Token); err == nil {
		t.Fatal("internet session accepted by the office zone")
	}
	if e.countAudit(t, "account.login", audit.Success) != 1 {
		t.Fatal("successful login not audited")
	}
}

func TestWrongPasswordAndUnknownLoginAnswerAlike(t *testing.T) {
	e := newEnv(t)
	e.user(t, "applicant1", account.Internet, account.Applicant)
	e.user(t, "officer1", account.Office, account.DistrictOfficer)
	cases := []struct {
		zone      account.Zone
		login, pw string
	}{
		{account.Internet, "applicant1", "Wrong#Pass1"},
		{account.Internet, "nobody", goodPW},
		{account.Internet, "officer1", goodPW}, // staff on the internet listener
	}
	for _, c := range cases {
		_, err := e.svc.Login(e.ctx, c.zone, c.login, c.pw, "", "")
		if !errors.Is(err, account.ErrBadCredentials) {
			t.Errorf("%s: err = %v, want the one bad-credentials answer", c.login, err)
		}
	}
	if n := e.countAudit(t, "account.login", audit.Failure); n != 3 {
		t.Fatalf("%d failures audited, want 3", n)
	}
}

func TestLockoutAfterFiveFailuresSurvivesRestartAndExpires(t *testing.T) {
	for _, login := range []string{"applicant1", "ghost"} { // known and unknown names lock alike
		t.Run(login, func(t *testing.T) {
			e := newEnv(t)
			e.user(t, "applicant1", account.Internet, account.Applicant)
			for i := 1; i <= 5; i++ {
				_, err := e.svc.Login(e.ctx, account.Internet, login, "Wrong#Pass1", "", "")
				want := account.ErrBadCredentials
				if i == 5 {
					want = account.ErrLocked
				}
				if !errors.Is(err, want) {
					t.Fatalf("attempt %d: %v, want %v", i, err, want)
				}
			}
			// The lock is in the database: a second service on the same
			// database (another process, or this one restarted) sees it.
			keys, _ := crypto.NewKeyring(make([]byte, 32))
			h, _ := password.NewHasher(keys.Pepper(), 1)
			other := account.NewService(e.db, e.audit, e.clock, h, keys, settings.New(e.db, e.audit, e.clock, 0))
			if _, err := other.Login(e.ctx, account.Internet, login, goodPW, "", ""); !errors.Is(err, account.ErrLocked) {
				t.Fatalf("correct password during lock: %v", err)
			}
			if e.countAudit(t, "account.lockout", "") != 1 {
				t.Fatal("lockout not audited")
			}
			e.clock.Advance(15*time.Minute + time.Second)
			_, err := e.svc.Login(e.ctx, account.Internet, login, goodPW, "", "")
			if login == "applicant1" && err != nil {
				t.Fatalf("after the lock expired: %v", err)
			}
			if login == "ghost" && !errors.Is(err, account.ErrBadCredentials) {
				t.Fatalf("unknown login after the lock expired: %v", err)
			}
		})
	}
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	e := newEnv(t)
	e.user(t, "applicant1", account.Internet, account.Applicant)
	res, err := e.svc.Login(e.ctx, account.Internet, "applicant1", goodPW, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// Keep it busy every 20 minutes: idle timeout (30) never triggers,
	// but the 12-hour absolute limit does.
	for elapsed := 20 * time.Minute; elapsed < 12*time.Hour; elapsed += 20 * time.Minute {
		e.clock.Advance(20 * time.Minute)
		if _, _, err := e.svc.Authenticate(e.ctx, account.Internet, res.Token); err != nil {
			t.Fatalf("after %s: %v", elapsed, err)
		}
	}
	e.clock.Advance(20 * time.Minute)
	if _, _, err := e.svc.Authenticate(e.ctx, account.Internet, res.Token); !errors.Is(err, account.ErrNoSession) {
		t.Fatalf("past 12 h: %v", err)
	}
	res, _ = e.svc.Login(e.ctx, account.Internet, "applicant1", goodPW, "", "")
	e.clock.Advance(31 * time.Minute)
	if _, _, err := e.svc.Authenticate(e.ctx, account.Internet, res.Token); !errors.Is(err, account.ErrNoSession) {
		t.Fatalf("idle 31 min: %v", err)
	}
}

func TestStaffMustChangePasswordThenEnrolTOTP(t *testing.T) {
	e := newEnv(t)
	admin := e.user(t, "sysadmin", account.Office, account.SystemAdmin)
	staff, initial, err := e.svc.CreateStaff(e.ctx, admin.Actor(), "officer7", "王五", "w@example.cn", "13800138000", "海淀区")
	if err != nil {
		t.Fatal(err)
	}
	if len(staff.Roles) != 0 {
		t.Fatal("a system admin's new account must have no role")
	}
	res, err := e.svc.Login(e.ctx, account.Office, "officer7", initial, "", "")
	if err != nil || res.Next != account.StageChangePassword {
		t.Fatalf("first login: next %v err %v", res, err)
	}
	if _, _, err := e.svc.ChangePassword(e.ctx, res.Session, res.User, initial, "short"); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("weak new password: %v", err)
	}
	token, next, err := e.svc.ChangePassword(e.ctx, res.Session, res.User, initial, goodPW)
	if err != nil || next != account.StageTOTP || token == res.Token {
		t.Fatalf("change: next %v, renewed %v, err %v", next, token != res.Token, err)
	}
	if _, _, err := e.svc.Authenticate(e.ctx, account.Office, res.Token); err == nil {
		t.Fatal("the pre-change token still works")
	}
	se, u, err := e.svc.Authenticate(e.ctx, account.Office, token)
	if err != nil || se.Stage != account.StageTOTP {
		t.Fatalf("stage %v err %v", se, err)
	}
	enr, err := e.svc.BeginTOTP(e.ctx, u)
	if err != nil || len(enr.QRPNG) == 0 {
		t.Fatal(err)
	}
	if _, _, err := e.svc.VerifyTOTP(e.ctx, se, u, "000000"); err == nil {
		t.Fatal("wrong code accepted")
	}
	code, _ := totp.Code(enr.Secret, e.clock.Now())
	full, next, err := e.svc.VerifyTOTP(e.ctx, se, u, code)
	if err != nil || next != account.StageFull {
		t.Fatalf("totp: %v %v", next, err)
	}
	se, u, _ = e.svc.Authenticate(e.ctx, account.Office, full)
	if se.Stage != account.StageFull || !u.TOTPEnabled {
		t.Fatal("not full after TOTP")
	}
	// Next login: password, then TOTP; the same code (same time step) is refused.
	res, err = e.svc.Login(e.ctx, account.Office, "officer7", goodPW, "", "")
	if err != nil || res.Next != account.StageTOTP {
		t.Fatalf("second login: %v %v", res, err)
	}
	if _, _, err := e.svc.VerifyTOTP(e.ctx, res.Session, res.User, code); err == nil {
		t.Fatal("replayed TOTP code accepted")
	}
	e.clock.Advance(30 * time.Second)
	code2, _ := totp.Code(enr.Secret, e.clock.Now())
	if _, _, err := e.svc.VerifyTOTP(e.ctx, res.Session, res.User, code2); err != nil {
		t.Fatalf("fresh code: %v", err)
	}
	// 90 days later the password must be changed again.
	e.clock.Advance(91 * 24 * time.Hour)
	res, err = e.svc.Login(e.ctx, account.Office, "officer7", goodPW, "", "")
	if err != nil || res.Next != account.StageChangePassword {
		t.Fatalf("after 91 days: %v %v", res, err)
	}
}

func TestThreeAdminsAreSeparate(t *testing.T) {
	e := newEnv(t)
	sys := e.user(t, "sys", account.Office, account.SystemAdmin)
	sec := e.user(t, "sec", account.Office, account.SecurityAdmin)
	aud := e.user(t, "aud", account.Office, account.AuditAdmin)
	staff, _, err := e.svc.CreateStaff(e.ctx, sys.Actor(), "clerk", "李四", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	// The matrix of what each may do.
	matrix := []struct {
		who  *account.User
		perm account.Permission
		want bool
	}{
		{sys, account.PermUsersManage, true}, {sys, account.PermConfigManage, true},
		{sys, account.PermRolesManage, false}, {sys, account.PermAuditRead, false}, {sys, account.PermSecurityManage, false},
		{sec, account.PermRolesManage, true}, {sec, account.PermSecurityManage, true},
		{sec, account.PermUsersManage, false}, {sec, account.PermAuditRead, false}, {sec, account.PermConfigManage, false},
		{aud, account.PermAuditRead, true}, {aud, account.PermAuditExport, true},
		{aud, account.PermUsersManage, false}, {aud, account.PermRolesManage, false}, {aud, account.PermConfigManage, false},
		{aud, account.PermSecurityManage, false},
		// Mass mail is the mail operators' (邮件群发操作员), none of the three's.
		{sys, account.PermMailSend, false}, {sec, account.PermMailSend, false}, {aud, account.PermMailSend, false},
	}
	for _, m := range matrix {
		if got := m.who.Can(m.perm); got != m.want {
			t.Errorf("%s can %s = %v, want %v", m.who.Login, m.perm, got, m.want)
		}
	}
	if _, err := e.svc.SubmitRoleRequest(e.ctx, sys.Actor(), account.RoleRequestInput{UserID: staff.ID, Kind: account.KindGrant, Role: account.DistrictOfficer, Reason: "新入职", FormNo: "QX-2026-001"}); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("system admin granted a role: %v", err)
	}
	if _, _, err := e.svc.CreateStaff(e.ctx, sec.Actor(), "x1x", "某", "", "", ""); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("security admin created an account: %v", err)
	}
	if _, _, err := e.svc.CreateStaff(e.ctx, aud.Actor(), "x2x", "某", "", "", ""); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("audit admin created an account: %v", err)
	}
	// One security admin: the grant applies at once and the waiver is recorded.
	req, err := e.svc.SubmitRoleRequest(e.ctx, sec.Actor(), account.RoleRequestInput{UserID: staff.ID, Kind: account.KindGrant, Role: account.DistrictOfficer, Reason: "新入职", FormNo: "QX-2026-001"})
	if err != nil || req.Status != "applied_single" {
		t.Fatalf("single-admin grant: %+v %v", req, err)
	}
	if u, _ := e.svc.UserByID(e.ctx, staff.ID); !u.HasRole(account.DistrictOfficer) {
		t.Fatal("role not granted")
	}
	// No admin role may be combined with another.
	if _, err := e.svc.SubmitRoleRequest(e.ctx, sec.Actor(), account.RoleRequestInput{UserID: staff.ID, Kind: account.KindGrant, Role: account.AuditAdmin, Reason: "兼任", FormNo: "QX-2026-001"}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("admin role combined: %v", err)
	}
}

func TestLogoutEverywhereAndDisable(t *testing.T) {
	e := newEnv(t)
	sys := e.user(t, "sys", account.Office, account.SystemAdmin)
	u := e.user(t, "applicant1", account.Internet, account.Applicant)
	r1, _ := e.svc.Login(e.ctx, account.Internet, "applicant1", goodPW, "", "")
	r2, _ := e.svc.Login(e.ctx, account.Internet, "applicant1", goodPW, "", "")
	if n, err := e.svc.LogoutEverywhere(e.ctx, u); err != nil || n != 2 {
		t.Fatalf("logged out %d, %v", n, err)
	}
	for _, tok := range []string{r1.Token, r2.Token} {
		if _, _, err := e.svc.Authenticate(e.ctx, account.Internet, tok); err == nil {
			t.Fatal("session survived log out everywhere")
		}
	}
	r3, _ := e.svc.Login(e.ctx, account.Internet, "applicant1", goodPW, "", "")
	if err := e.svc.SetDisabled(e.ctx, sys.Actor(), u.ID, true, "离职"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Authenticate(e.ctx, account.Internet, r3.Token); err == nil {
		t.Fatal("session of a disabled account survived")
	}
	if _, err := e.svc.Login(e.ctx, account.Internet, "applicant1", goodPW, "", ""); !errors.Is(err, account.ErrBadCredentials) {
		t.Fatalf("disabled login: %v", err)
	}
}

func TestCreateUserValidation(t *testing.T) {
	e := newEnv(t)
	cases := []account.NewUser{
		{Login: "ab", DisplayName: "x", Zone: account.Internet, Password: goodPW},
		{Login: "good1", DisplayName: "", Zone: account.Internet, Password: goodPW},
		{Login: "good2", DisplayName: "x", Zone: account.Internet, Password: "password"},
		{Login: "good3", DisplayName: "x", Zone: account.Internet, Password: goodPW, Phone: "12345"},
		{Login: "good4", DisplayName: "x", Zone: account.Internet, Password: goodPW, Roles: []account.Role{account.SystemAdmin}},
		{Login: "good5", DisplayName: "x", Zone: account.Office, Password: goodPW, Roles: []account.Role{account.SystemAdmin, account.AuditAdmin}},
	}
	for i, c := range cases {
		_, err := e.svc.CreateUser(e.ctx, c)
		ae := apperr.As(err)
		if ae.Code != apperr.Invalid || len(ae.Fields) == 0 || ae.Fields[0].Field == "" {
			t.Errorf("case %d: %v", i, err)
		}
	}
	e.user(t, "dup", account.Internet)
	if _, err := e.svc.CreateUser(e.ctx, account.NewUser{Login: "DUP", DisplayName: "x", Zone: account.Internet, Password: goodPW}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("duplicate login: %v", err)
	}
}

// Staff and public login names are separate namespaces, each listener sees
// its own, and failures on one never lock the other.
func TestLoginNamesArePerZone(t *testing.T) {
	e := newEnv(t)
	staff := e.user(t, "bob", account.Office, account.DistrictOfficer)
	public := e.user(t, "bob", account.Internet, account.Applicant)
	if staff.ID == public.ID {
		t.Fatal("one account for two zones")
	}
	if _, err := e.svc.CreateUser(e.ctx, account.NewUser{Login: "BOB", DisplayName: "x", Zone: account.Office, Password: goodPW}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("second staff bob: %v", err)
	}
	if u, err := e.svc.UserByLogin(e.ctx, "bob"); err != nil || u.ID != staff.ID {
		t.Fatalf("console lookup: %v", err)
	}
	for range 5 {
		_, _ = e.svc.Login(e.ctx, account.Internet, "bob", "Wrong#Pass9", "", "")
	}
	if _, err := e.svc.Login(e.ctx, account.Internet, "bob", goodPW, "", ""); !apperr.Is(err, apperr.Locked) {
		t.Fatalf("internet bob after five failures: %v", err)
	}
	res, err := e.svc.Login(e.ctx, account.Office, "bob", goodPW, "", "")
	if err != nil || res.User.ID != staff.ID {
		t.Fatalf("office bob: %v", err)
	}
	if err := e.svc.UnlockIn(e.ctx, account.Internet, "bob"); err != nil {
		t.Fatal(err)
	}
	if res, err := e.svc.Login(e.ctx, account.Internet, "bob", goodPW, "", ""); err != nil || res.User.ID != public.ID {
		t.Fatalf("internet bob after unlock: %v", err)
	}
}

// An approval needs an administrator of another role than the requester's,
// who is neither the requester nor the account concerned.
func TestAdminRequestDeciders(t *testing.T) {
	e := newEnv(t)
	sys := e.user(t, "sys", account.Office, account.SystemAdmin)
	sys2 := e.user(t, "sys2", account.Office, account.SystemAdmin)
	sec := e.user(t, "sec", account.Office, account.SecurityAdmin)
	aud := e.user(t, "aud", account.Office, account.AuditAdmin)
	clerk := e.user(t, "clerk", account.Office, account.CityOfficer)
	if err := e.svc.SetDisabled(e.ctx, sys.Actor(), sec.ID, true, "x"); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("direct disable of an admin: %v", err)
	}
	if _, err := e.svc.RequestAdminAction(e.ctx, sys.Actor(), clerk.ID, account.AdminDisable, "x"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("request on a non-admin: %v", err)
	}
	req, err := e.svc.RequestAdminAction(e.ctx, sys.Actor(), sys2.ID, account.AdminDisable, "离职")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RequestAdminAction(e.ctx, sys.Actor(), sys2.ID, account.AdminDisable, "again"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second pending request: %v", err)
	}
	for _, by := range []*account.User{sys, sys2, clerk} {
		if err := e.svc.DecideAdminRequest(e.ctx, by.Actor(), req.ID, true, ""); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("%s approved: %v", by.Login, err)
		}
	}
	if err := e.svc.DecideAdminRequest(e.ctx, sec.Actor(), req.ID, false, "理由不足"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DecideAdminRequest(e.ctx, aud.Actor(), req.ID, true, ""); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("decided twice: %v", err)
	}
	if u, _ := e.svc.UserByID(e.ctx, sys2.ID); u.Disabled {
		t.Fatal("a rejected request was applied")
	}
	// A reset needs a mailbox: without the outbox it is refused up front.
	if _, err := e.svc.RequestAdminAction(e.ctx, sys.Actor(), aud.ID, account.AdminReset, "忘记密码"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("reset request without a mailbox: %v", err)
	}
}
