package publicity_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/publicity"
)

// dataDir holds the real, de-identified official lists
// (../shared/data/publicity), copied once into the ranking core's test data.
const dataDir = "../ranking/testdata"

func newHistory(t *testing.T) (*publicity.History, *db.DB) {
	d := dbtest.Open(t)
	c := clock.NewFake(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	return publicity.NewHistory(d, audit.New(d, c), c), d
}

var operator = actor.Actor{Login: "cli:test"}

func readList(t *testing.T, year string) []byte {
	b, err := os.ReadFile(filepath.Join(dataDir, "beijing-"+year+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t *testing.T, d *db.DB, table string) int {
	var n int
	if err := d.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImportRealLists imports the three official lists and reproduces their
// cutoffs and counts with the ranking core; a second import of each changes
// nothing, and another file for a year is refused.
func TestImportRealLists(t *testing.T) {
	h, d := newHistory(t)
	ctx := context.Background()
	want := []struct {
		year      int
		cutoff    string
		qualified int
		indic     bool
	}{{2020, "97.13", 6032, true}, {2021, "100.88", 6045, false}, {2022, "105.42", 6006, true}}
	for _, w := range want {
		res, err := h.Import(ctx, operator, w.year, 6000, readList(t, itoa(w.year)))
		if err != nil {
			t.Fatalf("%d: %v", w.year, err)
		}
		if !res.Imported || res.Cutoff.String() != w.cutoff || res.Qualified != w.qualified || res.Indicators != w.indic {
			t.Fatalf("%d: got %+v", w.year, res)
		}
	}
	if n := count(t, d, "publicity_entries"); n != 6032+6045+6006 {
		t.Fatalf("entries: %d", n)
	}
	before := count(t, d, "audit_log")
	for _, w := range want {
		res, err := h.Import(ctx, operator, w.year, 6000, readList(t, itoa(w.year)))
		if err != nil || res.Imported || res.Cutoff.String() != w.cutoff || res.Qualified != w.qualified {
			t.Fatalf("second import %d: %+v %v", w.year, res, err)
		}
	}
	if n := count(t, d, "publicity_entries"); n != 6032+6045+6006 {
		t.Fatalf("entries after the second import: %d", n)
	}
	if n := count(t, d, "audit_log"); n != before {
		t.Fatalf("a second import was audited as a change: %d → %d", before, n)
	}
	// Another file for 2022 (the same list without its last row, quota
	// fitting) is refused.
	b := readList(t, "2022")
	short := b[:strings.LastIndex(strings.TrimRight(string(b), "\n"), "\n")+1]
	if _, err := h.Import(ctx, operator, 2022, 6000, short); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("another file for 2022: %v", err)
	}

	rs, err := h.Rounds(ctx)
	if err != nil || len(rs) != 3 || rs[0].Year != 2020 || rs[2].Cutoff.String() != "105.42" {
		t.Fatalf("rounds: %+v %v", rs, err)
	}

	// Search by 公示编号: 202206006 is the 105.42 row, the cutoff.
	p, err := h.Entries(ctx, 2022, "202206006", 1)
	if err != nil || p.Total != 1 || p.Entries[0].Total.String() != "105.42" || p.Entries[0].Born != "1980-09" ||
		p.Entries[0].Values[4].String() != "12.00" {
		t.Fatalf("202206006: %+v %v", p, err)
	}
	js, _ := json.Marshal(p.Entries[0])
	for _, f := range []string{`"number":"202206006"`, `"total":105.42`, `"study_deduction":-10.5`, `"name":""`} {
		if !strings.Contains(string(js), f) {
			t.Fatalf("JSON %s lacks %s", js, f)
		}
	}
	// 2020's numbers are derived from the rank order; 2021 has no indicators.
	if p, err := h.Entries(ctx, 2020, "202006032", 1); err != nil || p.Total != 1 || p.Entries[0].Total.String() != "97.13" {
		t.Fatalf("202006032: %+v %v", p, err)
	}
	if p, err := h.Entries(ctx, 2021, "", 1); err != nil || p.Total != 6045 || p.Pages != 121 || len(p.Entries) != 50 ||
		p.Entries[0].Values != nil || p.Entries[0].Number != "202100001" {
		t.Fatalf("2021 page 1: %+v %v", p, err)
	}
	if p, err := h.Entries(ctx, 2021, "", 121); err != nil || len(p.Entries) != 45 || p.Entries[44].Number != "202106045" {
		t.Fatalf("2021 last page: %v", err)
	}
	// Past the end: empty; below 1: refused; unknown year: not found;
	// metacharacters are plain text.
	if p, err := h.Entries(ctx, 2022, "", 1<<30); err != nil || len(p.Entries) != 0 {
		t.Fatalf("huge page: %+v %v", p, err)
	}
	if _, err := h.Entries(ctx, 2022, "", -1); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("page -1: %v", err)
	}
	if _, err := h.Entries(ctx, 1999, "", 1); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("1999: %v", err)
	}
	for _, q := range []string{"%", "_", `'; DROP TABLE publicity_entries; --`, "<script>"} {
		if p, err := h.Entries(ctx, 2022, q, 1); err != nil || p.Total != 0 {
			t.Fatalf("q %q: %+v %v", q, p, err)
		}
	}
	if _, err := h.Entries(ctx, 2022, "\xff", 1); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("invalid UTF-8 query: %v", err)
	}
}

func itoa(y int) string { return strconv.Itoa(y) }

// TestSearchNameEmployer imports a list that publishes names and employers
// and finds rows by part of each.
func TestSearchNameEmployer(t *testing.T) {
	h, _ := newHistory(t)
	ctx := context.Background()
	csv := "publicity_no,name,birth_ym,employer,total\n" +
		"202500001,张三,1980-01,北京某某科技有限公司,120.5\n" +
		"202500002,李四,1981-02,北京另一家公司,110\n" +
		"202500003,王五,1982-03,,110\n"
	res, err := h.Import(ctx, operator, 2025, 2, []byte(csv))
	if err != nil || res.Qualified != 3 || res.Cutoff.String() != "110.00" {
		t.Fatalf("import: %+v %v", res, err)
	}
	for q, want := range map[string]string{"李四": "202500002", "某某科技": "202500001", "202500003": "202500003"} {
		p, err := h.Entries(ctx, 2025, q, 1)
		if err != nil || p.Total != 1 || p.Entries[0].Number != want {
			t.Fatalf("q %s: %+v %v", q, p, err)
		}
	}
	if p, _ := h.Entries(ctx, 2025, "公司", 1); p.Total != 2 {
		t.Fatalf("公司: %d", p.Total)
	}
}

// TestMalformedRefused: each bad file is refused naming its line, and
// nothing is written.
func TestMalformedRefused(t *testing.T) {
	h, d := newHistory(t)
	ctx := context.Background()
	head := "publicity_no,birth_ym,total\n"
	cases := []struct {
		name, csv, want string
		quota           int
	}{
		{"bad number", head + "202500001,1980-01,120\n202500002,1980-01,12x.5\n", "第 3 行", 1},
		{"bad 公示编号", head + "202500001,1980-01,120\n202500003,1980-01,110\n", "第 3 行", 1},
		{"missing column", head + "202500001,1980-01,120\n202500002,1980-01\n", "第 3 行", 1},
		{"missing header column", "publicity_no,total\n202500001,120\n", "第 1 行", 1},
		{"invalid UTF-8", head + "202500001,1980-01,120\n202500002,1980-0\xff,110\n", "第 3 行", 1},
		{"bad birth month", head + "202500001,1980-13,120\n", "第 2 行", 1},
		{"not descending", head + "202500001,1980-01,110\n202500002,1980-01,120\n", "第 3 行", 1},
		{"sum differs", "publicity_no,birth_ym,employment,housing,education,study_deduction,work_residence_area,innovation,tax,age,honors,law_record,total\n" +
			"202500001,1980-01,70,10,15,0,0,0,0,20,0,0,116\n", "第 2 行", 1},
		{"quota disagrees", head + "202500001,1980-01,120\n202500002,1980-01,110\n", "不符", 1},
	}
	for _, c := range cases {
		_, err := h.Import(ctx, operator, 2025, c.quota, []byte(c.csv))
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	for _, table := range []string{"publicity_rounds", "publicity_entries"} {
		if n := count(t, d, table); n != 0 {
			t.Fatalf("%s has %d rows after refused imports", table, n)
		}
	}
}

// TestConcurrentImports: four imports of the same file at once store it
// once; every caller gets the round, exactly one of them as the importer.
func TestConcurrentImports(t *testing.T) {
	h, d := newHistory(t)
	b := readList(t, "2022")
	type out struct {
		res *publicity.ImportResult
		err error
	}
	ch := make(chan out, 4)
	for range 4 {
		go func() {
			res, err := h.Import(context.Background(), operator, 2022, 6000, b)
			ch <- out{res, err}
		}()
	}
	imported := 0
	for range 4 {
		o := <-ch
		if o.err != nil {
			t.Fatal(o.err)
		}
		if o.res.Qualified != 6006 || o.res.Cutoff.String() != "105.42" {
			t.Fatalf("%+v", o.res)
		}
		if o.res.Imported {
			imported++
		}
	}
	if imported != 1 || count(t, d, "publicity_entries") != 6006 || count(t, d, "publicity_rounds") != 1 {
		t.Fatalf("imported %d times, %d entries", imported, count(t, d, "publicity_entries"))
	}
}
