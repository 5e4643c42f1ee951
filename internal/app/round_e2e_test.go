package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/platform/clock"
	"jifen/internal/publicity/proof"
	"jifen/internal/ranking"
	"jifen/internal/round"
	"jifen/internal/rules"
	"jifen/internal/synth"
)

// TestWholeRoundEndToEnd runs one annual round through the real
// application: a synthetic population, the cross-check against the
// simulated agencies, the discrepancies resolved, a 复查 decided after an
// in-person check and approved by a second officer, the other 复查
// requests decided, a person banned through the fraud register, the
// finalize schedule, the freeze, the ranking and its commit, and the
// settlement list. Every figure of the committed ranking is then computed
// again from the applications, independently of internal/ranking.
func TestWholeRoundEndToEnd(t *testing.T) {
	a := apptest.Start(t)
	ctx := context.Background()
	rd := a.SynthRound(160, 16, 11, 0.3)
	roundPath := "/api/v1/office/rounds/" + strconv.FormatInt(rd.ID, 10)
	cityUser1 := a.CreateUser("city-one", account.CityOfficer)
	a.CreateUser("city-two", account.CityOfficer)
	login := func(who string) *apptest.Client {
		c := a.Client(a.Office)
		a.LoginStaff(c, who, apptest.Password)
		return c
	}
	city1 := login("city-one")

	// 1. The cross-check of every filed application.
	if r := city1.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}}); r.Status != 303 {
		t.Fatalf("start the check: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(90*time.Second, func() bool {
		runs, err := a.Check.Runs(ctx, rd.ID, 1)
		return err == nil && len(runs) == 1 && runs[0].Status == "applied"
	})
	runs, err := a.Check.Runs(ctx, rd.ID, 1)
	if err != nil || len(runs) != 1 || runs[0].Status != "applied" {
		t.Fatalf("check run: %+v %v", runs, err)
	}
	run := runs[0].ID
	if n := countOf(t, a, `SELECT count(*) FROM applications WHERE round_id = $1 AND status IN ('submitted', 'checking')`, rd.ID); n != 0 {
		t.Fatalf("%d applications still wait for the check", n)
	}

	// 2. Discrepancies: each is accepted (the agencies' record stands).
	cityActor := cityUser1.ActorAt("test", "")
	var open []int64
	rows, err := a.DB.Query(ctx, `SELECT id FROM discrepancies WHERE status = 'open' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		open = append(open, id)
	}
	rows.Close()
	if len(open) == 0 {
		t.Fatal("the check found no discrepancy in a population with 30 % misstatements")
	}
	for _, id := range open {
		if err := a.Cases.Discrepancies.Accept(actor.With(ctx, cityActor), cityActor, id, "以部门登记数据为准"); err != nil {
			t.Fatalf("accept discrepancy %d: %v", id, err)
		}
	}

	// 3. The 复查 window opens: one applicant asks to re-examine housing.
	win, _ := rd.Window(round.Review)
	a.Clock.Set(win.OpensAt.Add(time.Hour))
	city1 = login("city-one") // the session ended with the months that passed
	type candidate struct {
		app, person, employer int64
		district, login       string
		score                 int64
		verified              string
		book                  string
	}
	var cands []candidate
	rows, err = a.DB.Query(ctx, `SELECT x.id, x.person_id, x.employer_id, e.district, u.login, x.score, s.verified, c.rulebook
		FROM applications x JOIN persons p ON p.id = x.person_id JOIN users u ON u.id = p.user_id JOIN employers e ON e.id = x.employer_id
		JOIN check_scores s ON s.run_id = x.score_run AND s.application_id = x.id JOIN check_runs c ON c.id = x.score_run
		WHERE x.round_id = $1 AND x.status = 'first_result' AND x.score_run = $2 AND x.score_eligible ORDER BY x.id`, rd.ID, run)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.app, &c.person, &c.employer, &c.district, &c.login, &c.score, &c.verified, &c.book); err != nil {
			t.Fatal(err)
		}
		cands = append(cands, c)
	}
	rows.Close()
	corrected := []rules.HousingInput{{Kind: "owned", From: "2012-01", To: "2025-12", District: "朝阳区"}}
	var rv candidate
	var want int64
	for _, c := range cands {
		var v rules.CalculatorRequest
		if err := json.Unmarshal([]byte(c.verified), &v); err != nil {
			t.Fatal(err)
		}
		v.Housing = corrected
		if s := int64(scoreOf(t, c.book, v).Total); s != c.score {
			rv, want = c, s
			break
		}
	}
	if rv.app == 0 {
		t.Fatalf("no first result among %d whose housing correction changes the score", len(cands))
	}
	applicant := a.Client(a.Internet)
	if r := applicant.LoginAPI(rv.login, synth.Password); r.Status != 200 {
		t.Fatalf("applicant login: %d %s", r.Status, r.Body)
	}
	if r := applicant.PostJSON("/api/v1/application/review", map[string]any{"indicators": []string{"housing"},
		"reason": "本人名下自有住房，房产证已交单位"}); r.Status != 200 {
		t.Fatalf("review request: %d %s", r.Status, r.Body)
	}
	employer := a.Client(a.Internet)
	if r := employer.LoginAPI(fmt.Sprintf("e%06d", rv.employer), synth.Password); r.Status != 200 {
		t.Fatalf("employer login: %d %s", r.Status, r.Body)
	}
	if r := employer.PostJSON(fmt.Sprintf("/api/v1/employer/applications/%d/forward-review", rv.app),
		map[string]string{"note": "已核对房产证原件"}); r.Status != 200 {
		t.Fatalf("forward: %d %s", r.Status, r.Body)
	}

	// 4. Two officers of the employer's district: one works the case.
	a.CreateUserIn(rv.district, "dist-one", account.DistrictOfficer)
	a.CreateUserIn(rv.district, "dist-two", account.DistrictOfficer)
	one, two := login("dist-one"), login("dist-two")
	base := fmt.Sprintf("/api/v1/office/reviews/%d", rv.app)
	if r := one.PostJSON(fmt.Sprintf("/api/v1/office/cases/%d/claim", rv.app), nil); r.Status != 200 {
		t.Fatalf("claim: %d %s", r.Status, r.Body)
	}
	if r := two.PostJSON(fmt.Sprintf("/api/v1/office/cases/%d/claim", rv.app), nil); r.Status != 409 {
		t.Fatalf("second claim: %d %s", r.Status, r.Body)
	}
	if r := one.PostJSON(base+"/receive", nil); r.Status != 200 {
		t.Fatalf("receive: %d %s", r.Status, r.Body)
	}
	// The in-person check: a slot, required, booked, attended.
	day := clock.BeijingDay(a.Clock.Now()).AddDate(0, 0, 2).Format(time.DateOnly)
	var slot struct{ ID int64 }
	if r := one.PostJSON("/api/v1/office/inspection-slots", map[string]any{"date": day, "half": "am", "capacity": 2}); r.Status != 201 {
		t.Fatalf("slot: %d %s", r.Status, r.Body)
	} else {
		r.JSON(&slot)
	}
	var cs caseAnswer
	one.Get(base).JSON(&cs)
	if r := one.PostJSON(base+"/inspection", map[string]any{"indicators": []string{"housing"}, "note": "请携带房产证原件",
		"version": cs.Version}); r.Status != 200 {
		t.Fatalf("require the in-person check: %d %s", r.Status, r.Body)
	}
	if r := applicant.PostJSON("/api/v1/application/review/booking", map[string]any{"slot_id": slot.ID}); r.Status != 200 {
		t.Fatalf("booking: %d %s", r.Status, r.Body)
	}
	body, ct := recordForm(t, "attended", "核验房产证原件，自有住房属实", []byte("%PDF-1.7 现场审核"))
	if r := one.Do("POST", base+"/inspection/record", body, map[string]string{"Content-Type": ct, "Origin": one.Base,
		"Sec-Fetch-Site": "same-origin"}); r.Status != 200 {
		t.Fatalf("record the check: %d %s", r.Status, r.Body)
	}
	one.Get(base).JSON(&cs)
	r := one.PostJSON(base+"/decisions", map[string]any{"indicator": "housing", "outcome": "upheld", "reason": "现场核验自有住房属实",
		"version": cs.Version, "corrected": map[string]any{"housing": corrected}})
	r.JSON(&cs)
	if r.Status != 200 || cs.Status != "approval" {
		t.Fatalf("decision: %d %s", r.Status, r.Body)
	}
	if r := one.PostJSON(base+"/score-change/approve", map[string]string{}); r.Status != 403 {
		t.Fatalf("own approval: %d %s", r.Status, r.Body)
	}
	if r := two.PostJSON(base+"/score-change/approve", map[string]string{}); r.Status != 200 {
		t.Fatalf("approval: %d %s", r.Status, r.Body)
	}
	if st, sc := statusScore(t, a, rv.app); st != "final" || sc != want {
		t.Fatalf("after the 复查: %s %d, want final %d", st, sc, want)
	}

	// 5. The other 复查 requests (synthetic) are decided too: the agencies'
	// records stand. Until then the round cannot be frozen.
	if r := city1.PostJSON(roundPath+"/freeze", nil); r.Status != 409 || !strings.Contains(r.Body, "此前申请人仍可申请复查") {
		t.Fatalf("freeze in the 复查 window: %d %s", r.Status, r.Body)
	}
	type pending struct {
		app, employer int64
		status        string
		indicators    string
	}
	var pend []pending
	rows, err = a.DB.Query(ctx, `SELECT x.id, x.employer_id, q.status, q.indicators FROM applications x
		JOIN review_requests q ON q.application_id = x.id WHERE x.round_id = $1 AND x.status = 'review_requested' ORDER BY x.id`, rd.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.app, &p.employer, &p.status, &p.indicators); err != nil {
			t.Fatal(err)
		}
		pend = append(pend, p)
	}
	rows.Close()
	for _, p := range pend {
		if p.status == "requested" {
			op := a.Client(a.Internet)
			op.LoginAPI(fmt.Sprintf("e%06d", p.employer), synth.Password)
			if r := op.PostJSON(fmt.Sprintf("/api/v1/employer/applications/%d/forward-review", p.app),
				map[string]string{"note": "转交"}); r.Status != 200 {
				t.Fatalf("forward %d: %d %s", p.app, r.Status, r.Body)
			}
		}
		b := fmt.Sprintf("/api/v1/office/reviews/%d", p.app)
		if r := city1.PostJSON(fmt.Sprintf("/api/v1/office/cases/%d/claim", p.app), nil); r.Status != 200 {
			t.Fatalf("claim %d: %d %s", p.app, r.Status, r.Body)
		}
		if r := city1.PostJSON(b+"/receive", nil); r.Status != 200 {
			t.Fatalf("receive %d: %d %s", p.app, r.Status, r.Body)
		}
		var codes []string
		if err := json.Unmarshal([]byte(p.indicators), &codes); err != nil {
			codes = strings.Split(p.indicators, ",")
		}
		for _, code := range codes {
			var c caseAnswer
			city1.Get(b).JSON(&c)
			if r := city1.PostJSON(b+"/decisions", map[string]any{"indicator": code, "outcome": "rejected",
				"reason": "所附材料不能证明申报情况", "version": c.Version}); r.Status != 200 {
				t.Fatalf("decide %d %s: %d %s", p.app, code, r.Status, r.Body)
			}
		}
		if st, _ := statusScore(t, a, p.app); st != "final" {
			t.Fatalf("application %d after its rejected 复查: %s", p.app, st)
		}
	}

	// 6. A person is banned through the fraud register, with four eyes.
	var bannedApp, bannedPerson int64
	if err := a.DB.QueryRow(ctx, `SELECT id, person_id FROM applications WHERE round_id = $1 AND status = 'final' AND score_eligible
		AND id <> $2 ORDER BY score DESC, id LIMIT 1`, rd.ID, rv.app).Scan(&bannedApp, &bannedPerson); err != nil {
		t.Fatal(err)
	}
	p, err := a.Cases.Persons.Get(ctx, bannedPerson)
	if err != nil {
		t.Fatal(err)
	}
	idNumber, err := a.Cases.Persons.FullIDNumber(ctx, cityActor, p, "测试")
	if err != nil {
		t.Fatal(err)
	}
	var entry struct{ ID int64 }
	if r := city1.PostJSON("/api/v1/office/fraud", map[string]any{"kind": "person", "id_number": idNumber, "item": "education",
		"what": "学历证书系伪造，学信网无记录", "decided_on": clock.BeijingDay(a.Clock.Now()).Format(time.DateOnly)}); r.Status != 201 {
		t.Fatalf("fraud proposal: %d %s", r.Status, r.Body)
	} else {
		r.JSON(&entry)
	}
	city2 := login("city-two")
	if r := city2.PostJSON(fmt.Sprintf("/api/v1/office/fraud/%d/approve", entry.ID), nil); r.Status != 200 {
		t.Fatalf("fraud approval: %d %s", r.Status, r.Body)
	}

	// 7. The window closes: the first results nobody questioned are final.
	a.Clock.Set(win.ClosesAt.Add(time.Minute))
	city1 = login("city-one")
	if r := city1.PostJSON(roundPath+"/freeze", nil); r.Status != 409 || !strings.Contains(r.Body, "尚未审核完成") {
		t.Fatalf("freeze before the first results are final: %d %s", r.Status, r.Body)
	}
	if err := a.RunSchedule(ctx, "review_finalize"); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, a, `SELECT count(*) FROM applications WHERE round_id = $1 AND status IN ('first_result', 'review_requested')`,
		rd.ID); n != 0 {
		t.Fatalf("%d applications not final after the window", n)
	}

	// 8. Freeze, what-if, draft, commit (sessions renewed after the jump).
	city1, city2 = login("city-one"), login("city-two")
	if r := city1.PostJSON(roundPath+"/freeze", nil); r.Status != 200 {
		t.Fatalf("freeze: %d %s", r.Status, r.Body)
	}
	// After the freeze no score changes: a new cross-check is refused, and so
	// is a 复查 request.
	if r := city1.PostForm("/office/check/runs", url.Values{"round": {strconv.FormatInt(rd.ID, 10)}, "kind": {"rerun"},
		"reason": {"冻结后再比对一次"}}); r.Status != 400 || !strings.Contains(r.Body, "已冻结，不能再比对") {
		t.Fatalf("a check run after the freeze: %d", r.Status)
	}
	if r := applicant.PostJSON("/api/v1/application/review", map[string]any{"indicators": []string{"age"}, "reason": "再次复查"}); r.Status < 400 {
		t.Fatalf("review request after the freeze: %d %s", r.Status, r.Body)
	}
	const quota = 12
	var o ranking.Outcome
	city1.Get(fmt.Sprintf("%s/ranking/what-if?quota=%d", roundPath, quota)).JSON(&o)
	var draft, committed ranking.Summary
	if r := city2.PostJSON(roundPath+"/ranking-draft", map[string]int{"quota": quota}); r.Status != 200 {
		t.Fatalf("draft: %d %s", r.Status, r.Body)
	} else {
		r.JSON(&draft)
	}
	if r := city1.PostJSON(roundPath+"/ranking-commit", nil); r.Status != 200 {
		t.Fatalf("commit: %d %s", r.Status, r.Body)
	} else {
		r.JSON(&committed)
	}

	// 9. Every figure again, from the applications.
	type row struct {
		app, total int64
		birth      string
	}
	var pop []row
	rows, err = a.DB.Query(ctx, `SELECT x.id, x.score, p.birth_date FROM applications x JOIN persons p ON p.id = x.person_id
		WHERE x.round_id = $1 AND x.status IN ('final', 'published') AND x.score_eligible AND x.person_id <> $2`, rd.ID, bannedPerson)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.app, &x.total, &x.birth); err != nil {
			t.Fatal(err)
		}
		pop = append(pop, x)
	}
	rows.Close()
	slices.SortFunc(pop, func(x, y row) int {
		if x.total != y.total {
			return int(y.total - x.total)
		}
		if c := strings.Compare(x.birth[:7], y.birth[:7]); c != 0 {
			return c
		}
		return int(x.app - y.app)
	})
	cutoff := pop[quota-1].total
	qualified := 0
	for _, x := range pop {
		if x.total >= cutoff {
			qualified++
		}
	}
	if committed.Status != "committed" || committed.Ranked != len(pop) || int64(committed.Cutoff) != cutoff ||
		committed.Qualified != qualified || committed.Excluded != 1 || committed.Digest != draft.Digest ||
		o.Cutoff != committed.Cutoff || o.Qualified != qualified || o.Ranked != len(pop) || !o.Frozen {
		t.Fatalf("committed %+v, what-if %+v; recomputed: ranked %d, cutoff %d, qualified %d", committed, o, len(pop), cutoff, qualified)
	}
	res, _, err := a.Ranking.Committed(ctx, rd.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range res.Entries {
		higher := 0
		for _, x := range pop {
			if x.total > int64(e.Total) {
				higher++
			}
		}
		if e.ApplicationID != pop[i].app || int64(e.Total) != pop[i].total || e.Rank != higher+1 ||
			e.Qualified != (i < qualified) || (e.Qualified && e.PublicityNo != fmt.Sprintf("2026%05d", i+1)) {
			t.Fatalf("entry %d: %+v, want application %d total %d rank %d", i, e, pop[i].app, pop[i].total, higher+1)
		}
		if e.ApplicationID == rv.app && int64(e.Total) != want {
			t.Fatalf("the re-examined application is ranked with %d, not its new score %d", e.Total, want)
		}
	}
	// The work queue finds an application by its 公示编号 (office only).
	var q struct {
		Page struct {
			Items []struct{ ID int64 } `json:"items"`
		} `json:"page"`
	}
	if r := city1.Get("/api/v1/office/queue?status=all&q=" + res.Entries[0].PublicityNo); r.Status != 200 {
		t.Fatalf("queue search by 公示编号: %d %s", r.Status, r.Body)
	} else if r.JSON(&q); len(q.Page.Items) != 1 || q.Page.Items[0].ID != res.Entries[0].ApplicationID {
		t.Fatalf("queue search by 公示编号 %s: %s", res.Entries[0].PublicityNo, r.Body)
	}
	if n := countOf(t, a, `SELECT count(*) FROM ranking_exclusions WHERE application_id = $1 AND reason LIKE '%虚假材料%'`, bannedApp); n != 1 {
		t.Fatalf("the banned person's application is not excluded with the reason: %d", n)
	}

	// 10. Nothing of the ranking leaks to the applicant before publication;
	// the final score is there.
	applicant = a.Client(a.Internet)
	applicant.LoginAPI(rv.login, synth.Password)
	me := applicant.Get("/me")
	wantScore := rules.Points(want).String()
	if me.Status != 200 || !strings.Contains(me.Body, "最终积分") || !strings.Contains(me.Body, wantScore) {
		t.Fatalf("applicant's page: %d", me.Status)
	}
	api := applicant.Get("/api/v1/application")
	for _, leak := range []string{"排名第", "名次", "分数线", "公示编号", "2026000", "取得落户资格", "\"rank", "cutoff", "qualified"} {
		if strings.Contains(me.Body, leak) || strings.Contains(api.Body, leak) {
			t.Errorf("%q shows on the applicant's page or API before publication", leak)
		}
	}
	if !strings.Contains(api.Body, `"final_score":`+wantScore) {
		t.Errorf("final score in the API: %s", api.Body)
	}

	// The banned applicant's statement says why they are not ranked.
	var bannedLogin string
	if err := a.DB.QueryRow(ctx, `SELECT u.login FROM persons p JOIN users u ON u.id = p.user_id WHERE p.id = $1`,
		bannedPerson).Scan(&bannedLogin); err != nil {
		t.Fatal(err)
	}
	bc := a.Client(a.Internet)
	bc.LoginAPI(bannedLogin, synth.Password)
	if r := bc.Get("/me"); !strings.Contains(r.Body, "不参加本年度排名") || !strings.Contains(r.Body, "因提供虚假材料") {
		t.Errorf("the banned applicant's page does not say why they are not ranked")
	}

	// 10b. Publication: the committed ranking published with a notice
	// period; every row carries the ten indicator values of the final
	// score (the 复查's approved facts for the re-examined application, the
	// cross-check's statement for the others), adding up to the total.
	today := a.Clock.Now().In(clock.Beijing)
	start, end := today.AddDate(0, 0, 1), today.AddDate(0, 0, 7)
	city1 = login("city-one")
	if r := city1.PostForm("/office/rounds/"+strconv.FormatInt(rd.ID, 10)+"/ranking/publish", url.Values{
		"notice_start": {start.Format("2006-01-02")}, "notice_end": {end.Format("2006-01-02")}, "confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	a.Clock.Set(start.Add(8 * time.Hour))
	if err := a.RunSchedule(ctx, "publicity_start"); err != nil {
		t.Fatal(err)
	}
	file := a.Client(a.Internet).Get("/publicity/canonical/2026/1")
	published, err := proof.Parse([]byte(file.Body))
	if err != nil || len(published.Rows) != qualified {
		t.Fatalf("published list: %d rows, want %d (%v)", len(published.Rows), qualified, err)
	}
	for i, row := range published.Rows {
		var s rules.Points
		for _, v := range row.Indicators {
			s += v
		}
		if len(row.Indicators) != 10 || s != row.Total || row.Total != res.Entries[i].Total || row.Number != res.Entries[i].PublicityNo {
			t.Fatalf("published row %d: %+v, ranked %+v", i, row, res.Entries[i])
		}
	}
	applicant = a.Client(a.Internet)
	applicant.LoginAPI(rv.login, synth.Password)
	if r := applicant.Get("/me"); !strings.Contains(r.Body, "公示结果") || !strings.Contains(r.Body, "排名第") {
		t.Fatalf("the re-examined applicant's page after publication lacks the result")
	}

	// 11. Settlement, once its window opens: one person settled.
	sw, _ := rd.Window(round.Settlement)
	a.Clock.Set(sw.OpensAt.Add(time.Hour))
	city1 = login("city-one")
	var list struct {
		Rows []struct {
			ApplicationID int64 `json:"application_id"`
			Version       int   `json:"version"`
		} `json:"rows"`
		Total int `json:"total"`
	}
	city1.Get(roundPath + "/settlement").JSON(&list)
	if list.Total != qualified || len(list.Rows) != qualified {
		t.Fatalf("settlement list: %d rows, want %d", list.Total, qualified)
	}
	if r := city1.PostJSON(fmt.Sprintf("%s/settlement/%d", roundPath, list.Rows[0].ApplicationID),
		map[string]any{"status": "settled", "version": 0}); r.Status != 200 {
		t.Fatalf("settled: %d %s", r.Status, r.Body)
	}
	if n := countOf(t, a, `SELECT count(*) FROM settlements WHERE status = 'settled'`); n != 1 {
		t.Fatalf("settlements: %d", n)
	}
}
