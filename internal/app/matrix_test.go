package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/app/apptest"
	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/employer"
	"jifen/internal/fraud"
	"jifen/internal/person"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// world is the fixture of the route matrix: two of everything that has an
// owner — employers A (海淀区) and B (朝阳区), an applicant of each with a
// filed application, an attachment and a discrepancy — and a logged-in
// client for every role, on the listener that role uses.
type world struct {
	a       *apptest.App
	clients map[string]*apptest.Client // by actor name
	vars    map[string]string          // path placeholders: {app} → "12"
}

// Actors of each listener. "anon" has no session; the B side owns nothing
// the paths name, so it is the "other owner" of each role.
var (
	internetActors = []string{"anon", "appA", "appB", "opA", "opB"}
	officeActors   = []string{"anon", "hd", "cy", "city", "sys", "sec", "aud", "liaison", "mail"}
)

func newWorld(t *testing.T) *world {
	t.Helper()
	a := apptest.Start(t)
	ctx := context.Background()
	w := &world{a: a, clients: map[string]*apptest.Client{}, vars: map[string]string{}}
	rd, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	last := strconv.Itoa(rd.Year-1) + "-12"
	decl := rules.CalculatorRequest{ApplicationYear: rd.Year, ResidencePermit: true,
		SocialInsurance: []rules.PeriodInput{{From: "2012-07", To: last}},
		Housing:         []rules.HousingInput{{Kind: "owned", From: "2015-01", To: last, District: "昌平区"}},
		Education:       rules.EducationInput{Level: "bachelor", Diploma: true, Degree: true},
		Workplaces:      []rules.WorkplaceInput{{From: "2012-07", To: last, District: "海淀区"}}}
	now := db.Micros(a.Clock.Now())
	var run int64
	if err := a.DB.QueryRow(ctx, `INSERT INTO check_runs (round_id, scope, mode, rulebook, status, created_at)
		VALUES ($1, 'round', 'apply', $2, 'applied', $3) RETURNING id`, rd.ID, rd.Rulebook, now).Scan(&run); err != nil {
		t.Fatal(err)
	}
	w.vars["{run}"], w.vars["{round}"] = itoa(run), itoa(rd.ID)
	for _, side := range []struct{ name, district string }{{"A", "海淀区"}, {"B", "朝阳区"}} {
		emp, op, err := a.Cases.Employers.Register(ctx, employer.Registration{CreditCode: casetest.CreditCode(),
			Name: "北京矩阵" + side.name + "科技有限公司", District: side.district, Address: "北京市" + side.district + "某路1号",
			LegalRep: "张三", OperatorName: "李四", OperatorLogin: "op" + side.name, Phone: "13800138000",
			Email: "op" + side.name + "@example.cn", Password: apptest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
		if err != nil {
			t.Fatal(err)
		}
		if emp, err = a.Cases.Employers.Decide(ctx, actor.SystemActor("test"), emp.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		p, u, err := a.Cases.Persons.Register(ctx, person.Registration{IDNumber: casetest.IDNumber(true), Name: "钱矩阵",
			Login: "app" + side.name, Phone: "13900139000", Email: "app" + side.name + "@example.cn", Password: apptest.Password,
			PrivacyVersion: account.PrivacyNoticeVersion})
		if err != nil {
			t.Fatal(err)
		}
		l, err := a.Cases.Persons.RequestLink(ctx, p, rd.ID, emp.RegCode)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Cases.Persons.DecideLink(ctx, casetest.OperatorActor(emp, op), l.ID, true, ""); err != nil {
			t.Fatal(err)
		}
		who := actor.Actor{UserID: u.ID, Login: u.Login, Roles: []actor.Role{actor.Applicant}, PersonID: p.ID}
		ap, err := a.Cases.Applications.Open(ctx, who, application.Subject{PersonID: p.ID, EmployerID: emp.ID,
			BirthDate: p.BirthDate, Sex: p.Sex}, rd.ID, rd.Year)
		if err != nil {
			t.Fatal(err)
		}
		d := decl
		d.BirthDate, d.Sex = p.BirthDate, p.Sex
		if _, err := a.Cases.Applications.SaveDraft(ctx, who, ap.ID, d, ap.Version); err != nil {
			t.Fatal(err)
		}
		att, err := a.Cases.Attachments.Add(ctx, who, ap.ID, "housing", "房产证.pdf", strings.NewReader("%PDF-1.7 matrix"))
		if err != nil {
			t.Fatal(err)
		}
		// A's application is with its employer; B's stays a draft, so B's
		// applicant reaches the ownership check of A's attachment rather
		// than stopping at a status check of their own application.
		if side.name == "A" {
			if _, err := a.Cases.Applications.SubmitToEmployer(ctx, who, ap.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		var disc int64
		if err := a.DB.QueryRow(ctx, `INSERT INTO discrepancies (application_id, run_id, item, outcome, declared, verified,
			district, status, deadline, request_note, created_at, updated_at)
			VALUES ($1, $2, 'housing', 'not_found', $3, $3, $4, 'material_requested', $5, '请补充房产证明', $6, $6) RETURNING id`,
			ap.ID, run, d.PartJSON(rules.CodeHousing), side.district, now+int64(30*24*time.Hour/time.Microsecond), now).Scan(&disc); err != nil {
			t.Fatal(err)
		}
		if side.name == "A" {
			w.vars["{review}"] = itoa(reviewCase(t, a, rd.ID, emp.ID, decl))
			// A pending fraud register entry about employer A (海淀区).
			fe, err := a.Cases.Fraud.Propose(ctx, actor.SystemActor("test"), fraud.Proposal{Kind: fraud.Employer,
				CreditCode: emp.CreditCode, What: "矩阵测试的虚假材料", DecidedOn: clock.BeijingDay(a.Clock.Now()).Format(time.DateOnly)})
			if err != nil {
				t.Fatal(err)
			}
			w.vars["{fraud}"] = itoa(fe.ID)
			w.vars["{app}"], w.vars["{att}"], w.vars["{disc}"] = itoa(ap.ID), itoa(att.ID), itoa(disc)
			w.vars["{link}"], w.vars["{emp}"] = itoa(l.ID), itoa(emp.ID)
		}
		for _, login := range []string{"app" + side.name, "op" + side.name} {
			c := a.Client(a.Internet)
			if r := c.LoginAPI(login, apptest.Password); r.Status != 200 {
				t.Fatalf("login %s: %d %s", login, r.Status, r.Body)
			}
			w.clients[login] = c
		}
	}
	w.clients["anon"] = a.Client(a.Internet)
	for _, s := range []struct {
		name, district string
		role           account.Role
	}{{"hd", "海淀区", account.DistrictOfficer}, {"cy", "朝阳区", account.DistrictOfficer}, {"city", "", account.CityOfficer},
		{"sys", "", account.SystemAdmin}, {"sec", "", account.SecurityAdmin}, {"aud", "", account.AuditAdmin},
		{"liaison", "", account.AgencyLiaison}, {"mail", "", account.MailOperator}} {
		a.CreateUserIn(s.district, "staff-"+s.name, s.role)
		c := a.Client(a.Office)
		a.LoginStaff(c, "staff-"+s.name, apptest.Password)
		w.clients[s.name] = c
	}
	w.clients["anon@office"] = a.Client(a.Office)
	// The 复查 case is held by the 海淀区 officer: deciding it needs the
	// case (internal/casework), so the other officers are refused.
	if _, err := a.DB.Exec(ctx, `INSERT INTO case_assignments (application_id, officer_id, assigned_at)
		SELECT $1, id, 0 FROM users WHERE login = 'staff-hd'`, w.vars["{review}"]); err != nil {
		t.Fatal(err)
	}
	victim := a.CreateUserIn("海淀区", "victim", account.DistrictOfficer)
	w.vars["{user}"] = itoa(victim.ID)
	adminVictim := a.CreateUser("victim-admin", account.AuditAdmin)
	w.vars["{admin}"] = itoa(adminVictim.ID)
	var mailID int64
	if err := a.DB.QueryRow(ctx, `SELECT min(id) FROM mail_outbox`).Scan(&mailID); err != nil {
		t.Fatal(err)
	}
	w.vars["{mail}"], w.vars["{agency}"] = itoa(mailID), agency.Codes()[0]
	faultID, err := a.Monitor.OpenFault(ctx, actor.Actor{UserID: 1, Login: "matrix", Roles: []actor.Role{actor.SystemAdmin}}, "矩阵测试故障", "warning", "")
	if err != nil {
		t.Fatal(err)
	}
	w.vars["{fault}"] = itoa(faultID)
	ops := actor.Actor{UserID: 1, Login: "matrix", Roles: []actor.Role{actor.SystemAdmin}}
	if err := a.Monitor.Attach(ctx, ops, faultID, "matrix.txt", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	files, err := a.Monitor.Attachments(ctx, ops, faultID)
	if err != nil || len(files) != 1 {
		t.Fatal(files, err)
	}
	w.vars["{faultfile}"] = itoa(files[0].ID)
	return w
}

// reviewCase makes a second applicant of employer emp (海淀区) whose 复查
// request the district office has received, for the routes of
// internal/review.
func reviewCase(t *testing.T, a *apptest.App, roundID, empID int64, decl rules.CalculatorRequest) int64 {
	t.Helper()
	ctx := context.Background()
	p, _, err := a.Cases.Persons.Register(ctx, person.Registration{IDNumber: casetest.IDNumber(false), Name: "孙复查",
		Login: "appR", Phone: "13900139001", Email: "appR@example.cn", Password: apptest.Password,
		PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		t.Fatal(err)
	}
	d := decl
	d.BirthDate, d.Sex = p.BirthDate, p.Sex
	dj, _ := json.Marshal(d)
	now := db.Micros(a.Clock.Now())
	var id int64
	if err := a.DB.QueryRow(ctx, `INSERT INTO applications (round_id, person_id, employer_id, status, declaration, created_at, updated_at,
		district) VALUES ($1, $2, $3, 'review_requested', $4, $5, $5, '海淀区') RETURNING id`, roundID, p.ID, empID, string(dj), now).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.Exec(ctx, `INSERT INTO review_requests (application_id, indicators, reason, employer_note, status, created_at,
		forwarded_at, received_at) VALUES ($1, 'housing', '住房为自有产权', '已提交房产证', 'received', $2, $2, $2)`, id, now); err != nil {
		t.Fatal(err)
	}
	return id
}

// client returns the client of an actor on a listener.
func (w *world) client(listener, who string) *apptest.Client {
	if who == "anon" && listener == "office" {
		who = "anon@office"
	}
	return w.clients[who]
}

var placeholder = regexp.MustCompile(`\{[a-z$]+\}`)

// path fills the placeholders of a route's sample path.
func (w *world) path(p string) string {
	return placeholder.ReplaceAllStringFunc(p, func(s string) string {
		if v, ok := w.vars[s]; ok {
			return v
		}
		return s
	})
}

// send makes the request of a route with an empty body of the kind it reads.
func send(c *apptest.Client, method, path string, body string) *apptest.Response {
	hdr := map[string]string{"Origin": c.Base, "Sec-Fetch-Site": "same-origin"}
	if method != "GET" && method != "HEAD" {
		if strings.HasPrefix(path, "/api/") {
			hdr["Content-Type"] = "application/json"
			if body == "" {
				body = "{}"
			}
		} else {
			hdr["Content-Type"] = "application/x-www-form-urlencoded"
		}
	}
	return c.Do(method, path, strings.NewReader(body), hdr)
}

// splitPattern returns the method and path of a route pattern; a pattern
// without a method is tried with GET.
func splitPattern(p string) (method, path string) {
	if m, rest, ok := strings.Cut(p, " "); ok {
		return m, rest
	}
	return "GET", p
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ = http.StatusOK
