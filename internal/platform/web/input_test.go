package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// ValidInput refuses text PostgreSQL cannot store (NUL, invalid UTF-8) in
// every place a handler reads text from, with a 400 naming the field, and
// passes good text through unchanged.
func TestValidInputRefusesBadTextAndClampsPages(t *testing.T) {
	var seenQuery, seenBody string
	h := ValidInput(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenQuery = r.URL.RawQuery
		b, _ := io.ReadAll(r.Body)
		seenBody = string(b)
		w.WriteHeader(http.StatusNoContent)
	}))
	cases := []struct {
		name, method, target, ctype, body string
		status                            int
		field                             string
	}{
		{"query NUL", "GET", "/api/v1/x?q=%00", "", "", 400, "q"},
		{"query invalid UTF-8", "GET", "/api/v1/x?status=%ff", "", "", 400, "status"},
		{"query key", "GET", "/api/v1/x?a%00=1", "", "", 400, "query"},
		{"query NUL after a malformed pair", "GET", "/api/v1/x?a=%zz&q=%00", "", "", 400, "q"},
		{"form NUL after a malformed pair", "POST", "/api/v1/x", "application/x-www-form-urlencoded", "a=%zz&login=a%00b", 400, "login"},
		{"path NUL", "GET", "/api/v1/invites/a%00b", "", "", 400, "path"},
		{"form NUL", "POST", "/api/v1/login", "application/x-www-form-urlencoded", "login=a%00b&password=x", 400, "login"},
		{"form invalid UTF-8", "POST", "/api/v1/login", "application/x-www-form-urlencoded; charset=utf-8", "login=%C0%AF", 400, "login"},
		{"JSON escaped NUL", "POST", "/api/v1/session", "application/json", `{"login":"a\u0000b","password":"x"}`, 400, "login"},
		{"JSON raw invalid UTF-8", "POST", "/api/v1/session", "application/json", "{\"login\":\"a\xffb\"}", 400, "body"},
		{"JSON nested", "POST", "/api/v1/x", "application/json", `{"a":{"email":["ok","x\u0001"]}}`, 400, "email"},
		{"good text", "POST", "/api/v1/x?q=%E5%BC%A0", "application/json", `{"reason":"第一行\n第二行"}`, 204, ""},
		{"not JSON left to the handler", "POST", "/api/v1/x", "application/json", `{"a":`, 204, ""},
		{"multipart untouched", "POST", "/api/v1/x", "multipart/form-data; boundary=x", "--x\r\n\x00", 204, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			if c.ctype != "" {
				r.Header.Set("Content-Type", c.ctype)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.status == 400 && (!strings.Contains(w.Body.String(), `"field":"`+c.field+`"`) || !strings.Contains(w.Body.String(), "无法识别的字符")) {
				t.Fatalf("answer does not name %s in Chinese: %s", c.field, w.Body)
			}
			if c.status == 204 && seenBody != c.body {
				t.Fatalf("body changed: %q", seenBody)
			}
		})
	}
	for target, want := range map[string]string{
		"/x?page=9223372036854775807":   "page=100000",
		"/x?page=99999999999999999999":  "page=100000",
		"/x?page=7&q=a":                 "page=7&q=a",
		"/x?page=-9223372036854775808":  "page=-9223372036854775808",
		"/x?status=open&page=100000000": "page=100000&status=open",
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
		if seenQuery != want {
			t.Errorf("%s: handler saw %q, want %q", target, seenQuery, want)
		}
	}
	r := httptest.NewRequest("POST", "/x", strings.NewReader("page=9223372036854775807&id=1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if seenBody != "id=1&page=100000" {
		t.Errorf("form page not clamped: %q", seenBody)
	}
}

// Every 5xx answer is logged at error level with its request id and route,
// however it was written (here a page rendered with status 500 by hand).
func TestServerErrorsAreLoggedWithTheRequestID(t *testing.T) {
	var log strings.Builder
	l := slog.New(slog.NewTextHandler(&log, nil))
	mux := NewMux()
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	h := Chain(mux, WithRequest(NewClientIPs(nil)), ServerErrors(l))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/page?token=secret", nil))
	id := rec.Header().Get("X-Request-Id")
	if id == "" || !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "request_id="+id) ||
		!strings.Contains(log.String(), `route="GET /page"`) || strings.Contains(log.String(), "secret") {
		t.Fatalf("log: %s", log.String())
	}
	log.Reset()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))
	if log.Len() != 0 {
		t.Fatalf("a 200 was logged as an error: %s", log.String())
	}
}

// A user agent that is not UTF-8 reaches the handler repaired.
func TestValidInputRepairsTheUserAgent(t *testing.T) {
	var ua string
	h := ValidInput(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ua = r.UserAgent() }))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("User-Agent", "probe\xff")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if ua != "probe\uFFFD" {
		t.Fatalf("user agent %q", ua)
	}
}
