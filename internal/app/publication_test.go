package app_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/config"
	"jifen/internal/platform/clock"
	"jifen/internal/publicity/proof"
	"jifen/internal/round"
	"jifen/internal/synth"
)

// published is a round taken to a committed ranking and published by the
// office, with the clock at the first day of the notice period.
type published struct {
	a          *apptest.App
	rd         *round.Round
	c1, c2     *apptest.Client
	base, api  string
	start, end string
}

func publishRound(t *testing.T, opts ...apptest.Option) *published {
	t.Helper()
	a := apptest.Start(t, opts...)
	ctx := context.Background()
	rd, err := a.EnsureRound(ctx, 2026, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SynthWith(ctx, rd, synth.Config{People: 200, Employers: 20, Seed: 7, ReadyToRank: true}); err != nil {
		t.Fatal(err)
	}
	win, _ := rd.Window(round.Review)
	a.Clock.Set(win.ClosesAt.Add(time.Hour))
	a.CreateUser("city1", account.CityOfficer)
	a.CreateUser("city2", account.CityOfficer)
	p := &published{a: a, rd: rd, c1: a.Client(a.Office), c2: a.Client(a.Office),
		base: "/office/rounds/" + strconv.FormatInt(rd.ID, 10) + "/ranking", api: "/api/v1/office/rounds/" + strconv.FormatInt(rd.ID, 10)}
	a.LoginStaff(p.c1, "city1", apptest.Password)
	a.LoginStaff(p.c2, "city2", apptest.Password)
	p.rank(t)
	today := a.Clock.Now().In(clock.Beijing)
	p.start, p.end = today.AddDate(0, 0, 1).Format("2006-01-02"), today.AddDate(0, 0, 7).Format("2006-01-02")
	return p
}

// rank freezes, drafts with a quota of 20 and commits, through the API.
func (p *published) rank(t *testing.T) {
	t.Helper()
	for _, step := range []string{"/freeze", "/ranking-draft", "/ranking-commit"} {
		body := map[string]any{}
		if step == "/ranking-draft" {
			body["quota"] = 20
		}
		if r := p.c1.PostJSON(p.api+step, body); r.Status != 200 {
			t.Fatalf("%s: %d %s", step, r.Status, r.Body)
		}
	}
}

func (p *published) publish(t *testing.T, reason string) {
	t.Helper()
	r := p.c1.PostForm(p.base+"/publish", url.Values{"notice_start": {p.start}, "notice_end": {p.end}, "pub_reason": {reason},
		"confirmed": {"yes"}})
	if r.Status != 303 {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
}

func sm3Hex(b []byte) string { s := sm3.Sum(b); return hex.EncodeToString(s[:]) }

// TestPublication: a city officer publishes a committed ranking; the list
// appears at the start of its notice period, anyone can search it and
// recompute its digests from the downloaded file with implementations
// independent of the project, the applications become published with
// their mail, an applicant sees their rank and downloads a receipt that the
// public page verifies (a tampered one fails), pages are cacheable, and a
// correction publishes a second version beside the first.
func TestPublication(t *testing.T) {
	p := publishRound(t)
	a, ctx := p.a, context.Background()
	anon := a.Client(a.Internet)

	// The form refuses bad dates, naming the field.
	page := p.c1.Get(p.base)
	if page.Status != 200 || !strings.Contains(page.Body, "发布公示") {
		t.Fatalf("ranking page has no publish form: %d", page.Status)
	}
	for _, bad := range []struct{ start, end, want string }{
		{p.end, p.start, "公示结束日期不能早于开始日期"},
		{"2020-01-01", p.end, "公示开始日期不能早于今天"},
		{"2026-13-45", p.end, "YYYY-MM-DD"},
		{p.start, "2027-12-31", "公示期不能超过"},
	} {
		r := p.c1.PostForm(p.base+"/publish", url.Values{"notice_start": {bad.start}, "notice_end": {bad.end}, "confirmed": {"yes"}})
		if r.Status != 400 || !strings.Contains(r.Body, bad.want) {
			t.Fatalf("publish %s..%s: %d, want %q", bad.start, bad.end, r.Status, bad.want)
		}
	}
	p.publish(t, "")
	if r := p.c2.PostJSON(p.api+"/freeze", nil); r.Status != 409 {
		t.Fatalf("freeze after publication: %d", r.Status)
	}
	if r := p.c1.PostForm(p.base+"/publish", url.Values{"notice_start": {p.start}, "notice_end": {p.end}, "confirmed": {"yes"}}); r.Status != 409 ||
		!strings.Contains(r.Body, "已经公示") {
		t.Fatalf("second publication of the same ranking: %d", r.Status)
	}

	// Before the start nothing shows, and no application moves.
	if r := anon.Get("/publicity/2026"); r.Status != 404 {
		t.Fatalf("list before its notice period: %d", r.Status)
	}
	if err := a.RunSchedule(ctx, "publicity_start"); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, a, `SELECT count(*) FROM applications WHERE status = 'published'`); n != 0 {
		t.Fatalf("published before the start: %d", n)
	}

	// The first day of the notice period.
	start, _ := time.ParseInLocation("2006-01-02", p.start, clock.Beijing)
	a.Clock.Set(start.Add(9 * time.Hour))
	var meta struct {
		Year, Version, Quota, Qualified, Rows int
		Cutoff, SM3, SHA256, Phase            string
		NoticeStart                           string `json:"notice_start"`
		NoticeEnd                             string `json:"notice_end"`
		MerkleRoot                            string `json:"merkle_root"`
		Canonical                             string `json:"canonical_url"`
	}
	r := anon.Get("/api/v1/publicity/2026")
	if r.Status != 200 {
		t.Fatalf("API year: %d %s", r.Status, r.Body)
	}
	r.JSON(&meta)
	committed, sum, err := a.Ranking.Committed(ctx, p.rd.ID)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Year != 2026 || meta.Version != 1 || meta.Quota != 20 || meta.Qualified != sum.Qualified || meta.Rows != sum.Qualified ||
		meta.Cutoff != sum.Cutoff.String() || meta.Phase != "notice" || meta.NoticeStart != p.start || meta.NoticeEnd != p.end {
		t.Fatalf("API year: %s", r.Body)
	}
	var years struct {
		Years []struct{ Year int } `json:"years"`
	}
	if anon.Get("/api/v1/publicity").JSON(&years); len(years.Years) != 1 || years.Years[0].Year != 2026 {
		t.Fatalf("API years: %+v", years)
	}

	// The canonical file: digests recomputed here, independently.
	file := anon.Get(meta.Canonical)
	if file.Status != 200 || !strings.HasPrefix(file.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("canonical file: %d", file.Status)
	}
	body := []byte(file.Body)
	if got := sha256.Sum256(body); hex.EncodeToString(got[:]) != meta.SHA256 {
		t.Fatalf("SHA-256 of the file %x, published %s", got, meta.SHA256)
	}
	if got := sm3Hex(body); got != meta.SM3 {
		t.Fatalf("SM3 of the file %s, published %s", got, meta.SM3)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(file.Body))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	rows := lines[len(lines)-sum.Qualified:]
	for i, e := range committed.Entries[:sum.Qualified] {
		if !strings.HasPrefix(rows[i], e.PublicityNo+"\t") {
			t.Fatalf("row %d of the file: %q, want 公示编号 %s", i, rows[i], e.PublicityNo)
		}
		if n := strings.Count(rows[i], "\t"); n != 14 {
			t.Fatalf("row %d has %d fields", i, n+1)
		}
	}
	if l, err := proof.Parse(body); err != nil || l.MerkleRoot() != meta.MerkleRoot {
		t.Fatalf("file parses %v, root %s vs %s", err, l.MerkleRoot(), meta.MerkleRoot)
	}

	// The list page, searchable, with the digests and the chart's table.
	first := strings.Split(rows[0], "\t")
	list := anon.Get("/publicity/2026")
	if list.Status != 200 || !strings.Contains(list.Body, meta.SM3) || !strings.Contains(list.Body, meta.MerkleRoot) ||
		!strings.Contains(list.Body, "提出异议") || !strings.Contains(list.Body, first[1]) || !strings.Contains(list.Body, "积分分布") {
		t.Fatalf("list page: %d", list.Status)
	}
	etag := list.Header.Get("ETag")
	if etag == "" || !strings.Contains(list.Header.Get("Cache-Control"), "public") {
		t.Fatalf("list page not cacheable: %v", list.Header)
	}
	if r := anon.Do("GET", "/publicity/2026", nil, map[string]string{"If-None-Match": etag}); r.Status != 304 {
		t.Fatalf("If-None-Match: %d", r.Status)
	}
	var hits struct {
		Total   int `json:"total"`
		Entries []struct {
			Number, Name, Born, Employer string
			Total                        json.Number
		} `json:"entries"`
	}
	anon.Get("/api/v1/publicity/2026/entries?q=" + first[0]).JSON(&hits)
	if hits.Total != 1 || hits.Entries[0].Number != first[0] || hits.Entries[0].Name != first[1] {
		t.Fatalf("search by 公示编号: %+v", hits)
	}
	anon.Get("/api/v1/publicity/2026/entries?q=" + url.QueryEscape(first[1])).JSON(&hits)
	if hits.Total < 1 || hits.Entries[0].Name != first[1] {
		t.Fatalf("search by name %s: %+v", first[1], hits)
	}
	anon.Get("/api/v1/publicity/2026/entries?sort=score&dir=desc").JSON(&hits)
	if len(hits.Entries) != sum.Qualified || hits.Entries[len(hits.Entries)-1].Number != first[0] {
		t.Fatalf("sorted by score, ascending last: %+v", hits.Entries)
	}

	// Bad input: a clear 4xx or an empty answer, never a 500.
	for _, c := range []struct {
		path string
		want int
	}{
		{"/api/v1/publicity/2026/entries?q=%ff%fe", 400},
		{"/api/v1/publicity/2026/entries?q=" + strings.Repeat("长", 101), 400},
		{"/api/v1/publicity/2026/entries?page=-1", 400},
		{"/api/v1/publicity/2026/entries?page=99999999999999999999999", 200}, // clamped to the last page there can be: empty
		{"/api/v1/publicity/2026/entries?page=100000", 200},
		{"/api/v1/publicity/2026/entries?sort=name", 400},
		{"/api/v1/publicity/2026/entries?q=" + url.QueryEscape(`<script>alert(1)</script>' OR 1=1 --`), 200},
		{"/api/v1/publicity/1999/entries", 404},
		{"/api/v1/publicity/abcd", 404},
		{"/publicity/2026?page=0", 400},
		{"/publicity/2026?q=%00%ff", 400},
		{"/publicity/2026?v=7", 400},
		{"/publicity/20266", 404},
		{"/publicity/canonical/2026/2", 404},
		{"/publicity/canonical/2026/x", 404},
	} {
		if r := anon.Get(c.path); r.Status != c.want {
			t.Errorf("%s: %d, want %d: %.200s %v", c.path, r.Status, c.want, r.Body, r.Header)
		}
	}
	if r := anon.Get("/publicity/2026?q=" + url.QueryEscape(`<script>x</script>`)); strings.Contains(r.Body, "<script>x") {
		t.Error("the search string is not escaped on the page")
	}

	// The applications move to published, with mail to applicants and
	// employers.
	if err := a.RunSchedule(ctx, "publicity_start"); err != nil {
		t.Fatal(err)
	}
	finals := countOf(t, a, `SELECT count(*) FROM applications WHERE round_id = $1 AND status = 'final'`, p.rd.ID)
	pubs := countOf(t, a, `SELECT count(*) FROM applications WHERE round_id = $1 AND status = 'published'`, p.rd.ID)
	if finals != 0 || pubs < sum.Ranked {
		t.Fatalf("after the start: %d final, %d published (ranked %d)", finals, pubs, sum.Ranked)
	}
	if n := countOf(t, a, `SELECT count(*) FROM mail_outbox WHERE idempotency_key LIKE 'publicity:%'`); n == 0 {
		t.Error("no employer was told of the publication")
	}
	if n := countOf(t, a, `SELECT count(*) FROM mail_outbox WHERE subject LIKE '%已公示%'`); n < sum.Ranked {
		t.Errorf("applicants' mails: %d, want at least %d", n, sum.Ranked)
	}

	// A qualified applicant sees their rank and downloads a receipt.
	top := committed.Entries[0]
	var login string
	if err := a.DB.QueryRow(ctx, `SELECT u.login FROM applications x JOIN persons p ON p.id = x.person_id JOIN users u ON u.id = p.user_id
		WHERE x.id = $1`, top.ApplicationID).Scan(&login); err != nil {
		t.Fatal(err)
	}
	me := a.Client(a.Internet)
	me.LoginAPI(login, synth.Password)
	if r := me.Get("/me"); !strings.Contains(r.Body, "取得落户资格") || !strings.Contains(r.Body, "排名第 <strong>1</strong> 名") ||
		!strings.Contains(r.Body, sum.Cutoff.String()) {
		t.Fatalf("applicant's page after publication: %d", r.Status)
	}
	rc := me.Get("/publicity/receipt/2026")
	if rc.Status != 200 {
		t.Fatalf("receipt: %d %s", rc.Status, rc.Body)
	}
	var receipt proof.Receipt
	rc.JSON(&receipt)
	if receipt.Number != top.PublicityNo || receipt.MerkleRoot != meta.MerkleRoot || proof.VerifyReceipt(&receipt) != nil {
		t.Fatalf("receipt: %+v", receipt)
	}
	if r := anon.Get("/publicity/receipt/2026"); r.Status == 200 {
		t.Fatal("a receipt without logging in")
	}
	if r := anon.PostForm("/publicity/verify", url.Values{"receipt": {rc.Body}}); !strings.Contains(r.Body, "回执有效") {
		t.Fatalf("verify page: %d %s", r.Status, r.Body)
	}
	tampered := strings.Replace(rc.Body, top.Total.String(), (top.Total + 100).String(), 1)
	for name, body := range map[string]string{"a changed total": tampered, "not JSON": "{", "empty": " "} {
		if r := anon.PostForm("/publicity/verify", url.Values{"receipt": {body}}); r.Status != 200 || strings.Contains(r.Body, "回执有效") ||
			!strings.Contains(r.Body, "无效") && !strings.Contains(r.Body, "请粘贴") {
			t.Errorf("verify %s: %d", name, r.Status)
		}
	}

	// A correction: the round reopened (four eyes), ranked and committed
	// again, published as version 2; version 1 stays listed and served.
	// (The officers log in again: days have passed.)
	p.c1, p.c2 = a.Client(a.Office), a.Client(a.Office)
	a.LoginStaff(p.c1, "city1", apptest.Password)
	a.LoginStaff(p.c2, "city2", apptest.Password)
	if r := p.c1.PostForm(p.base+"/reopen", url.Values{"reason": {"公示异议成立，需更正一名申请人的积分"}}); r.Status != 303 {
		t.Fatalf("reopen: %d %s", r.Status, r.Body)
	}
	ros, err := a.Rounds.Reopenings(ctx, p.rd.ID)
	if err != nil || len(ros) != 1 {
		t.Fatalf("reopenings: %v %v", ros, err)
	}
	if r := p.c2.PostForm(fmt.Sprintf("/office/reopenings/%d/approve", ros[0].ID), url.Values{}); r.Status != 303 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	p.rank(t)
	p.start = a.Clock.Now().In(clock.Beijing).Format("2006-01-02")
	if r := p.c1.PostForm(p.base+"/publish", url.Values{"notice_start": {p.start}, "notice_end": {p.end}, "confirmed": {"yes"}}); r.Status != 400 ||
		!strings.Contains(r.Body, "更正的原因") {
		t.Fatalf("correction without a reason: %d", r.Status)
	}
	p.publish(t, "公示异议成立，更正一名申请人的教育背景积分")
	var v2 struct {
		Version  int
		SM3      string
		Versions []struct{ Version int } `json:"versions"`
	}
	anon.Get("/api/v1/publicity/2026").JSON(&v2)
	if v2.Version != 2 || len(v2.Versions) != 2 {
		t.Fatalf("after the correction: %+v", v2)
	}
	if r := anon.Get("/publicity/2026?v=1"); r.Status != 200 || !strings.Contains(r.Body, "已被更正") {
		t.Fatalf("version 1 page: %d", r.Status)
	}
	if r := anon.Get("/publicity/canonical/2026/1"); r.Status != 200 || sm3Hex([]byte(r.Body)) != meta.SM3 {
		t.Fatal("version 1's file changed or is gone")
	}
	if r := anon.Get("/publicity/2026"); !strings.Contains(r.Body, "公示异议成立，更正一名申请人的教育背景积分") {
		t.Error("the correction's reason is not on the page")
	}
	if _, err := a.DB.Exec(ctx, `UPDATE publications SET cutoff = 1`); err == nil {
		t.Fatal("a publication can be changed")
	}

	// After the notice period: an archive with a banner.
	end, _ := time.ParseInLocation("2006-01-02", p.end, clock.Beijing)
	a.Clock.Set(end.AddDate(0, 0, 1).Add(time.Hour))
	if r := anon.Get("/publicity/2026"); r.Status != 200 || !strings.Contains(r.Body, "本页为存档") || strings.Contains(r.Body, "提出异议") {
		t.Fatalf("archive page: %d", r.Status)
	}

	// The database stops: the lists still answer, from memory.
	if err := a.DB.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/publicity", "/publicity/2026", "/publicity/2026?q=" + url.QueryEscape(first[1]),
		"/api/v1/publicity/2026/entries?q=" + first[0], "/api/v1/publicity/2026", "/publicity/canonical/2026/2"} {
		if r := anon.Get(path); r.Status != 200 {
			t.Errorf("%s with the database stopped: %d", path, r.Status)
		}
	}
}

// TestPublicRateLimit: a client over JIFEN_PUBLIC_RATE_LIMIT gets 429 on
// the lists and their search; another client is not affected.
func TestPublicRateLimit(t *testing.T) {
	a := apptest.Start(t, func(c *config.Config) { c.PublicRate = 1 })
	c := a.Client(a.Internet)
	got429 := false
	for range 10 {
		if r := c.Get("/api/v1/publicity"); r.Status == 429 {
			got429 = true
			if r.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			break
		}
	}
	if !got429 {
		t.Fatal("no 429 after 10 requests at a limit of 1/s (burst 2)")
	}
	if r := c.Get("/calculator"); r.Status != 200 {
		t.Fatalf("the limit reaches other pages: %d", r.Status)
	}
}

// TestUpheldObjectionReopensTheCase: during the notice period of a real
// publication, an objection to a row is lodged through the public form
// (counted in the access statistics), upheld in the office: the
// application goes back to the district's 复查 queue and the round's
// reopening is asked; a second officer approves it, which lifts the freeze
// and supersedes the committed ranking. Outside the notice period the form
// refuses.
func TestUpheldObjectionReopensTheCase(t *testing.T) {
	p := publishRound(t)
	a, ctx := p.a, context.Background()
	p.publish(t, "")
	start, _ := time.ParseInLocation("2006-01-02", p.start, clock.Beijing)
	a.Clock.Set(start.Add(10 * time.Hour))
	if err := a.RunSchedule(ctx, "publicity_start"); err != nil {
		t.Fatal(err)
	}
	res, _, err := a.Ranking.Committed(ctx, p.rd.ID)
	if err != nil {
		t.Fatal(err)
	}
	target := res.Entries[2]
	pub := a.Client(a.Internet)
	if r := pub.Get("/publicity/objection?year=2026&number=" + target.PublicityNo); r.Status != 200 {
		t.Fatalf("objection form: %d", r.Status)
	}
	fields := [][2]string{{"year", "2026"}, {"number", target.PublicityNo}, {"grounds", "该人员申报的学历与实际不符，请核查其教育背景。"}}
	r := objectionForm(pub, fields, "", nil)
	loc := r.Header.Get("Location")
	if r.Status != 303 || loc == "" {
		t.Fatalf("lodge: %d %s", r.Status, r.Body)
	}
	if err := a.AccessStats.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countOf(t, a, `SELECT COALESCE(SUM(objections), 0) FROM access_minutes`); n != 1 {
		t.Errorf("objections counted in the access statistics: %d", n)
	}
	receipt := strings.TrimPrefix(loc, "/publicity/objection/")
	var id int64
	if err := a.DB.QueryRow(ctx, `SELECT id FROM objections WHERE number = $1`, target.PublicityNo).Scan(&id); err != nil {
		t.Fatal(err)
	}
	a.LoginStaff(p.c1, "city1", apptest.Password)
	a.LoginStaff(p.c2, "city2", apptest.Password)
	page := fmt.Sprintf("/office/objections/%d", id)
	if r := p.c1.PostForm(page+"/assign", url.Values{"assign_to": {"me"}, "version": {"1"}}); r.Status != 303 {
		t.Fatalf("assign: %d %s", r.Status, r.Body)
	}
	if r := p.c1.PostForm(page+"/answer", url.Values{"outcome": {"upheld"}, "answer": {"经核查，异议所述情况属实，案件退回重新审核。"},
		"version": {"2"}, "confirmed": {"yes"}}); r.Status != 303 {
		t.Fatalf("upheld: %d %s", r.Status, r.Body)
	}
	var status, reason string
	if err := a.DB.QueryRow(ctx, `SELECT x.status, rr.reason FROM applications x JOIN review_requests rr ON rr.application_id = x.id
		WHERE x.id = $1`, target.ApplicationID).Scan(&status, &reason); err != nil {
		t.Fatal(err)
	}
	if status != "review_requested" || !strings.Contains(reason, receipt) {
		t.Fatalf("the case after the upheld objection: %s, %q", status, reason)
	}
	ros, err := a.Rounds.Reopenings(ctx, p.rd.ID)
	if err != nil || len(ros) != 1 || ros[0].Status != "pending" || !strings.Contains(ros[0].Reason, receipt) {
		t.Fatalf("reopening asked: %+v %v", ros, err)
	}
	// The list stands until the correction is published.
	if r := pub.Get("/api/v1/publicity/2026/entries?q=" + target.PublicityNo); !strings.Contains(r.Body, target.PublicityNo) {
		t.Fatal("the row left the published list before a correction")
	}
	if r := p.c2.PostForm(fmt.Sprintf("/office/reopenings/%d/approve", ros[0].ID), url.Values{}); r.Status != 303 {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if rd, _ := a.Rounds.Get(ctx, p.rd.ID); rd.Frozen() {
		t.Fatal("the round is still frozen")
	}
	if _, _, err := a.Ranking.Committed(ctx, p.rd.ID); err == nil {
		t.Fatal("the committed ranking was not superseded")
	}
	if r := pub.Get(loc); !strings.Contains(r.Body, "异议成立") {
		t.Fatalf("follow page: %d", r.Status)
	}

	// After the notice period no objection is taken.
	end, _ := time.ParseInLocation("2006-01-02", p.end, clock.Beijing)
	a.Clock.Set(end.AddDate(0, 0, 2))
	if r := objectionForm(a.Client(a.Internet), fields, "", nil); r.Status != 409 || !strings.Contains(r.Body, "公示期") {
		t.Fatalf("objection after the notice period: %d", r.Status)
	}
}
