package mailing_test

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/casetest"
	"jifen/internal/employer"
	"jifen/internal/mailing"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

var clerk = actor.Actor{UserID: 900, Login: "mailer", Roles: []actor.Role{actor.MailOperator}}

func setup(t testing.TB) (*casetest.Env, *mailing.Lists) {
	t.Helper()
	env := casetest.New(t)
	return env, mailing.NewLists(env.DB, env.Audit, env.Clock)
}

func gbk(t testing.TB, s string) string {
	t.Helper()
	out, err := simplifiedchinese.GBK.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func emails(rs []mailing.Recipient) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Email)
	}
	return strings.Join(out, " ")
}

func TestImportCSV(t *testing.T) {
	env, l := setup(t)
	long := "long@example.cn," + strings.Repeat("长", 3000) + "\n"
	var ascii strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&ascii, "ascii%04d@example.cn,Zhang San\n", i)
	}
	asciiLines := ascii.String()
	cases := []struct {
		name      string
		file      string
		encoding  string
		accepted  int
		dups      int
		rejected  []int // line numbers
		members   string
		vars      map[string]map[string]string // email → vars
		wantField string                       // the whole file refused: the field named
	}{
		{name: "utf8", file: "email,name,employer\nA@Example.cn,张三,北京甲公司\nb@example.cn,李四,\n", encoding: "UTF-8", accepted: 2,
			members: "a@example.cn b@example.cn", vars: map[string]map[string]string{"a@example.cn": {"name": "张三", "employer": "北京甲公司"}}},
		{name: "utf8 bom, Chinese headers, CRLF", file: "\ufeff邮箱,姓名\r\nc@example.cn,王五\r\n", encoding: "UTF-8", accepted: 1,
			members: "c@example.cn", vars: map[string]map[string]string{"c@example.cn": {"name": "王五"}}},
		{name: "gbk", file: gbk(t, "邮箱,姓名,单位\nd@example.cn,赵六,北京乙公司\n"), encoding: "GB18030", accepted: 1,
			members: "d@example.cn", vars: map[string]map[string]string{"d@example.cn": {"name": "赵六", "employer": "北京乙公司"}}},
		{name: "duplicates in any case", file: "email\ne@example.cn\nE@EXAMPLE.CN\ne@example.cn \n", encoding: "UTF-8", accepted: 1, dups: 2,
			members: "e@example.cn"},
		{name: "invalid addresses", file: "email,name\nnot-an-address,甲\n,乙\nf@example.cn,丙\nx@nodot,丁\n\"g@example.cn,h\",戊\n",
			encoding: "UTF-8", accepted: 1, rejected: []int{2, 3, 5, 6}, members: "f@example.cn"},
		{name: "formula cells are data", file: "email,name\nh@example.cn,=HYPERLINK(\"http://x\")\n=cmd|' /C calc'!A0,x\n", encoding: "UTF-8",
			accepted: 1, rejected: []int{3}, members: "h@example.cn",
			vars: map[string]map[string]string{"h@example.cn": {"name": `=HYPERLINK("http://x")`}}},
		{name: "too long line", file: "email\n" + long + "i@example.cn\n", encoding: "UTF-8", accepted: 1, rejected: []int{2},
			members: "i@example.cn"},
		{name: "personal columns ignored", file: "email,身份证号,手机,phone,name\nj@example.cn,110101199001011234,13800138000,1,钱七\n",
			encoding: "UTF-8", accepted: 1, members: "j@example.cn", vars: map[string]map[string]string{"j@example.cn": {"name": "钱七"}}},
		{name: "gbk after 64 KiB of ASCII", file: "email,name\n" + asciiLines + gbk(t, "zz@example.cn,孙八\n"), encoding: "GB18030",
			accepted: 3001, vars: map[string]map[string]string{"zz@example.cn": {"name": "孙八"}}, members: "*"},
		{name: "binary file", file: "PK\x03\x04\x00\x00binary", wantField: "file"},
		{name: "no email column", file: "name\n张三\n", wantField: "file"},
		{name: "empty file", file: "", wantField: "file"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			list := fmt.Sprintf("名单%d", i)
			rep, err := l.ImportCSV(env.Ctx, clerk, list, strings.NewReader(c.file))
			if c.wantField != "" {
				ae := apperr.As(err)
				if err == nil || ae.Code != apperr.Invalid || len(ae.Fields) == 0 || ae.Fields[0].Field != c.wantField {
					t.Fatalf("ImportCSV = %+v, %v; want a refusal naming %s", rep, err, c.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Encoding != c.encoding || rep.Accepted != c.accepted || rep.Duplicates != c.dups || rep.Rejected != len(c.rejected) {
				t.Fatalf("report %+v", rep)
			}
			for k, line := range c.rejected {
				if rep.RejectedLines[k].Line != line || rep.RejectedLines[k].Reason == "" {
					t.Errorf("rejected %d = %+v, want line %d", k, rep.RejectedLines[k], line)
				}
				if strings.HasPrefix(rep.RejectedLines[k].Text, "=") {
					t.Errorf("rejected line echoed as a formula: %q", rep.RejectedLines[k].Text)
				}
			}
			rs, err := l.Resolve(env.Ctx, rep.ListID)
			if err != nil {
				t.Fatal(err)
			}
			if got := emails(rs); got != c.members && c.members != "*" {
				t.Fatalf("members %q, want %q", got, c.members)
			}
			for _, r := range rs {
				want, ok := c.vars[r.Email]
				if !ok {
					continue
				}
				for k, v := range want {
					if r.Vars[k] != v {
						t.Errorf("%s var %s = %q, want %q (all %v)", r.Email, k, r.Vars[k], v, r.Vars)
					}
				}
				for k := range r.Vars {
					if _, ok := want[k]; !ok {
						t.Errorf("%s has var %s, not in the file's whitelisted columns", r.Email, k)
					}
				}
			}
		})
	}
	t.Run("personal columns reported", func(t *testing.T) {
		rep, err := l.ImportCSV(env.Ctx, clerk, "个人信息", strings.NewReader("email,身份证号,other\nk@example.cn,1,2\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Ignored) != 2 || !strings.Contains(rep.Ignored[0].Reason, "个人") {
			t.Fatalf("ignored %+v", rep.Ignored)
		}
	})
	t.Run("a second import adds, an address again is a duplicate", func(t *testing.T) {
		rep, err := l.ImportCSV(env.Ctx, clerk, "名单0", strings.NewReader("email\na@example.cn\nz@example.cn\n"))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Accepted != 1 || rep.Duplicates != 1 {
			t.Fatalf("report %+v", rep)
		}
		rs, _ := l.Resolve(env.Ctx, rep.ListID)
		if got := emails(rs); got != "a@example.cn b@example.cn z@example.cn" {
			t.Fatalf("members %q", got)
		}
	})
	t.Run("only mail operators", func(t *testing.T) {
		_, err := l.ImportCSV(env.Ctx, actor.Actor{Login: "sys", Roles: []actor.Role{actor.SystemAdmin}}, "x", strings.NewReader("email\na@b.cn\n"))
		if !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("system admin: %v", err)
		}
	})
	t.Run("a dynamic list takes no upload", func(t *testing.T) {
		if _, err := l.CreateDynamic(env.Ctx, clerk, "动态", "", mailing.Query{Kind: mailing.StaffRole,
			Params: map[string]string{"role": "city_officer"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ImportCSV(env.Ctx, clerk, "动态", strings.NewReader("email\na@b.cn\n")); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("import into a dynamic list: %v", err)
		}
	})
}

// TestImportRejectedReportBounded: a file of bad lines lists the first
// 100 and counts them all.
func TestImportRejectedReportBounded(t *testing.T) {
	env, l := setup(t)
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 250 {
		fmt.Fprintf(&b, "bad%d\n", i)
	}
	rep, err := l.ImportCSV(env.Ctx, clerk, "坏", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rejected != 250 || len(rep.RejectedLines) != 100 || rep.RejectedLines[99].Line != 101 {
		t.Fatalf("rejected %d, listed %d", rep.Rejected, len(rep.RejectedLines))
	}
}

// millionCSV streams n lines without holding them.
type millionCSV struct {
	n, i int
	buf  bytes.Buffer
}

func (m *millionCSV) Read(p []byte) (int, error) {
	for m.buf.Len() < len(p) && m.i <= m.n {
		if m.i == 0 {
			m.buf.WriteString("email,name,district\n")
		} else {
			fmt.Fprintf(&m.buf, "user%07d@example.cn,用户%d,海淀区\n", m.i, m.i)
		}
		m.i++
	}
	if m.buf.Len() == 0 {
		return 0, io.EOF
	}
	return m.buf.Read(p)
}

// TestImportMillion imports a million lines and reports the time (the
// figure of docs/mailing.md). Slow: skipped with -short.
func TestImportMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("a million-line import takes a while; run without -short")
	}
	env, l := setup(t)
	const n = 1_000_000
	start := time.Now()
	rep, err := l.ImportCSV(env.Ctx, clerk, "百万", &millionCSV{n: n})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if rep.Accepted != n || rep.Rejected != 0 {
		t.Fatalf("report %+v", rep)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%s: imported %d lines in %s (%.0f lines/s); memory from the OS after the import %d MiB", env.DB.Dialect, n,
		took.Round(time.Millisecond), n/took.Seconds(), ms.Sys>>20)
	start = time.Now()
	rs, err := l.Resolve(env.Ctx, rep.ListID)
	if err != nil || len(rs) != n {
		t.Fatalf("resolve: %d, %v", len(rs), err)
	}
	t.Logf("%s: resolved %d recipients in %s", env.DB.Dialect, n, time.Since(start).Round(time.Millisecond))
}

func TestDynamicLists(t *testing.T) {
	env, l := setup(t)
	emp, op := env.VerifiedEmployer("dyn_op")
	env.Linked("dyn_app1", emp, op)
	_, _, a2 := env.Linked("dyn_app2", emp, op)
	// The second applicant is with the employer; the first stays a draft.
	if _, err := env.DB.Exec(env.Ctx, `UPDATE applications SET status = 'with_employer' WHERE id = $1`, a2.ID); err != nil {
		t.Fatal(err)
	}
	// An employer of 朝阳区, banned in the fraud register this year.
	emp2, _, err := env.Employers.Register(env.Ctx, employer.Registration{CreditCode: casetest.CreditCode(), Name: "北京朝阳公司",
		District: "朝阳区", Address: "北京市朝阳区某路1号", LegalRep: "张三", OperatorName: "周经办", OperatorLogin: "dyn_op2",
		Phone: "13800138000", Email: "dyn_op2@example.cn", Password: casetest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
	if err != nil {
		t.Fatal(err)
	}
	now := db.Micros(env.Clock.Now())
	if _, err := env.DB.Exec(env.Ctx, `INSERT INTO fraud_entries (kind, employer_id, subject_name, district, what, decided_on,
		ban_from_year, ban_to_year, status, proposed_by, proposed_at, decided_by, decided_at, updated_at)
		VALUES ('employer', $1, '北京朝阳公司', '朝阳区', '虚假材料', '2027-01-05', 2027, 2032, 'in_force', 1, $2, 2, $2, $2)`,
		emp2.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Accounts.CreateUser(env.Ctx, account.NewUser{Login: "dyn_city", DisplayName: "孙经办", Zone: account.Office,
		Email: "Dyn_City@example.cn", Password: casetest.Password, Roles: []account.Role{account.CityOfficer}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    mailing.Query
		want string
		vars map[string]string // of the first recipient
	}{
		{"applicants of the round", mailing.Query{Kind: mailing.Applicants, Params: map[string]string{"year": "2027"}},
			"dyn_app1@example.cn dyn_app2@example.cn", map[string]string{"name": "王小明", "employer": emp.Name, "district": "海淀区",
				"year": "2027", "status": application.StatusName(application.Draft)}},
		{"applicants in a status", mailing.Query{Kind: mailing.Applicants, Params: map[string]string{"year": "2027", "status": "with_employer"}},
			"dyn_app2@example.cn", map[string]string{"status": "待单位审核"}},
		{"another year", mailing.Query{Kind: mailing.Applicants, Params: map[string]string{"year": "2026"}}, "", nil},
		{"operators of a district", mailing.Query{Kind: mailing.DistrictOperators, Params: map[string]string{"district": "海淀区"}},
			"dyn_op@example.cn", map[string]string{"employer": emp.Name, "district": "海淀区"}},
		{"operators of banned employers", mailing.Query{Kind: mailing.BannedOperators, Params: map[string]string{}},
			"dyn_op2@example.cn", map[string]string{"district": "朝阳区", "year": "2027"}},
		{"banned in a year outside the ban", mailing.Query{Kind: mailing.BannedOperators, Params: map[string]string{"year": "2040"}}, "", nil},
		{"staff of a role", mailing.Query{Kind: mailing.StaffRole, Params: map[string]string{"role": "city_officer"}},
			"dyn_city@example.cn", map[string]string{"role": "市人力社保局经办人员"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			li, err := l.CreateDynamic(env.Ctx, clerk, fmt.Sprintf("动态%d", i), "", c.q)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := l.Resolve(env.Ctx, li.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := emails(rs); got != c.want {
				t.Fatalf("recipients %q, want %q", got, c.want)
			}
			for k, v := range c.vars {
				if rs[0].Vars[k] != v {
					t.Errorf("var %s = %q, want %q (%v)", k, rs[0].Vars[k], v, rs[0].Vars)
				}
			}
		})
	}
	t.Run("validated on save", func(t *testing.T) {
		for _, c := range []struct {
			q     mailing.Query
			field string
		}{
			{mailing.Query{Kind: "everyone"}, "kind"},
			{mailing.Query{Kind: mailing.Applicants, Params: map[string]string{"year": "20x6"}}, "year"},
			{mailing.Query{Kind: mailing.Applicants, Params: map[string]string{"year": "2027", "status": "lost"}}, "status"},
			{mailing.Query{Kind: mailing.DistrictOperators, Params: map[string]string{"district": "火星区"}}, "district"},
			{mailing.Query{Kind: mailing.StaffRole, Params: map[string]string{"role": "applicant"}}, "role"},
		} {
			_, err := l.CreateDynamic(env.Ctx, clerk, "坏条件", "", c.q)
			if ae := apperr.As(err); err == nil || len(ae.Fields) == 0 || ae.Fields[0].Field != c.field {
				t.Errorf("%+v: %v, want a refusal naming %s", c.q, err, c.field)
			}
		}
		if _, err := l.CreateDynamic(env.Ctx, clerk, "动态0", "", cases[0].q); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a taken name: %v", err)
		}
	})
	t.Run("delete with version", func(t *testing.T) {
		li, err := l.ByName(env.Ctx, "动态0")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Delete(env.Ctx, clerk, li.ID, li.Version+1); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("stale delete: %v", err)
		}
		if err := l.Delete(env.Ctx, clerk, li.ID, li.Version); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Get(env.Ctx, li.ID); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
}

func TestSuppression(t *testing.T) {
	env, l := setup(t)
	system := actor.SystemActor("bounce")
	if err := l.Suppress(env.Ctx, system, "Gone@Example.cn", mailing.SourceHardBounce, "5.1.1 user unknown"); err != nil {
		t.Fatal(err)
	}
	// Idempotent: the first entry stays.
	if err := l.Suppress(env.Ctx, system, "gone@example.cn", mailing.SourceComplaint, "again"); err != nil {
		t.Fatal(err)
	}
	if err := l.Suppress(env.Ctx, system, "x@example.cn", mailing.SourceManual, "手工"); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("manual entry by the system: %v", err)
	}
	if err := l.Suppress(env.Ctx, clerk, "x@example.cn", mailing.SourceManual, ""); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("manual entry without a reason: %v", err)
	}
	if err := l.Suppress(env.Ctx, clerk, "x@example.cn", mailing.SourceManual, "本人电话要求"); err != nil {
		t.Fatal(err)
	}
	if err := l.Suppress(env.Ctx, clerk, "bad", mailing.SourceManual, "x"); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("bad address: %v", err)
	}
	got, err := l.Suppressed(env.Ctx, []string{"GONE@example.cn", "x@example.cn", "ok@example.cn"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["gone@example.cn"] != "5.1.1 user unknown" || got["x@example.cn"] != "本人电话要求" {
		t.Fatalf("Suppressed = %v", got)
	}
	rows, err := l.Suppressions(env.Ctx, clerk, mailing.SuppressionFilter{Query: "gone"})
	if err != nil || len(rows) != 1 || rows[0].Source != mailing.SourceHardBounce {
		t.Fatalf("search: %+v, %v", rows, err)
	}
	if err := l.Unsuppress(env.Ctx, clerk, "gone@example.cn", ""); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("removal without a reason: %v", err)
	}
	if err := l.Unsuppress(env.Ctx, clerk, "gone@example.cn", "地址已修复，本人确认"); err != nil {
		t.Fatal(err)
	}
	if err := l.Unsuppress(env.Ctx, clerk, "gone@example.cn", "再次移出"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("second removal: %v", err)
	}
	var n int
	if err := env.DB.QueryRow(env.Ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'mailing.unsuppress'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit of the removal: %d, %v", n, err)
	}
	// A large lookup goes in chunks.
	many := make([]string, 12000)
	for i := range many {
		many[i] = fmt.Sprintf("m%d@example.cn", i)
	}
	many[11999] = "x@example.cn"
	if got, err := l.Suppressed(env.Ctx, many); err != nil || len(got) != 1 {
		t.Fatalf("large lookup: %v, %v", got, err)
	}
}

// TestTemplateConcurrentSave: of two clerks saving the same version,
// exactly one wins.
func TestTemplateConcurrentSave(t *testing.T) {
	env, l := setup(t)
	tm, err := l.SaveTemplate(env.Ctx, clerk, mailing.Template{Name: "提醒", Subject: "{{.Name}}，您好", Text: "正文"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := *tm
			u.Text = fmt.Sprintf("正文 %d", i)
			_, errs[i] = l.SaveTemplate(env.Ctx, clerk, u)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !apperr.Is(err, apperr.Conflict):
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d saves won, want 1", ok)
	}
	got, err := l.Template(env.Ctx, tm.ID)
	if err != nil || got.Version != 2 {
		t.Fatalf("after: %+v, %v", got, err)
	}
	if _, err := l.SaveTemplate(env.Ctx, clerk, mailing.Template{Name: "提醒", Subject: "x", Text: "y"}); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("a taken name: %v", err)
	}
	if err := l.DeleteTemplate(env.Ctx, clerk, tm.ID, 1); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale delete: %v", err)
	}
	if err := l.DeleteTemplate(env.Ctx, clerk, tm.ID, 2); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentSuppressAndImport: several unsubscribes of one address at
// once leave one entry and no error; two imports creating the same new list
// at once both land in it.
func TestConcurrentSuppressAndImport(t *testing.T) {
	env, l := setup(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i < 4 {
				errs[i] = l.Suppress(env.Ctx, actor.Actor{Login: "public:unsubscribe"}, "same@example.cn", mailing.SourceUnsubscribe,
					fmt.Sprintf("campaign %d", i))
				return
			}
			_, errs[i] = l.ImportCSV(env.Ctx, clerk, "并发", strings.NewReader(fmt.Sprintf("email\nc%d@example.cn\nshared@example.cn\n", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	var n int
	if err := env.DB.QueryRow(env.Ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'mailing.suppress'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d suppress audit entries, %v; want 1", n, err)
	}
	li, err := l.ByName(env.Ctx, "并发")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := l.Resolve(env.Ctx, li.ID)
	if err != nil || emails(rs) != "c4@example.cn c5@example.cn shared@example.cn" {
		t.Fatalf("members %q, %v", emails(rs), err)
	}
}
