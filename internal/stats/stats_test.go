package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/rules"
)

// The hand-checked population (round 2026, statistics date 2025-12-31):
//
//	app person      sex birth       employer          status        total  education      housing  qualified
//	1   张一         M   1990-05-01  E1 朝阳 I small   final         90     bachelor+deg   owned    yes
//	2   李二         F   1985-03-10  E2 海淀 J large   final         105    master+deg     rented   yes
//	3   王三         F   1992-12-31  E2 海淀 J large   submitted     70*    college        rented   —
//	4   赵四         M   1980-01-01  E3 海淀 — —       draft         50*    none           none     —
//	5   钱五         M   1995-07-07  E1 朝阳 I small   final         80     bachelor+deg   dormitory no
//	6   孙六         F   1988-08-08  E2 海淀 J large   first_result  95     doctor+deg     owned    —
//
// (* the declaration's estimate: not yet scored.) Ages on 2025-12-31: 35,
// 40, 33, 45, 30, 37. Cross-check of run 1: app 1 education match and
// housing mismatch; app 2 education not_found; app 5 all items unavailable.
type fixture struct {
	db  *db.DB
	svc *Service
	clk *clock.Fake
}

var city = actor.Actor{UserID: 1, Login: "city", Roles: []actor.Role{actor.CityOfficer}}
var haidian = actor.Actor{UserID: 2, Login: "hd", Roles: []actor.Role{actor.DistrictOfficer}, District: "海淀区"}

func decl(birth, sex, edu string, degree bool, housing string) string {
	req := rules.CalculatorRequest{ApplicationYear: 2026, BirthDate: birth, Sex: sex, ResidencePermit: true,
		Education: rules.EducationInput{Level: edu, Diploma: edu != "none", Degree: degree}}
	if housing != "none" {
		req.Housing = []rules.HousingInput{{Kind: housing, From: "2020-01", To: "2025-12", District: "朝阳区", Registered: true}}
	}
	b, _ := json.Marshal(req)
	return string(b)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := dbtest.Open(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, clock.Beijing))
	ctx := context.Background()
	now := db.Micros(clk.Now())
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := d.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO rounds (id, year, rulebook, quota, created_at, updated_at) VALUES (1, 2026, $1, 2, $2, $2)`, rules.Latest().Version(), now)
	for i, e := range []struct{ name, district, industry, size string }{
		{"甲科技有限公司", "朝阳区", "I", "small"}, {"乙银行", "海淀区", "J", "large"}, {"丙工作室", "海淀区", "", ""}} {
		exec(`INSERT INTO employers (id, credit_code, name, district, address, legal_rep, status, industry, size, created_at, updated_at)
			VALUES ($1, $2, $3, $4, '北京市某区某路1号', '法人', 'verified', $5, $6, $7, $7)`, i+1, fmt.Sprintf("CC%d", i+1), e.name, e.district, e.industry, e.size, now)
	}
	apps := []struct {
		name, sex, birth string
		emp              int
		status           string
		run, score, est  int64
		edu              string
		degree           bool
		housing          string
	}{
		{"张一", "M", "1990-05-01", 1, "final", 1, 9000, 8000, "bachelor", true, "owned"},
		{"李二", "F", "1985-03-10", 2, "final", 1, 10500, 9000, "master", true, "rented"},
		{"王三", "F", "1992-12-31", 2, "submitted", 0, 0, 7000, "college", false, "rented"},
		{"赵四", "M", "1980-01-01", 3, "draft", 0, 0, 5000, "none", false, "none"},
		{"钱五", "M", "1995-07-07", 1, "final", 1, 8000, 7500, "bachelor", true, "dormitory"},
		{"孙六", "F", "1988-08-08", 2, "first_result", 1, 9500, 9500, "doctor", true, "owned"},
	}
	exec(`INSERT INTO check_runs (id, round_id, scope, mode, rulebook, status, created_at) VALUES (1, 1, 'round', 'apply', $1, 'applied', $2)`,
		rules.Latest().Version(), now)
	for i, a := range apps {
		id := i + 1
		exec(`INSERT INTO users (id, login, zone, password_hash, password_changed_at, created_at, updated_at) VALUES ($1, $2, 'internet', 'x', 0, $3, $3)`,
			100+id, fmt.Sprintf("u%d", id), now)
		exec(`INSERT INTO persons (id, user_id, id_enc, id_idx, name, birth_date, sex, created_at) VALUES ($1, $2, 'e', $3, $4, $5, $6, $7)`,
			id, 100+id, fmt.Sprintf("idx%d", id), a.name, a.birth, a.sex, now)
		dj := decl(a.birth, a.sex, a.edu, a.degree, a.housing)
		exec(`INSERT INTO applications (id, round_id, person_id, employer_id, status, declaration, estimate, score_run, score, created_at, updated_at)
			VALUES ($1, 1, $1, $2, $3, $4, $5, $6, $7, $8, $8)`, id, a.emp, a.status, dj, a.est, a.run, a.score, now)
		if a.run != 0 {
			oc := `[]`
			switch id {
			case 1:
				oc = `[{"item":"education","outcome":"match"},{"item":"housing","outcome":"mismatch"}]`
			case 2:
				oc = `[{"item":"education","outcome":"not_found"}]`
			case 6:
				oc = `[{"item":"education","outcome":"match"},{"item":"housing","outcome":"match"}]`
			case 5:
				oc = `[{"item":"eligibility","outcome":"unavailable"},{"item":"employment","outcome":"unavailable"},{"item":"housing","outcome":"unavailable"},{"item":"education","outcome":"unavailable"},{"item":"tax","outcome":"unavailable"},{"item":"innovation","outcome":"unavailable"},{"item":"honors","outcome":"unavailable"}]`
			}
			exec(`INSERT INTO check_scores (run_id, application_id, total, eligible, verified, outcomes, scored_at) VALUES (1, $1, $2, TRUE, $3, $4, $5)`,
				id, a.score, dj, oc, now)
		}
	}
	exec(`INSERT INTO rankings (id, round_id, year, quota, status, ranked, qualified, cutoff, tied_at_line, digest, frozen_at, created_by, created_at)
		VALUES (1, 1, 2026, 2, 'draft', 3, 2, 9000, 0, 'd', $1, 1, $1)`, now)
	for i, e := range []struct {
		app int
		q   bool
	}{{2, true}, {1, true}, {5, false}} {
		exec(`INSERT INTO ranking_entries (ranking_id, seq, application_id, person_id, employer_id, rank_no, total, birth_ym, qualified)
			VALUES (1, $1, $2, $2, 1, $1, 0, 199001, $3)`, i+1, e.app, e.q)
	}
	exec(`UPDATE rankings SET status = 'committed' WHERE id = 1`)
	return &fixture{db: d, svc: New(d, audit.New(d, clk), clk), clk: clk}
}

func (f *fixture) run(t *testing.T, by actor.Actor, q Query) *Result {
	t.Helper()
	res, err := f.svc.Run(context.Background(), by, q)
	if err != nil {
		t.Fatalf("Run(%+v): %v", q, err)
	}
	return res
}

// counts is a result's counts by the cells' codes joined with "|".
func counts(r *Result) map[string]int {
	m := map[string]int{}
	for _, row := range r.Rows {
		m[strings.Join(row.Keys, "|")] = row.Count
	}
	return m
}

func eqCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestEveryDimensionAgainstTheHandCheckedPopulation(t *testing.T) {
	f := newFixture(t)
	by := func(dim string) map[string]int { return counts(f.run(t, city, Query{Dims: []string{dim}})) }
	eqCounts(t, "round", by("round"), map[string]int{"2026": 6})
	eqCounts(t, "district", by("district"), map[string]int{"朝阳区": 2, "海淀区": 4})
	eqCounts(t, "employer", by("employer"), map[string]int{"1": 2, "2": 3, "3": 1})
	eqCounts(t, "industry", by("industry"), map[string]int{"": 1, "I": 2, "J": 3})
	eqCounts(t, "employer_size", by("employer_size"), map[string]int{"": 1, "small": 2, "large": 3})
	eqCounts(t, "status", by("status"), map[string]int{"draft": 1, "submitted": 1, "first_result": 1, "final": 3})
	eqCounts(t, "sex", by("sex"), map[string]int{"M": 3, "F": 3})
	eqCounts(t, "age_band", by("age_band"), map[string]int{"30_34": 2, "35_39": 2, "40_44": 1, "ge45": 1})
	eqCounts(t, "education", by("education"), map[string]int{"none": 1, "college": 1, "bachelor": 2, "master": 1, "doctor": 1})
	eqCounts(t, "housing_kind", by("housing_kind"), map[string]int{"none": 1, "owned": 2, "rented": 2, "dormitory": 1})
	eqCounts(t, "qualified", by("qualified"), map[string]int{"unranked": 3, "yes": 2, "no": 1})
	eqCounts(t, "band:total", by("band:total"), map[string]int{"50": 1, "70": 1, "80": 1, "90": 2, "100": 1})
	// Education points: 本科+学士 15, 硕士+学位 26, 博士+学位 37, 专科 10.5,
	// none 0 (docs/DOMAIN.md): bands of 5 from -30.
	eqCounts(t, "band:education", by("band:education"), map[string]int{"0": 1, "10": 1, "15": 2, "25": 1, "35": 1})
	eqCounts(t, "check:education", by("check:education"), map[string]int{"unchecked": 2, "match": 2, "unavailable": 1, "not_found": 1})
	eqCounts(t, "check:real_estate", by("check:real_estate"), map[string]int{"unchecked": 3, "match": 1, "unavailable": 1, "mismatch": 1})
	// Labels are Chinese.
	r := f.run(t, city, Query{Dims: []string{"status"}})
	if r.Rows[len(r.Rows)-1].Labels[0] != "审核完成" || r.Dims[0].Label != "申请状态" {
		t.Errorf("labels: %+v %+v", r.Rows, r.Dims)
	}
}

func TestEveryMeasureAgainstTheHandCheckedPopulation(t *testing.T) {
	f := newFixture(t)
	r := f.run(t, city, Query{Measures: []string{"count", "sum:total", "mean:total", "min:total", "max:total", "p50:total", "p90:total",
		"mean:education", "max:education", "min:education", "sum:education", "p10:education"}})
	// Totals 90, 105, 70, 50, 80, 95 → sorted 50 70 80 90 95 105.
	// Education 15, 26, 10.5, 0, 15, 37 → sorted 0 10.5 15 15 26 37.
	want := []float64{6, 490, 81.67, 50, 105, 80, 105, 17.25, 37, 0, 103.5, 0}
	for i, w := range want {
		if got := r.Total.Values[i]; got.Null || math.Abs(got.N-w) > 1e-9 {
			t.Errorf("%s = %+v, want %v", r.Measures[i].Name, got, w)
		}
	}
	// Per cell: 朝阳区 has 90 and 80.
	r = f.run(t, city, Query{Dims: []string{"district"}, Measures: []string{"mean:total", "p50:total", "count"}})
	if c := r.Rows[0]; c.Keys[0] != "朝阳区" || c.Values[0].N != 85 || c.Values[1].N != 80 || c.Values[2].N != 2 {
		t.Errorf("朝阳区: %+v", c)
	}
}

func TestFiltersAndThreeDimensions(t *testing.T) {
	f := newFixture(t)
	r := f.run(t, city, Query{Dims: []string{"district", "sex", "status"},
		Filters: map[string][]string{"status": {"final", "first_result"}, "round": {"2026"}}})
	eqCounts(t, "district×sex×status", counts(r), map[string]int{"朝阳区|M|final": 2, "海淀区|F|final": 1, "海淀区|F|first_result": 1})
	if r.Total.Count != 4 {
		t.Errorf("total %d, want 4", r.Total.Count)
	}
}

func TestADistrictOfficerSeesTheirDistrictOnly(t *testing.T) {
	f := newFixture(t)
	r := f.run(t, haidian, Query{Dims: []string{"district"}})
	eqCounts(t, "haidian", counts(r), map[string]int{"海淀区": 4})
	r = f.run(t, haidian, Query{Dims: []string{"sex"}, Filters: map[string][]string{"district": {"朝阳区"}}})
	if r.Total.Count != 0 || len(r.Rows) != 0 {
		t.Errorf("another district's filter gave %+v", r)
	}
	_, err := f.svc.Run(context.Background(), actor.Actor{Roles: []actor.Role{actor.Applicant}}, Query{})
	if !apperr.Is(err, apperr.Forbidden) {
		t.Errorf("applicant: %v", err)
	}
	// A drill-down into another district's cell is refused and audited.
	_, err = f.svc.Cases(context.Background(), haidian, Query{Dims: []string{"district"}}, []string{"朝阳区"}, 1)
	if !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("drill-down into 朝阳区: %v", err)
	}
	var denied int
	if err := f.db.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'stats.drilldown' AND outcome = 'denied'`).Scan(&denied); err != nil || denied != 1 {
		t.Errorf("denied drill-downs audited: %d %v", denied, err)
	}
}

func TestBadQueriesAreFieldErrorsInChinese(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		q     Query
		field string
		says  string
	}{
		{Query{Dims: []string{"colour"}}, "dims", "没有名为“colour”的统计维度"},
		{Query{Dims: []string{"district", "sex", "status", "round"}}, "dims", "一次最多按3个维度分组，您选了4个"},
		{Query{Dims: []string{"sex", "sex"}}, "dims", "选了两次"},
		{Query{Measures: []string{"median:total"}}, "measures", "没有名为“median:total”的统计指标"},
		{Query{Measures: []string{"p100:total"}}, "measures", "p100:total"},
		{Query{Measures: []string{"mean:height"}}, "measures", "mean:height"},
		{Query{Filters: map[string][]string{"district": {"火星区"}}}, "f.district", "“火星区”不是维度“区”的取值"},
		{Query{Filters: map[string][]string{"planet": {"x"}}}, "f.planet", "没有这个维度"},
	} {
		_, err := f.svc.Run(context.Background(), city, c.q)
		ae := apperr.As(err)
		if ae == nil || ae.Code != apperr.Invalid {
			t.Errorf("%+v: %v", c.q, err)
			continue
		}
		found := false
		for _, fe := range ae.Fields {
			found = found || (fe.Field == c.field && strings.Contains(fe.Message, c.says))
		}
		if !found {
			t.Errorf("%+v: fields %+v, want %s saying %q", c.q, ae.Fields, c.field, c.says)
		}
	}
}

func TestDrillDownListsTheCellAndAuditsEachRead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	page, err := f.svc.Cases(ctx, city, Query{Dims: []string{"district", "status"}}, []string{"海淀区", "final"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 1 || len(page.Cases) != 1 || page.Cases[0].Name != "李二" || page.Cases[0].Total != 105 || page.Cases[0].Employer != "乙银行" {
		t.Fatalf("cell 海淀区/final: %+v", page)
	}
	if err := f.svc.audit.FlushReads(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := f.db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = $1 AND object_id = '2'`, audit.ReadStatsCell).Scan(&n); err != nil || n != 1 {
		t.Errorf("audited reads of person 2: %d %v", n, err)
	}
	if _, err := f.svc.Cases(ctx, city, Query{Dims: []string{"district"}}, []string{"火星区"}, 1); apperr.As(err) == nil || apperr.As(err).Code != apperr.Invalid {
		t.Errorf("unknown cell: %v", err)
	}
}

func TestAFigureMovesWhenAnApplicationChanges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := f.run(t, city, Query{Measures: []string{"count", "sum:total"}, Filters: map[string][]string{"status": {"final"}}})
	if before.Total.Values[1].N != 275 {
		t.Fatalf("before: %+v", before.Total)
	}
	// Another writer files app 6 as final with a new score, an hour later.
	f.clk.Advance(time.Hour)
	if _, err := f.db.Exec(ctx, `UPDATE applications SET status = 'final', score = 9900, updated_at = $1 WHERE id = 6`, db.Micros(f.clk.Now())); err != nil {
		t.Fatal(err)
	}
	after := f.run(t, city, Query{Measures: []string{"count", "sum:total"}, Filters: map[string][]string{"status": {"final"}}})
	if after.Total.Count != 4 || after.Total.Values[1].N != 374 {
		t.Errorf("after: %+v", after.Total)
	}
	if !after.AsOf.Equal(f.clk.Now()) {
		t.Errorf("as of %v, want %v", after.AsOf, f.clk.Now())
	}
	// An employer's new industry moves its applications.
	f.clk.Advance(time.Minute)
	if _, err := f.db.Exec(ctx, `UPDATE employers SET industry = 'M', updated_at = $1 WHERE id = 3`, db.Micros(f.clk.Now())); err != nil {
		t.Fatal(err)
	}
	eqCounts(t, "industry after", counts(f.run(t, city, Query{Dims: []string{"industry"}})), map[string]int{"I": 2, "J": 3, "M": 1})
	// A superseded ranking takes its qualified flags with it.
	f.clk.Advance(time.Minute)
	if _, err := f.db.Exec(ctx, `INSERT INTO ranking_supersessions (ranking_id, reopening_id, superseded_by, superseded_at) VALUES (1, 1, 1, 0)`); err != nil {
		t.Fatal(err)
	}
	eqCounts(t, "qualified after", counts(f.run(t, city, Query{Dims: []string{"qualified"}})), map[string]int{"unranked": 6})
}

func TestSuppressionCannotBeUndoneFromTheTotals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	q := Query{Dims: []string{"district", "sex"}, Measures: []string{"count", "sum:total", "mean:total"}}
	res, err := f.svc.RunOut(ctx, city, q, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Cells: 朝阳区|M 2 (hidden), 海淀区|F 3, 海淀区|M 1 (hidden).
	shown := 0
	var shownSum float64
	for _, r := range res.Rows {
		if r.Count > 0 && r.Count < 3 {
			t.Errorf("a small cell shows its count: %+v", r)
		}
		if r.Hidden {
			for _, v := range r.Values {
				if !v.Hidden {
					t.Errorf("a hidden cell shows a value: %+v", r)
				}
			}
			continue
		}
		shown += r.Count
		shownSum += r.Values[1].N
	}
	if res.Total.Count != shown || res.Total.Values[1].N != shownSum {
		t.Errorf("total %+v is not the sum of the cells shown (%d, %v): the hidden cells could be computed back", res.Total, shown, shownSum)
	}
	if shown != 3 || shownSum != 270 || res.Total.Values[2].N != 90 {
		t.Errorf("shown %d %v, total %+v", shown, shownSum, res.Total)
	}
	// The generic Suppress does the same for a result built elsewhere.
	exact := f.run(t, city, Query{Dims: []string{"status"}})
	sup := Suppress(exact, 2)
	if sup.Total.Count != 3 || sup.Suppressed != 2 {
		t.Errorf("Suppress: total %+v", sup.Total)
	}
	if exact.Total.Count != 6 {
		t.Errorf("Suppress changed its input: %+v", exact.Total)
	}
	// Rows that are separate figures (not a partition of the total) keep
	// the total: nothing can be subtracted from it.
	figures := &Result{Measures: []MeasureInfo{{Name: "count", Unit: "人"}},
		Rows:  []Row{{Keys: []string{"applicants"}, Count: 40, Values: []Value{{N: 40}}}, {Keys: []string{"fraud"}, Count: 2, Values: []Value{{N: 2}}}},
		Total: Row{Count: 40, Values: []Value{{N: 40}}}}
	if sf := Suppress(figures, 5); sf.Total.Count != 40 || !sf.Rows[1].Hidden || sf.Rows[0].Hidden {
		t.Errorf("figures: %+v", sf)
	}
	// The flat form and the files show "<3".
	fl := Flatten(res)
	if fl.Rows[0]["count"] != "<3" || fl.SuppressedBelow != 3 {
		t.Errorf("flat: %+v", fl.Rows[0])
	}
	var csv bytes.Buffer
	if err := WriteCSV(&csv, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "<3") || !strings.Contains(csv.String(), "合计（不含小于3的格）") {
		t.Errorf("csv:\n%s", csv.String())
	}
}

func TestTheExcelFileReadsBack(t *testing.T) {
	f := newFixture(t)
	res, err := f.svc.RunOut(context.Background(), city, Query{Dims: []string{"district"}, Measures: []string{"count", "mean:total"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteExcel(&buf, res); err != nil {
		t.Fatal(err)
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = x.Close() }()
	rows, err := x.GetRows("申报统计")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"区", "人数（人）", "总积分平均值（分）"}, {"朝阳区", "2", "85.00"}, {"海淀区", "4", "80.00"}, {"合计", "6", "81.67"}}
	for i, w := range want {
		if i >= len(rows) || strings.Join(rows[i], "|") != strings.Join(w, "|") {
			t.Errorf("row %d: %v, want %v", i+1, rows, w)
		}
	}
	panes, err := x.GetPanes("申报统计")
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("panes %+v %v", panes, err)
	}
}

// The same question on unchanged data is answered from the cache; the
// district scope and the threshold are part of the question.
func TestRepeatedQueriesShareAnAnswerUntilTheDataChanges(t *testing.T) {
	f := newFixture(t)
	q := Query{Dims: []string{"district"}, Measures: []string{"count", "p90:total"}}
	a := f.run(t, city, q)
	if b := f.run(t, city, q); b != a {
		t.Error("the same query on the same data was computed again")
	}
	if h := f.run(t, haidian, q); h == a || h.Total.Count == a.Total.Count {
		t.Errorf("a district officer got the city's answer: %d of %d", h.Total.Count, a.Total.Count)
	}
	out, err := f.svc.RunOut(context.Background(), city, q, 5)
	if err != nil || out == a {
		t.Errorf("the suppressed answer is the exact one (%v)", err)
	}
	// A new snapshot is a new generation: the answer is computed again.
	if err := f.svc.Cube.Refresh(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if c := f.run(t, city, q); c == a || c.Total.Count != a.Total.Count {
		t.Errorf("after a reload: same pointer %v, total %d vs %d", c == a, c.Total.Count, a.Total.Count)
	}
}
