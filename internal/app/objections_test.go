package app_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app/apptest"
)

// objLists publishes 2027's list (rows 202700001–3) with a notice period
// around the test clock.
type objLists struct{ start, end time.Time }

func (l objLists) Notice(year int) (time.Time, time.Time, bool) { return l.start, l.end, year == 2027 }
func (l objLists) Has(year int, n string) bool {
	return year == 2027 && strings.HasPrefix(n, "20270000") && len(n) == 9
}

type objCases struct {
	mu    sync.Mutex
	calls []string
}

func (c *objCases) ReturnForObjection(_ context.Context, _ actor.Actor, _ int, number, receipt, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, number+"/"+receipt)
	return nil
}

// objectionForm posts the public form as a browser would: the text
// fields, then the file.
func objectionForm(c *apptest.Client, fields [][2]string, filename string, file []byte) *apptest.Response {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	if filename != "" {
		fw, _ := mw.CreateFormFile("attachment", filename)
		_, _ = fw.Write(file)
	}
	_ = mw.Close()
	return c.Do("POST", "/publicity/objection", &b, map[string]string{"Content-Type": mw.FormDataContentType(),
		"Origin": c.Base, "Sec-Fetch-Site": "same-origin"})
}

// An objection lodged through the public form, refused for a lying
// attachment, then rate-limited; worked in the office: the queue, the
// detail with the contact, the attachment, assign, an upheld answer after
// its confirmation that sends the case back once; the answer shown with the
// receipt.
func TestObjectionOverHTTP(t *testing.T) {
	a := apptest.Start(t)
	now := a.Clock.Now()
	cases := &objCases{}
	a.Objections.SetPublication(objLists{start: now.Add(-time.Hour), end: now.Add(7 * 24 * time.Hour)}, cases)
	pub := a.Client(a.Internet)
	if r := pub.Get("/publicity/objection?year=2027&number=202700001"); r.Status != 200 || !strings.Contains(r.Body, `value="202700001"`) {
		t.Fatalf("form: %d", r.Status)
	}
	fields := [][2]string{{"year", "2027"}, {"number", "202700001"}, {"grounds", "该人员的居住证办理时间与公示不符，请核查。"},
		{"contact", "13912345678"}}
	// 1: a text file named x.pdf is refused whatever its name.
	r := objectionForm(pub, fields, "x.pdf", []byte("this is only text"))
	if r.Status != 400 || !strings.Contains(r.Body, "附件必须是 PDF、JPG 或 PNG 文件") {
		t.Fatalf("lying attachment: %d", r.Status)
	}
	// 2: a PNG is taken; the answer is the follow page.
	png := append([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}, make([]byte, 64)...)
	r = objectionForm(pub, fields, "photo.png", png)
	loc := r.Header.Get("Location")
	if r.Status != 303 || !regexp.MustCompile(`^/publicity/objection/[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$`).MatchString(loc) {
		t.Fatalf("lodge: %d %q %s", r.Status, loc, r.Body)
	}
	receipt := strings.TrimPrefix(loc, "/publicity/objection/")
	if r = pub.Get(loc); r.Status != 200 || !strings.Contains(r.Body, receipt) || !strings.Contains(r.Body, "已受理") ||
		strings.Contains(r.Body, "13912345678") {
		t.Fatalf("follow page: %d", r.Status)
	}
	// 3: an unknown 公示编号; 4: over the limit of 3 in a row.
	bad := [][2]string{{"year", "2027"}, {"number", "999"}, {"grounds", fields[2][1]}}
	if r = objectionForm(pub, bad, "", nil); r.Status != 400 || !strings.Contains(r.Body, "不在2027年公示名单中") {
		t.Fatalf("unknown number: %d", r.Status)
	}
	if r = objectionForm(pub, fields, "", nil); r.Status != 429 {
		t.Fatalf("fourth objection in a row: %d, want 429", r.Status)
	}

	a.CreateUser("obj-city", account.CityOfficer)
	off := a.Client(a.Office)
	a.LoginStaff(off, "obj-city", apptest.Password)
	r = off.Get("/office/objections")
	m := regexp.MustCompile(`/office/objections/(\d+)">` + receipt).FindStringSubmatch(r.Body)
	if r.Status != 200 || m == nil {
		t.Fatalf("queue: %d, receipt %s not listed", r.Status, receipt)
	}
	page := "/office/objections/" + m[1]
	if r = off.Get(page); r.Status != 200 || !strings.Contains(r.Body, "13912345678") || !strings.Contains(r.Body, "PNG") {
		t.Fatalf("detail: %d", r.Status)
	}
	if r = off.Get(page + "/attachment"); r.Status != 200 || r.Header.Get("Content-Type") != "image/png" || r.Body != string(png) {
		t.Fatalf("attachment: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if r = off.PostForm(page+"/assign", url.Values{"assign_to": {"me"}, "version": {"1"}}); r.Status != 303 {
		t.Fatalf("assign: %d %s", r.Status, r.Body)
	}
	answer := url.Values{"outcome": {"upheld"}, "answer": {"经核查，异议所述情况属实，案件退回重新审核。"}, "version": {"2"}}
	if r = off.PostForm(page+"/answer", answer); r.Status != 200 || len(cases.calls) != 0 {
		t.Fatalf("upheld without confirmation: %d, %d calls", r.Status, len(cases.calls))
	}
	answer.Set("confirmed", "yes")
	if r = off.PostForm(page+"/answer", answer); r.Status != 303 {
		t.Fatalf("answer: %d %s", r.Status, r.Body)
	}
	if len(cases.calls) != 1 || cases.calls[0] != "202700001/"+receipt {
		t.Fatalf("cases sent back: %v", cases.calls)
	}
	if r = pub.Get(loc); r.Status != 200 || !strings.Contains(r.Body, "异议成立") || !strings.Contains(r.Body, "案件退回重新审核") {
		t.Fatalf("follow page after the answer: %d", r.Status)
	}
}
