package app_test

import (
	"context"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"jifen/internal/accessstats"
	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
)

// TestPublicityHistoryPages imports two real past lists and reads them as
// a visitor: the trend page with its chart and table, a year's list with
// search and pages, and the JSON; bad page numbers and unknown years are a
// clear 4xx, never a 500.
func TestPublicityHistoryPages(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	by := actor.Actor{Login: "cli:test"}
	for _, y := range []int{2021, 2022} {
		b, err := os.ReadFile("../ranking/testdata/beijing-" + strconv.Itoa(y) + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.PastLists.Import(ctx, by, y, 6000, b); err != nil {
			t.Fatal(err)
		}
	}
	c := a.Client(a.Internet)
	r := c.Get("/publicity/history")
	for _, want := range []string{"<svg", "100.88", "105.42", "6,045", "6,006", `data-label="分数线"`, `href="/publicity/2022"`} {
		if r.Status != 200 || !strings.Contains(r.Body, want) {
			t.Fatalf("trend page lacks %q (%d)", want, r.Status)
		}
	}
	r = c.Get("/publicity/history/2022?q=202206006")
	for _, want := range []string{"202206006", "105.42", "1980-09", "未公布", "<details>", "职住区域", "12.00", "共 1 条"} {
		if r.Status != 200 || !strings.Contains(r.Body, want) {
			t.Fatalf("2022 search lacks %q (%d)", want, r.Status)
		}
	}
	// The same lists on the public board (from memory), with the digests.
	r = c.Get("/publicity/2022?q=202206006")
	for _, want := range []string{"202206006", "105.42", "1980-09", "未公布", "<details>", "职住区域", "12.00", "共 1 条", "SM3", "规范文本"} {
		if r.Status != 200 || !strings.Contains(r.Body, want) {
			t.Fatalf("board 2022 search lacks %q (%d)", want, r.Status)
		}
	}
	if r := c.Get("/publicity/2021?page=2"); r.Status != 200 || !strings.Contains(r.Body, "202100051") || !strings.Contains(r.Body, "未公布各项指标") {
		t.Fatalf("board 2021 page 2: %d", r.Status)
	}
	var board struct {
		Years []struct {
			Year      int
			Cutoff    string
			Qualified int
			Source    string
		} `json:"years"`
	}
	if c.Get("/api/v1/publicity").JSON(&board); len(board.Years) != 2 || board.Years[0].Year != 2022 || board.Years[0].Cutoff != "105.42" ||
		board.Years[0].Qualified != 6006 || board.Years[0].Source != "imported" {
		t.Fatalf("board years: %+v", board)
	}
	r = c.Get("/publicity/history/2021?page=2")
	if r.Status != 200 || !strings.Contains(r.Body, "202100051") || !strings.Contains(r.Body, "未公布各项指标") ||
		!strings.Contains(r.Body, `rel="next"`) || !strings.Contains(r.Body, `rel="prev"`) {
		t.Fatalf("2021 page 2: %d", r.Status)
	}
	var list struct {
		Rounds []struct {
			Year      int     `json:"year"`
			Cutoff    float64 `json:"cutoff"`
			Qualified int     `json:"qualified"`
		} `json:"rounds"`
	}
	c.Get("/api/v1/publicity/history").JSON(&list)
	if len(list.Rounds) != 2 || list.Rounds[1].Cutoff != 105.42 || list.Rounds[1].Qualified != 6006 {
		t.Fatalf("rounds JSON: %+v", list)
	}
	var page struct {
		Total   int              `json:"total"`
		Entries []map[string]any `json:"entries"`
	}
	c.Get("/api/v1/publicity/history/2022/entries?q=202206006").JSON(&page)
	if page.Total != 1 || page.Entries[0]["total"] != 105.42 || page.Entries[0]["work_residence_area"] != 12.0 ||
		page.Entries[0]["born"] != "1980-09" {
		t.Fatalf("entries JSON: %+v", page)
	}
	for path, status := range map[string]int{
		"/publicity/history/2022?page=-1":                                      400,
		"/publicity/history/2022?page=99999999999999999999999":                 200, // clamped to web.MaxPage: an empty page
		"/api/v1/publicity/history/2022/entries?page=0":                        400,
		"/api/v1/publicity/history/2022/entries?page=999999999":                200,
		"/publicity/history/1999":                                              404,
		"/publicity/history/abcd":                                              404,
		"/api/v1/publicity/history/20222/entries":                              404,
		"/publicity/history/2022?q=%25%27%3Cscript%3E":                         200,
		"/api/v1/publicity/history/2022/entries?q=" + strings.Repeat("长", 101): 400,
	} {
		if r := c.Get(path); r.Status != status {
			t.Errorf("%s: %d, want %d", path, r.Status, status)
		}
	}
}

// TestPublicityHistorySearchesAreCounted: a search of a past list counts in
// the access statistics, with whether it found something.
func TestPublicityHistorySearchesAreCounted(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	// The first three rows of the 2022 list, with a quota of 3: a small
	// list keeps the test quick under the race detector.
	b, err := os.ReadFile("../ranking/testdata/beijing-2022.csv")
	if err != nil {
		t.Fatal(err)
	}
	small := strings.Join(strings.SplitN(string(b), "\n", 5)[:4], "\n") + "\n"
	if _, err := a.PastLists.Import(ctx, actor.Actor{Login: "cli:test"}, 2022, 3, []byte(small)); err != nil {
		t.Fatal(err)
	}
	c := a.Client(a.Internet)
	for _, q := range []string{"202200003", "没有这个人", ""} {
		if r := c.Get("/api/v1/publicity/history/2022/entries?q=" + url.QueryEscape(q)); r.Status != 200 {
			t.Fatalf("search %q: %d", q, r.Status)
		}
	}
	if r := c.Get("/publicity/history/2022?q=202200003"); r.Status != 200 || !strings.Contains(r.Body, "202200003") {
		t.Fatalf("search page: %d", r.Status)
	}
	if err := a.AccessStats.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	a.CreateUser("city-stats", account.CityOfficer)
	o := a.Client(a.Office)
	a.LoginStaff(o, "city-stats", apptest.Password)
	var rep accessstats.Report
	o.Get("/api/v1/office/stats?by=hour").JSON(&rep)
	if rep.Totals.Searches != 3 || rep.Totals.SearchesFound != 2 {
		t.Fatalf("searches %d, found %d; want 3 and 2", rep.Totals.Searches, rep.Totals.SearchesFound)
	}
}
