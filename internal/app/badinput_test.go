package app_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"jifen/internal/app/apptest"
)

// badInputs are what a probe sends to every route: text PostgreSQL refuses
// (NUL, invalid UTF-8, control characters) in the query, a form, a JSON
// body and the path, and numbers past every range.
var badQueries = []string{"q=%00", "status=%ff", "login=a%00b", "district=%C0%AF", "name=a%01b"}

var badForms = []string{"login=a%00b&password=x", "email=a%00%40example.cn", "q=%ff&status=open", "reason=%00"}

var badJSON = []string{`{"login":"a\u0000b","password":"x"}`, `{"email":"a\u0000@example.cn"}`, "{\"q\":\"\xff\"}",
	`{"note":"\u0007"}`, `{"ids":[1],"reason":"a\u0000"}`}

var placeholderSegment = regexp.MustCompile(`\{[a-z]+\}`)

// TestBadInputNeverAnswers500 sends every bad input to every route of both
// listeners, as a role the route lets through, and asserts that no answer
// is a 5xx; text no handler should see is refused with a 400 in Chinese
// before any handler runs, and a page number of 2^63-1 or a path id past
// any range is answered like any other page or missing object.
func TestBadInputNeverAnswers500(t *testing.T) {
	w := newWorld(t)
	for _, l := range []struct {
		name  string
		table map[string]access
	}{{"internet", internetRoutes}, {"office", officeRoutes}} {
		for _, p := range sortedKeys(l.table) {
			rule := l.table[p]
			if rule.last != 0 {
				continue // ends the session the sweep needs; its inputs are checked on the login routes
			}
			method, _ := splitPattern(p)
			who := "anon"
			if rule.allow != "*" && rule.allow != "" {
				who = strings.Fields(rule.allow)[0]
			}
			c := w.client(l.name, who)
			path := w.path(rule.path)
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			expect400 := func(what string, r *apptest.Response) {
				t.Helper()
				if r.Status != 400 || !strings.Contains(r.Body, "无法识别的字符") {
					t.Errorf("%s %s %s as %s: %d, want 400 with a Chinese message", l.name, p, what, who, r.Status)
				}
			}
			for _, q := range badQueries {
				expect400("?"+q, send(c, method, path+sep+q, rule.body))
			}
			if method != "GET" && method != "DELETE" {
				bodies := badForms
				if strings.HasPrefix(path, "/api/") {
					bodies = badJSON
				}
				for _, b := range bodies {
					expect400("body "+b, send(c, method, path, b))
				}
			}
			if strings.Contains(p, "{") && !strings.HasSuffix(p, "{$}") {
				for _, seg := range []string{"%00", "%ff", "a%00b"} {
					bad := placeholderSegment.ReplaceAllString(strings.SplitN(p, " ", 2)[1], seg)
					expect400("path "+bad, send(c, method, bad, ""))
				}
				for _, seg := range []string{"9223372036854775807", "99999999999999999999", "-1", "0"} {
					odd := placeholderSegment.ReplaceAllString(strings.SplitN(p, " ", 2)[1], seg)
					if r := send(c, method, odd, rule.body); r.Status >= 500 {
						t.Errorf("%s %s %s as %s: %d", l.name, method, odd, who, r.Status)
					}
				}
			}
			if method == "GET" {
				for _, q := range []string{"page=9223372036854775807", "page=-9223372036854775808", "page=99999999999999999999",
					"limit=9223372036854775807&offset=9223372036854775807", "before=9223372036854775807"} {
					if r := send(c, method, path+sep+q, ""); r.Status >= 500 {
						t.Errorf("%s GET %s as %s: %d", l.name, path+sep+q, who, r.Status)
					}
				}
			}
		}
	}
	// The probe's exact requests.
	anon := w.client("internet", "anon")
	for _, r := range []*apptest.Response{
		anon.PostJSON("/api/v1/session", map[string]string{"login": "a\x00b", "password": "x"}),
		anon.PostForm("/login", url.Values{"login": {"a\x00b"}, "password": {"x"}}),
		anon.PostJSON("/api/v1/applicants", map[string]string{"email": "a\x00@example.cn"}),
		w.client("internet", "opA").Get("/employer/applications?q=%00"),
		w.client("internet", "opA").Get("/api/v1/employer/applications?status=%ff"),
	} {
		if r.Status != 400 || !strings.Contains(r.Body, "无法识别的字符") {
			t.Errorf("probe request: %d %s", r.Status, r.Body)
		}
	}
	// A user agent that is not UTF-8 (the HTTP parser lets it through) is
	// stored with the session.
	ua := w.a.Client(w.a.Internet)
	if r := ua.Do("POST", "/api/v1/session", strings.NewReader(`{"login":"appA","password":"`+apptest.Password+`"}`),
		map[string]string{"Content-Type": "application/json", "User-Agent": "probe\xff\xfe"}); r.Status != 200 {
		t.Errorf("login with a non-UTF-8 user agent: %d %s", r.Status, r.Body)
	}
	if r := w.client("office", "hd").Get("/office/discrepancies?page=9223372036854775807"); r.Status != 200 {
		t.Errorf("page 2^63-1 of the discrepancy queue: %d", r.Status)
	}
}
