package app_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
)

// TestOperationsMonitoring: the real app samples itself (host, database,
// its own HTTP traffic); a rule beyond its threshold long enough raises the
// office banner on every page and opens a fault record, which two
// administrators write up and close; the quarterly report downloads.
func TestOperationsMonitoring(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	a.CreateUser("sys1", account.SystemAdmin)
	a.CreateUser("sys2", account.SystemAdmin)
	a.CreateUser("city1", account.CityOfficer)
	s1, s2, city := a.Client(a.Office), a.Client(a.Office), a.Client(a.Office)
	a.LoginStaff(s1, "sys1", apptest.Password)
	a.LoginStaff(s2, "sys2", apptest.Password)
	a.LoginStaff(city, "city1", apptest.Password)

	if err := a.Monitor.Collect(ctx); err != nil { // the baseline of the counters
		t.Fatal(err)
	}
	for range 5 {
		a.Client(a.Internet).Get("/")
	}
	a.Clock.Advance(time.Minute)
	if err := a.Monitor.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	page := s1.Get("/office/ops/monitor")
	for _, want := range []string{"运行监控", "数据目录磁盘剩余（%）", "数据库大小（MB）", "互联网端每分钟请求数", "告警规则", "<svg"} {
		if page.Status != 200 || !strings.Contains(page.Body, want) {
			t.Fatalf("monitor page %d lacks %q", page.Status, want)
		}
	}
	if r := city.Get("/office/ops/monitor"); r.Status != 403 {
		t.Fatalf("a city officer reads monitoring: %d", r.Status)
	}

	// A mail backlog beyond 20,000 for 15 minutes fires.
	for range 15 {
		a.Clock.Advance(time.Minute)
		if err := a.Monitor.Store(ctx, a.Clock.Now(), "test/worker", map[string]float64{"mail_backlog": 25000}); err != nil {
			t.Fatal(err)
		}
		if err := a.Monitor.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The clock moved past the sessions' idle limit: log in again.
	a.LoginStaff(s1, "sys1", apptest.Password)
	a.LoginStaff(s2, "sys2", apptest.Password)
	a.LoginStaff(city, "city1", apptest.Password)
	home := city.Get("/office/")
	if !strings.Contains(home.Body, "系统告警") || !strings.Contains(home.Body, "待发邮件积压超过2万封") {
		t.Fatalf("no banner on the office home: %d", home.Status)
	}
	alerts, err := a.Monitor.Alerts(ctx, 5)
	if err != nil || len(alerts) != 1 || alerts[0].FaultID == 0 {
		t.Fatalf("alerts %+v %v", alerts, err)
	}
	fault := "/office/ops/faults/" + itoa(alerts[0].FaultID)
	if r := s1.PostForm(fault+"/submit", map[string][]string{"version": {"1"}}); r.Status != 400 || !strings.Contains(r.Body, "请填写故障原因") {
		t.Fatalf("submit empty: %d", r.Status)
	}
	if r := s1.PostForm(fault+"/update", map[string][]string{"version": {"1"}, "impact": {"通知邮件延迟约20分钟"},
		"cause": {"邮件服务器限流"}, "fix": {"调低发送速率"}}); r.Status != 303 {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	// A log extract attached (multipart), listed and downloaded.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "限流日志.txt")
	_, _ = fw.Write([]byte("421 rate limited"))
	_ = mw.Close()
	if r := s1.Do("POST", fault+"/attach", &body, map[string]string{"Content-Type": mw.FormDataContentType(),
		"Origin": s1.Base, "Sec-Fetch-Site": "same-origin"}); r.Status != 303 {
		t.Fatalf("attach: %d %s", r.Status, r.Body)
	}
	fp := s1.Get(fault)
	i := strings.Index(fp.Body, fault+"/files/")
	if i < 0 || !strings.Contains(fp.Body, "限流日志.txt") {
		t.Fatalf("fault page lacks the attachment")
	}
	link := fp.Body[i : i+strings.IndexByte(fp.Body[i:], '"')]
	if dl := s1.Get(link); dl.Status != 200 || dl.Body != "421 rate limited" || !strings.Contains(dl.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download %s: %d %q", link, dl.Status, dl.Body)
	}
	if r := s1.PostForm(fault+"/submit", map[string][]string{"version": {"2"}}); r.Status != 303 {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	if r := s1.PostForm(fault+"/approve", map[string][]string{"version": {"3"}}); r.Status != 403 || !strings.Contains(r.Body, "另一位管理员") {
		t.Fatalf("self-review: %d", r.Status)
	}
	if r := s2.PostForm(fault+"/approve", map[string][]string{"version": {"3"}}); r.Status != 303 {
		t.Fatalf("review: %d %s", r.Status, r.Body)
	}
	if r := s1.Get(fault); !strings.Contains(r.Body, "已关闭") || !strings.Contains(r.Body, "复核通过") {
		t.Fatalf("closed fault page: %d", r.Status)
	}
	q := a.Clock.Now()
	x := s1.Get("/office/ops/quarterly.xlsx?q=" + itoa(int64(q.Year())) + "-" + itoa(int64((int(q.Month())-1)/3+1)))
	if x.Status != 200 {
		t.Fatalf("quarterly: %d %s", x.Status, x.Body)
	}
	f, err := excelize.OpenReader(bytes.NewReader([]byte(x.Body)))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("季度维护工作报告")
	all := ""
	for _, r := range rows {
		all += strings.Join(r, "|") + "\n"
	}
	if !strings.Contains(all, "待发邮件积压超过2万封") || !strings.Contains(all, "邮件服务器限流") {
		t.Fatalf("quarterly report:\n%s", all)
	}
	if r := s1.Get("/office/ops/quarterly?q=2026-9"); r.Status != 400 {
		t.Fatalf("bad quarter: %d", r.Status)
	}
}
