package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/config"
	"jifen/internal/synth"
)

// TestStatisticsInTheOffice: the office's 申报统计 over a synthetic round —
// the page with its chart and tables, the JSON API's figures against the
// database's own GROUP BY (suppressed below 5), the Excel export read back,
// drill-downs within and outside a district officer's district, and the
// bad queries of the issue.
func TestStatisticsInTheOffice(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SynthWith(ctx, rd, synth.Config{People: 300, Employers: 30, Seed: 7, ReadyToRank: true}); err != nil {
		t.Fatal(err)
	}
	a.CreateUser("city1", account.CityOfficer)
	a.CreateUserIn("海淀区", "hd1", account.DistrictOfficer)
	a.CreateUser("ops1", account.MailOperator)
	city, hd, ops := a.Client(a.Office), a.Client(a.Office), a.Client(a.Office)
	a.LoginStaff(city, "city1", apptest.Password)
	a.LoginStaff(hd, "hd1", apptest.Password)
	a.LoginStaff(ops, "ops1", apptest.Password)

	// What the database says, by district and status.
	want := map[string]int{}
	rows, err := a.DB.Query(ctx, `SELECT COALESCE(NULLIF(a.district, ''), e.district), a.status, count(*)
		FROM applications a JOIN employers e ON e.id = a.employer_id GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for rows.Next() {
		var d, s string
		var n int
		if err := rows.Scan(&d, &s, &n); err != nil {
			t.Fatal(err)
		}
		want[d+"|"+s] = n
		total += n
	}
	rows.Close()

	page := city.Get("/office/statistics")
	for _, s := range []string{"申报统计", "<svg", "数据截至", "交叉表", "导出 Excel", fmt.Sprintf("共 %d 件申请", total)} {
		if page.Status != 200 || !strings.Contains(page.Body, s) {
			t.Fatalf("page %d lacks %q: %s", page.Status, s, page.Body)
		}
	}

	var flat struct {
		Rows            []map[string]any `json:"rows"`
		Total           map[string]any   `json:"total"`
		SuppressedBelow int              `json:"suppressed_below"`
	}
	r := city.Get("/api/v1/office/statistics?dims=district,status&measures=count,mean:total")
	if r.Status != 200 {
		t.Fatalf("api: %d %s", r.Status, r.Body)
	}
	r.JSON(&flat)
	if flat.SuppressedBelow != 5 || len(flat.Rows) != len(want) {
		t.Fatalf("api: %d rows (want %d), suppressed below %d", len(flat.Rows), len(want), flat.SuppressedBelow)
	}
	shown := 0
	for _, row := range flat.Rows {
		key := fmt.Sprint(row["district"], "|", row["status"])
		n := want[key]
		switch c := row["count"].(type) {
		case float64:
			if int(c) != n || n < 5 {
				t.Errorf("%s: %v, database %d", key, c, n)
			}
			shown += n
		case string:
			if c != "<5" || n >= 5 || row["mean:total"] != "<5" {
				t.Errorf("%s: %q, database %d", key, c, n)
			}
		}
	}
	if flat.Total["count"] != float64(shown) {
		t.Errorf("total %v, cells shown %d", flat.Total["count"], shown)
	}

	x := city.Get("/office/statistics.xlsx?dims=district&measures=count")
	if x.Status != 200 {
		t.Fatalf("xlsx: %d %s", x.Status, x.Body)
	}
	f, err := excelize.OpenReader(bytes.NewReader([]byte(x.Body)))
	if err != nil {
		t.Fatal(err)
	}
	sheet, err := f.GetRows("申报统计")
	if err != nil || len(sheet) < 3 || sheet[0][0] != "区" || sheet[0][1] != "人数（人）" {
		t.Fatalf("sheet: %v %v", sheet, err)
	}
	_ = f.Close()
	if c := city.Get("/office/statistics.csv?dims=sex"); c.Status != 200 || !strings.Contains(c.Body, "性别") {
		t.Fatalf("csv: %d", c.Status)
	}

	// The same query saved and produced by the durable job: the file in the
	// download area holds the API's figures (suppressed alike).
	if r := city.PostForm("/office/statistics/saved", url.Values{"name": {"区与状态"}, "dims": {"district,status"},
		"measures": {"count,mean:total"}, "schedule": {"weekly"}, "weekday": {"1"}, "hour": {"7"}}); r.Status != 303 {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	var saved int64
	if err := a.DB.QueryRow(ctx, `SELECT id FROM stats_saved WHERE name = '区与状态'`).Scan(&saved); err != nil {
		t.Fatal(err)
	}
	if r := city.PostForm(fmt.Sprintf("/office/reports/saved/%d/run", saved), nil); r.Status != 303 {
		t.Fatalf("run: %d %s", r.Status, r.Body)
	}
	var fileID int64
	a.WorkJobs(20*time.Second, func() bool {
		return a.DB.QueryRow(ctx, `SELECT id FROM stats_report_files WHERE saved_id = $1`, saved).Scan(&fileID) == nil
	})
	dl := city.Get(fmt.Sprintf("/office/reports/files/%d", fileID))
	if dl.Status != 200 {
		t.Fatalf("download: %d %s", dl.Status, dl.Body)
	}
	rf, err := excelize.OpenReader(bytes.NewReader([]byte(dl.Body)))
	if err != nil {
		t.Fatal(err)
	}
	fileRows, _ := rf.GetRows("申报统计")
	_ = rf.Close()
	// Header, one line per cell, the total line, a blank, the notes.
	if len(fileRows) < len(want)+2 || fileRows[0][0] != "区" || !strings.HasPrefix(fileRows[len(want)+1][0], "合计") ||
		fileRows[len(want)+1][2] != fmt.Sprint(shown) {
		t.Fatalf("produced file: %v (want %d cells, %d shown)", fileRows, len(want), shown)
	}

	// Drill-downs: the district officer's own district, and not another.
	if d := hd.Get("/office/statistics/cases?dims=district&cell=%E6%B5%B7%E6%B7%80%E5%8C%BA"); d.Status != 200 || !strings.Contains(d.Body, "统计明细：海淀区") {
		t.Fatalf("own district: %d %s", d.Status, d.Body)
	}
	if d := hd.Get("/office/statistics/cases?dims=district&cell=%E6%9C%9D%E9%98%B3%E5%8C%BA"); d.Status != 403 || !strings.Contains(d.Body, "只能查看本区") {
		t.Fatalf("another district: %d", d.Status)
	}
	r = hd.Get("/api/v1/office/statistics?dims=district")
	r.JSON(&flat)
	if len(flat.Rows) != 1 || flat.Rows[0]["district"] != "海淀区" {
		t.Fatalf("district officer sees %v", flat.Rows)
	}
	if err := a.Audit.FlushReads(ctx); err != nil {
		t.Fatal(err)
	}
	var reads int
	if err := a.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'person.read_stats_cell'`).Scan(&reads); err != nil || reads == 0 {
		t.Fatalf("drill-down reads audited: %d %v", reads, err)
	}

	// Bad input: a clear message, never a 500.
	for _, c := range []struct{ path, says string }{
		{"/api/v1/office/statistics?dims=district,status,sex,round", "最多按3个维度"},
		{"/api/v1/office/statistics?dims=colour", "没有名为“colour”的统计维度"},
		{"/api/v1/office/statistics?measures=avg:total", "没有名为“avg:total”的统计指标"},
		{"/api/v1/office/statistics?f.status=flying", "“flying”不是维度“申请状态”的取值"},
		{"/office/statistics.xlsx?dims=colour", "colour"},
		{"/office/statistics/cases?dims=district&cell=%E7%81%AB%E6%98%9F%E5%8C%BA", "不是维度"},
		{"/office/statistics?dims=a,b,c,d", "最多按3个维度"},
	} {
		if r := city.Get(c.path); r.Status != 400 || !strings.Contains(r.Body, c.says) {
			t.Errorf("%s: %d %s", c.path, r.Status, r.Body)
		}
	}
	if r := ops.Get("/api/v1/office/statistics"); r.Status != 403 {
		t.Errorf("mail operator: %d", r.Status)
	}
}

// TestATooLargeExportIsRefused: more cells than JIFEN_STATS_MAX_EXPORT is a
// 400 naming the limit — never a 500 or part of a file.
func TestATooLargeExportIsRefused(t *testing.T) {
	a := apptest.Start(t, func(c *config.Config) { c.StatsMaxExport = 2 })
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SynthWith(ctx, rd, synth.Config{People: 60, Employers: 10, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	a.CreateUser("city1", account.CityOfficer)
	c := a.Client(a.Office)
	a.LoginStaff(c, "city1", apptest.Password)
	for _, path := range []string{"/office/statistics.xlsx?dims=status", "/office/statistics.csv?dims=status", "/api/v1/office/statistics?dims=status"} {
		r := c.Get(path)
		if r.Status != 400 || !strings.Contains(r.Body, "超过导出上限2格") || strings.HasPrefix(r.Body, "PK") {
			t.Errorf("%s: %d %.200s", path, r.Status, r.Body)
		}
	}
	// Within the limit it answers.
	if r := c.Get("/api/v1/office/statistics?dims=sex"); r.Status != 200 {
		t.Errorf("two cells: %d %s", r.Status, r.Body)
	}
}
