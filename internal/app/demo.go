package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/agencyops"
	"jifen/internal/agencysim"
	"jifen/internal/application"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/ident"
	"jifen/internal/round"
	"jifen/internal/rules"
	"jifen/internal/synth"
)

// DemoAccount is one demo login.
type DemoAccount struct {
	Login, Password string
	Role            account.Role
	Zone            account.Zone
}

var demoAccounts = []struct {
	login string
	role  account.Role
	name  string
}{
	{"demo-employer", account.EmployerOperator, "演示单位经办人"}, // before the applicant, who links to it
	{"demo-applicant", account.Applicant, "演示申请人"},
	{"demo-district", account.DistrictOfficer, "演示区级经办人员"},
	{"demo-city", account.CityOfficer, "演示市级经办人员"},
	{"demo-agency", account.AgencyLiaison, "演示委办局联络员"},
	{"demo-sysadmin", account.SystemAdmin, "演示系统管理员"},
	{"demo-secadmin", account.SecurityAdmin, "演示安全管理员"},
	{"demo-auditor", account.AuditAdmin, "演示审计管理员"},
}

// SeedDemo prepares the demo: a round whose registration, filling-in and
// employer submission are open now; a small synthetic population (about
// 2,000 applicants) the first time; one demo account per role, each with a
// fresh random password returned so the caller prints them once. The demo
// employer is verified; the demo applicant is linked to it with an
// application the employer has filed, and the agencies hold the
// applicant's records (DemoApplicantRecord), so the round's cross-check
// gives a real score and one discrepancy for demo-district. The synthetic
// population declares truthfully: that discrepancy is the only one. Demo
// accounts skip the second factor and pages say "演示账号".
func (a *App) SeedDemo(ctx context.Context) ([]DemoAccount, error) {
	return a.SeedDemoSized(ctx, DemoPeople, DemoEmployers)
}

// SeedDemoSized is SeedDemo with a population of the given size (tests use
// a small one).
func (a *App) SeedDemoSized(ctx context.Context, people, employers int) ([]DemoAccount, error) {
	r, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		return nil, fmt.Errorf("demo round: %w", err)
	}
	var have int
	if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM employers`).Scan(&have); err != nil {
		return nil, err
	}
	if have == 0 {
		res, err := a.Synth(ctx, r, people, employers, 2026, 0, nil)
		if err != nil {
			return nil, fmt.Errorf("demo population: %w", err)
		}
		a.Log.Info("demo population", "employers", res.Employers, "applicants", res.People, "applications", res.Applications,
			"elapsed", res.Elapsed.Truncate(time.Millisecond))
	}
	var out []DemoAccount
	for _, d := range demoAccounts {
		ri, _ := account.Info(d.role)
		pw, err := account.GeneratePassword(d.login)
		if err != nil {
			return nil, err
		}
		u, err := a.Accounts.UserByLogin(ctx, d.login)
		switch {
		case apperr.Is(err, apperr.NotFound):
			if err := a.createDemoAccount(ctx, d.login, d.name, d.role, pw, r); err != nil {
				return nil, fmt.Errorf("demo account %s: %w", d.login, err)
			}
		case err != nil:
			return nil, err
		case !u.Demo:
			return nil, fmt.Errorf("account %s exists and is not a demo account; refusing to touch it", d.login)
		default:
			hash, err := a.Accounts.Hasher().Hash(ctx, pw)
			if err != nil {
				return nil, err
			}
			if err := a.Accounts.SetPasswordHash(ctx, u, hash, false, "account.demo_password"); err != nil {
				return nil, err
			}
		}
		out = append(out, DemoAccount{Login: d.login, Password: pw, Role: d.role, Zone: ri.Zone})
	}
	return out, nil
}

// Sizes of the demo population.
const (
	DemoPeople    = 2000
	DemoEmployers = 500
)

func (a *App) createDemoAccount(ctx context.Context, login, name string, role account.Role, pw string, r *round.Round) error {
	ri, _ := account.Info(role)
	var err error
	switch role {
	case account.EmployerOperator:
		err = a.demoEmployer(ctx, login, name, pw)
	case account.Applicant:
		err = a.demoApplicant(ctx, login, pw, r)
	default:
		var hash string
		if hash, err = a.Accounts.Hasher().Hash(ctx, pw); err == nil {
			district := ""
			if role == account.DistrictOfficer {
				district = "海淀区" // where the demo employer is
			}
			_, err = a.Accounts.CreateUserWithHash(ctx, account.NewUser{Login: login, DisplayName: name, Zone: ri.Zone,
				Roles: []account.Role{role}, Demo: true, District: district}, hash)
		}
	}
	if err != nil {
		return err
	}
	// Registration made an ordinary account; mark it as a demo one.
	return a.Accounts.MarkDemo(ctx, login)
}

// demoCreditCode is the demo employer's (valid) unified social credit code.
const demoCreditCode = "91110108MA01JF260"

func (a *App) demoEmployer(ctx context.Context, login, name, pw string) error {
	c, err := ident.CreditCodeCheckChar(demoCreditCode)
	if err != nil {
		return err
	}
	e, _, err := a.Cases.Employers.Register(ctx, employer.Registration{CreditCode: demoCreditCode + string(c),
		Name: "北京演示科技有限公司", District: "海淀区", Address: "北京市海淀区中关村大街27号", LegalRep: "演示法人",
		OperatorName: name, OperatorLogin: login, Phone: "13800138000", Email: login + "@demo.jifen.test", Password: pw, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		return err
	}
	_, err = a.Cases.Employers.Decide(ctx, actor.SystemActor("demo"), e.ID, true, "演示单位")
	return err
}

func (a *App) demoApplicant(ctx context.Context, login, pw string, r *round.Round) error {
	first := "11010819880808123"
	c, err := ident.IDCheckChar(first)
	if err != nil {
		return err
	}
	idNumber := first + string(c)
	p, u, err := a.Cases.Persons.Register(ctx, person.Registration{IDNumber: idNumber, Name: "演示申请人", Login: login,
		Phone: "13900139000", Email: login + "@demo.jifen.test", Password: pw, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		return err
	}
	emp, err := a.Cases.Employers.ForOperator(ctx, a.demoOperatorID(ctx))
	if err != nil {
		return fmt.Errorf("the demo employer must exist before the demo applicant: %w", err)
	}
	l, err := a.Cases.Persons.RequestLink(ctx, p, r.ID, emp.RegCode)
	if err != nil {
		return err
	}
	op, err := a.Accounts.UserByLogin(ctx, "demo-employer")
	if err != nil {
		return err
	}
	opActor := op.Actor()
	opActor.EmployerID = emp.ID
	if err := a.Cases.Persons.DecideLink(ctx, opActor, l.ID, true, ""); err != nil {
		return err
	}
	me := actor.Actor{UserID: u.ID, Login: u.Login, Roles: []actor.Role{actor.Applicant}, PersonID: p.ID}
	ap, err := a.Cases.Applications.Open(ctx, me,
		application.Subject{PersonID: p.ID, EmployerID: emp.ID, BirthDate: p.BirthDate, Sex: p.Sex}, r.ID, r.Year)
	if err != nil {
		return err
	}
	// The agencies hold the true record; the application declares it with
	// one deliberate difference, and the employer has filed it, so the
	// round's cross-check finds a real score and one discrepancy.
	truth, decl := DemoApplicantRecord(r.Year)
	if err := synth.WriteRecords(ctx, a.DB, idNumber, p.Name, truth, emp.CreditCode, a.Clock.Now()); err != nil {
		return err
	}
	if ap, err = a.Cases.Applications.SaveDraft(ctx, me, ap.ID, decl, ap.Version); err != nil {
		return err
	}
	if _, err = a.Cases.Applications.SubmitToEmployer(ctx, me, ap.ID, true); err != nil {
		return err
	}
	// The identity check (公安) asks about applications with the employer,
	// as the worker would while the application waits there.
	if err := a.StartAgencySim(ctx); err != nil {
		return err
	}
	for {
		n, err := a.Check.SweepSingles(ctx, 500)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	_, err = a.Cases.Applications.File(ctx, opActor, ap.ID)
	return err
}

// DemoApplicantRecord is demo-applicant's life as the agencies record it
// (truth) and as the application declares it (decl), for the round of year:
// born 1988-08-08, insured by the demo employer in 海淀区 since 2012-07, a
// registered rental and then a home of their own in 海淀区, a bachelor's
// degree, income tax paid. The declaration differs in one place, the
// deliberate discrepancy: it dates the rental from 2012-01, six months
// before the housing authority's registration.
func DemoApplicantRecord(year int) (truth, decl rules.CalculatorRequest) {
	last := fmt.Sprintf("%04d-12", year-1) // the statistics month
	truth = rules.CalculatorRequest{ApplicationYear: year, BirthDate: "1988-08-08", Sex: "M", ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: last}},
		Housing: []rules.HousingInput{
			{Kind: "rented", From: "2012-07", To: "2017-12", District: "海淀区", Registered: true},
			{Kind: "owned", From: "2018-01", To: last, District: "海淀区"}},
		Education:  rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true},
		Workplaces: []rules.WorkplaceInput{{From: "2012-07", To: last, District: "海淀区"}},
		IncomeTax: map[string]rules.Decimal{fmt.Sprint(year - 3): "96000", fmt.Sprint(year - 2): "104000",
			fmt.Sprint(year - 1): "112000"},
	}
	decl = truth
	decl.Housing = []rules.HousingInput{
		{Kind: "rented", From: "2012-01", To: "2017-12", District: "海淀区", Registered: true},
		{Kind: "owned", From: "2018-01", To: last, District: "海淀区"}}
	return truth, decl
}

func (a *App) demoOperatorID(ctx context.Context) int64 {
	u, err := a.Accounts.UserByLogin(ctx, "demo-employer")
	if err != nil {
		return 0
	}
	return u.ID
}

// PrintDemo writes the demo logins for the newcomer.
func (a *App) PrintDemo(w io.Writer, accts []DemoAccount) {
	internet, office := "http://"+hostPort(a.Addr("internet")), "http://"+hostPort(a.Addr("office"))+"/office/"
	fmt.Fprintf(w, "\n==== jifen 演示模式 / demo mode ====\n")
	fmt.Fprintf(w, "互联网门户 (portal):  %s\n经办系统 (office):    %s\n\n", internet, office)
	fmt.Fprintf(w, "演示账号（密码仅在本次启动时显示；演示账号无需动态口令）\nDemo logins (passwords change at every --demo start):\n")
	for _, d := range accts {
		where := internet + "/login"
		if d.Zone == account.Office {
			where = office + "login"
		}
		fmt.Fprintf(w, "  %-15s %-16s %-10s %s\n", d.Login, d.Password, account.RoleName(d.Role), where)
	}
	if samples := a.synthSamples(); len(samples) > 0 {
		fmt.Fprintf(w, "\n合成数据账号（密码均为 %s）/ synthetic logins (password %s):\n", synth.Password, synth.Password)
		for _, s := range samples {
			fmt.Fprintf(w, "  %-15s %s\n", s[0], s[1])
		}
	}
	fmt.Fprintln(w)
}

// synthSamples picks a few synthetic accounts to show: applicants whose
// applications are in different states, and employer operators.
func (a *App) synthSamples() [][2]string {
	ctx := context.Background()
	var out [][2]string
	rows, err := a.DB.Query(ctx, `SELECT min(u.login), ap.status FROM applications ap JOIN persons p ON p.id = ap.person_id
		JOIN users u ON u.id = p.user_id WHERE u.email LIKE '%@synth.jifen.test' AND ap.status IN ('draft', 'with_employer', 'first_result', 'review_requested')
		GROUP BY ap.status ORDER BY ap.status`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	for rows.Next() {
		var login, st string
		if rows.Scan(&login, &st) == nil {
			out = append(out, [2]string{login, "申请人，申请状态：" + application.StatusName(application.Status(st))})
		}
	}
	var op string
	if err := a.DB.QueryRow(ctx, `SELECT min(u.login) FROM users u JOIN employer_operators o ON o.user_id = u.id
		JOIN employers e ON e.id = o.employer_id WHERE e.status = 'verified' AND u.email LIKE '%@synth.jifen.test'`).Scan(&op); err == nil && op != "" {
		out = append(out, [2]string{op, "用人单位经办人（已核验单位）"})
	}
	return out
}

func hostPort(addr string) string {
	if len(addr) > 0 && addr[0] == ':' {
		return "localhost" + addr
	}
	if len(addr) > 5 && addr[:5] == "[::]:" {
		return "localhost:" + addr[5:]
	}
	if len(addr) > 8 && addr[:8] == "0.0.0.0:" {
		return "localhost:" + addr[8:]
	}
	return addr
}

// StartAgencySim plays the partner agencies in-process for the demo: the
// simulator listens on a loopback port and every connector points at it
// with a fresh key, so the cross-check works out of the box.
func (a *App) StartAgencySim(ctx context.Context) error {
	if a.sim != nil {
		return nil // already playing them (the demo seed starts it early)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	kb := make([]byte, 24)
	_, _ = rand.Read(kb)
	key := hex.EncodeToString(kb)
	sim := agencysim.New(a.DB, []byte(key), "", a.Log)
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	a.sim = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("agencysim stopped", "err", err)
		}
	}()
	url := "http://" + ln.Addr().String()
	if err := agencyops.NewStore(a.DB).PointAll(ctx, a.Keys, url, key, 0, 0, a.Clock.Now()); err != nil {
		return err
	}
	a.Connectors.Forget()
	a.Log.Info("agencysim playing the partner agencies (demo)", "addr", url)
	return nil
}
