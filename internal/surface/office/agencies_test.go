package office_test

import (
	"context"
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// addCall writes one call to the log as the engine would.
func addCall(t *testing.T, a *apptest.App, agency, status string, at time.Time, latency time.Duration, digest string) {
	t.Helper()
	if _, err := a.DB.Exec(context.Background(), `INSERT INTO check_calls (at, agency, kind, run_id, app_from, app_to, subjects,
		attempt, latency_us, http_status, status, digest) VALUES ($1, $2, 'query', 3, 101, 350, 250, 1, $3, 200, $4, $5)`,
		db.Micros(at), agency, latency.Microseconds(), status, digest); err != nil {
		t.Fatal(err)
	}
}

func TestAgencyPages(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	if err := a.AgencyOps.EnsureDefaults(ctx, "http://127.0.0.1:9300", "demo-key"); err != nil {
		t.Fatal(err)
	}
	city := login(a, "city-ops", account.CityOfficer)
	district := login(a, "district-ops", account.DistrictOfficer)
	admin := login(a, "sysadmin-ops", account.SystemAdmin)
	now := a.Clock.Now()
	addCall(t, a, "tax", "ok", now.Add(-time.Minute), 120*time.Millisecond, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")

	t.Run("monitor sees status and calls", func(t *testing.T) {
		r := city.Get("/office/agencies")
		if r.Status != 200 || !strings.Contains(r.Body, "委办局接口状态") || !strings.Contains(r.Body, "市税务局") ||
			!strings.Contains(r.Body, "120.0") || !strings.Contains(r.Body, "● 正常") {
			t.Fatalf("agencies: %d\n%s", r.Status, r.Body)
		}
		if strings.Contains(r.Body, "/office/agencies/tax") {
			t.Fatal("a monitor without config.manage sees the edit link")
		}
		// Trend lines, drawn on the server as SVG, with a text alternative;
		// an agency without calls has none.
		if !strings.Contains(r.Body, `<svg class="chart"`) || !strings.Contains(r.Body, `aria-label="市税务局近24小时错误率：最高 0.0%，最近一小时 0.0%"`) ||
			!strings.Contains(r.Body, `aria-label="市税务局近24小时P95延迟：最高 120毫秒，最近一小时 120毫秒"`) ||
			!strings.Contains(r.Body, `<circle class="dot line-time"`) || strings.Contains(r.Body, "市公安局近24小时") ||
			strings.Count(r.Body, "<script") != strings.Count(r.Body, "<script src=") {
			t.Fatalf("trend charts:\n%s", r.Body)
		}
		r = city.Get("/office/calls?agency=tax&app=200")
		if r.Status != 200 || !strings.Contains(r.Body, "9f86d081884c7d65…") || !strings.Contains(r.Body, "101–350") {
			t.Fatalf("calls: %d\n%s", r.Status, r.Body)
		}
		if r = city.Get("/office/calls?app=351"); r.Status != 200 || !strings.Contains(r.Body, "没有符合条件的调用记录") {
			t.Fatalf("calls outside the range: %d", r.Status)
		}
		if r = city.Get("/office/calls?app=abc"); r.Status != 400 || fieldError(r.Body, "app") != "申请编号应为正整数" {
			t.Fatalf("bad app id: %d %q", r.Status, fieldError(r.Body, "app"))
		}
		if r = city.Get("/office/agencies/tax"); r.Status != 403 {
			t.Fatalf("edit form for a monitor: %d", r.Status)
		}
		r = city.Get("/office/")
		if !strings.Contains(r.Body, `href="/office/agencies"`) || strings.Contains(r.Body, "以下委办局接口异常") {
			t.Fatalf("home while healthy:\n%s", r.Body)
		}
	})

	t.Run("district officer is refused", func(t *testing.T) {
		for _, p := range []string{"/office/agencies", "/office/calls", "/office/inspection", "/office/inspection.csv", "/office/agencies/tax"} {
			if r := district.Get(p); r.Status != 403 && r.Status != 404 {
				t.Errorf("%s: %d", p, r.Status)
			}
		}
	})

	t.Run("banner when an agency is down", func(t *testing.T) {
		if _, err := a.DB.Exec(ctx, `UPDATE agency_connectors SET breaker = 'open', breaker_at = $1, last_error = 'HTTP 503 unavailable',
			last_error_at = $1 WHERE agency = 'public_security'`, db.Micros(now)); err != nil {
			t.Fatal(err)
		}
		r := city.Get("/office/")
		if !strings.Contains(r.Body, "以下委办局接口异常：</strong>市公安局（中断）") {
			t.Fatalf("no banner:\n%s", r.Body)
		}
		if r = district.Get("/office/"); strings.Contains(r.Body, "以下委办局接口异常") {
			t.Fatal("a district officer sees the agency banner")
		}
		r = city.Get("/office/agencies")
		if !strings.Contains(r.Body, "● 中断") || !strings.Contains(r.Body, "熔断器已打开") || !strings.Contains(r.Body, "HTTP 503 unavailable") {
			t.Fatalf("status page while down:\n%s", r.Body)
		}
	})

	t.Run("administrator edits a connector", func(t *testing.T) {
		r := admin.Get("/office/agencies")
		if !strings.Contains(r.Body, `href="/office/agencies/tax"`) {
			t.Fatal("no edit link for the administrator")
		}
		r = admin.Get("/office/agencies/tax")
		if r.Status != 200 || !strings.Contains(r.Body, "已设置") || strings.Contains(r.Body, "demo-key") ||
			!strings.Contains(r.Body, `value="http://127.0.0.1:9300"`) {
			t.Fatalf("form: %d\n%s", r.Status, r.Body)
		}
		bad := url.Values{"base_url": {"ftp://x"}, "key": {"new-secret-key"}, "rate_per_sec": {"0"}, "timeout_ms": {"abc"},
			"retries": {"3"}, "batch_size": {"600"}, "enabled": {"on"}}
		r = admin.PostForm("/office/agencies/tax", bad)
		if r.Status != 400 {
			t.Fatalf("invalid post: %d", r.Status)
		}
		wantFieldError(t, r.Body, "base_url", "接口地址应为以 http:// 或 https:// 开头的网址")
		wantFieldError(t, r.Body, "rate_per_sec", "每秒调用上限应为 1 到 10000 之间的整数")
		wantFieldError(t, r.Body, "timeout_ms", "超时时间应为 100 到 120000 毫秒之间的整数")
		wantFieldError(t, r.Body, "batch_size", "每批人数应为 1 到 500 之间的整数")
		if strings.Contains(r.Body, "new-secret-key") {
			t.Fatal("the typed key is sent back")
		}
		good := url.Values{"base_url": {"https://tax.example.gov.cn/jifen"}, "key": {"new-secret-key"}, "rate_per_sec": {"40"},
			"timeout_ms": {"5000"}, "retries": {"2"}, "batch_size": {"100"}}
		if r = admin.PostForm("/office/agencies/tax", good); r.Status != 303 && r.Status != 302 {
			t.Fatalf("valid post: %d\n%s", r.Status, r.Body)
		}
		c, err := a.AgencyOps.Connector(ctx, "tax")
		if err != nil || c.BaseURL != "https://tax.example.gov.cn/jifen" || c.RatePerSec != 40 || c.Enabled {
			t.Fatalf("saved %+v, %v", c, err)
		}
		if k, _ := a.AgencyOps.Key(ctx, "tax"); k != "new-secret-key" {
			t.Fatalf("key %q", k)
		}
		if r = admin.Get("/office/agencies/nope"); r.Status != 404 {
			t.Fatalf("unknown agency: %d", r.Status)
		}
		// Switched off: no longer "正常".
		if r = admin.Get("/office/agencies"); !strings.Contains(r.Body, "● 已停用") {
			t.Fatal("a disabled connector is not shown as such")
		}
	})

	t.Run("inspection report", func(t *testing.T) {
		day := now.In(clock.Beijing).Format("2006-01-02")
		addCall(t, a, "science", "timeout", now.Add(-2*time.Minute), 10*time.Second, "")
		r := city.Get("/office/inspection?day=" + day)
		if r.Status != 200 || !strings.Contains(r.Body, "日巡检报告 "+day) || !strings.Contains(r.Body, "错误率 100.0%") ||
			!strings.Contains(r.Body, "/office/inspection.csv?day="+day) || !strings.Contains(r.Body, "当日尚未结束") {
			t.Fatalf("inspection: %d\n%s", r.Status, r.Body)
		}
		// Today has calls: the report opens on today.
		if r = city.Get("/office/inspection"); r.Status != 200 || !strings.Contains(r.Body, "日巡检报告 "+day) || !strings.Contains(r.Body, "当日尚未结束") {
			t.Fatalf("default day with calls today: %d", r.Status)
		}
		if r = city.Get("/office/inspection?day=2026-13-01"); r.Status != 400 || fieldError(r.Body, "day") == "" {
			t.Fatalf("bad day: %d", r.Status)
		}
		r = city.Get("/office/inspection.csv?day=" + day)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(r.Body, "\ufeff日期,") ||
			!strings.Contains(r.Body, "science") {
			t.Fatalf("csv: %d %s\n%s", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
	})

	t.Run("inspection opens on yesterday when today has no calls", func(t *testing.T) {
		other := apptest.Start(t)
		if err := other.AgencyOps.EnsureDefaults(ctx, "http://127.0.0.1:9300", "demo-key"); err != nil {
			t.Fatal(err)
		}
		yesterday := other.Clock.Now().In(clock.Beijing).AddDate(0, 0, -1).Format("2006-01-02")
		r := login(other, "city-ops2", account.CityOfficer).Get("/office/inspection")
		if r.Status != 200 || !strings.Contains(r.Body, "日巡检报告 "+yesterday) || strings.Contains(r.Body, "当日尚未结束") {
			t.Fatalf("default day without calls today: %d", r.Status)
		}
	})

	t.Run("call log pages", func(t *testing.T) {
		for i := range 101 {
			addCall(t, a, "honors", "ok", now.Add(-time.Duration(i)*time.Second), time.Millisecond, "")
		}
		r := city.Get("/office/calls?agency=honors")
		_, after, ok := strings.Cut(r.Body, `<nav class="pager" aria-label="翻页"><a href="`)
		more, _, _ := strings.Cut(after, `"`)
		if r.Status != 200 || !ok || strings.Count(r.Body, "市总工会／市文明办</td>") != 100 {
			t.Fatalf("first page: %d, next %q, %d rows", r.Status, more, strings.Count(r.Body, "市总工会／市文明办</td>"))
		}
		r = city.Get(html.UnescapeString(more))
		if r.Status != 200 || strings.Count(r.Body, "市总工会／市文明办</td>") != 1 || strings.Contains(r.Body, `rel="next"`) {
			t.Fatalf("second page (%s): %d, %d rows", more, r.Status, strings.Count(r.Body, "市总工会／市文明办</td>"))
		}
	})
}

// waitingArgs is a schedule's job as the app inserts it (no worker runs in
// the test app, so it waits).
type waitingArgs struct {
	Name string `json:"name"`
}

func (waitingArgs) Kind() string { return "schedule" }

// The status page shows each job kind's queue depth and oldest waiting job.
func TestAgencyPageShowsQueues(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	if err := a.AgencyOps.EnsureDefaults(ctx, "http://127.0.0.1:9300", "demo-key"); err != nil {
		t.Fatal(err)
	}
	city := login(a, "city-queues", account.CityOfficer)
	if r := city.Get("/office/agencies"); r.Status != 200 || !strings.Contains(r.Body, "后台任务队列") || !strings.Contains(r.Body, "目前没有排队的后台任务") {
		t.Fatalf("agencies without jobs: %d\n%s", r.Status, r.Body)
	}
	for range 2 {
		if _, err := a.Jobs.Insert(ctx, waitingArgs{Name: "session_purge"}, &river.InsertOpts{Queue: "schedule"}); err != nil {
			t.Fatal(err)
		}
	}
	r := city.Get("/office/agencies")
	row := r.Body[strings.Index(r.Body, "定时任务"):]
	row = row[:strings.Index(row, "</tr>")]
	if r.Status != 200 || !strings.Contains(row, `<td class="num" data-label="等待中">2</td>`) || !strings.Contains(row, " 起") {
		t.Fatalf("queue row: %d\n%s", r.Status, row)
	}
}
