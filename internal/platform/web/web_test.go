package web

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"jifen/internal/platform/apperr"
)

func TestClientIPsBelievesOnlyTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name, remote, xff, want string
		trusted                 []netip.Prefix
	}{
		{"no proxy configured", "203.0.113.5:1234", "1.2.3.4", "203.0.113.5", nil},
		{"untrusted peer", "203.0.113.5:1234", "1.2.3.4", "203.0.113.5", trusted},
		{"trusted proxy", "10.1.1.1:80", "198.51.100.7", "198.51.100.7", trusted},
		{"client prepends a fake", "10.1.1.1:80", "6.6.6.6, 198.51.100.7", "198.51.100.7", trusted},
		{"chain of proxies", "10.1.1.1:80", "198.51.100.7, 10.2.2.2", "198.51.100.7", trusted},
		{"garbage header", "10.1.1.1:80", "not-an-ip", "10.1.1.1", trusted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = c.remote
			r.Header.Set("X-Forwarded-For", c.xff)
			if got := NewClientIPs(c.trusted).Resolve(r); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestLimiterPerClient(t *testing.T) {
	l := NewLimiter(0.001, 2)
	first, second, third := l.Allow("a"), l.Allow("a"), l.Allow("a")
	if !first || !second || third {
		t.Fatal("client a: burst of 2 not enforced")
	}
	if !l.Allow("b") {
		t.Fatal("client b is limited by client a")
	}
}

func TestRecoverHidesThePanic(t *testing.T) {
	h := Recover(slog.New(slog.NewTextHandler(io.Discard, nil)), func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, apperr.Wrap(nil))
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret detail") || !strings.Contains(rec.Body.String(), "系统内部错误") {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}

func TestMuxAnswers404And405InChinese(t *testing.T) {
	m := NewMux()
	m.HandleFunc("GET /a", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	for _, c := range []struct {
		method, path string
		code         int
		text         string
	}{{"GET", "/a", 200, "ok"}, {"GET", "/b", 404, "页面不存在"}, {"POST", "/a", 405, "不支持该请求方法"}, {"GET", "/api/v1/x", 404, `"not_found"`}} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.text) {
			t.Errorf("%s %s: %d %s", c.method, c.path, rec.Code, rec.Body.String())
		}
		if c.code == 405 && rec.Header().Get("Allow") == "" {
			t.Error("405 without Allow")
		}
	}
}

func TestDecodeJSONNamesTheField(t *testing.T) {
	type req struct {
		Login string `json:"login"`
		N     int    `json:"n"`
	}
	for body, field := range map[string]string{`{"n":"x"}`: "n", `{"zzz":1}`: "zzz", `[`: "body", `{} {}`: "body"} {
		var v req
		err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(body)), &v)
		e := apperr.As(err)
		if e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != field {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestErrorPagesUseTheInstalledRenderer(t *testing.T) {
	t.Parallel()
	var got ErrorPage
	calls := 0
	render := func(w http.ResponseWriter, r *http.Request, p ErrorPage) {
		calls++
		got = p
		// A failure while rendering falls back to the bare page, not here.
		WriteError(w, r, apperr.Wrap(errors.New("template broken")))
	}
	h := Chain(http.HandlerFunc(NotFound), WithErrorPages(render))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/nothing", nil))
	if calls != 1 || got.Status != 404 || got.Message != "您访问的页面不存在" {
		t.Fatalf("renderer called %d times with %+v", calls, got)
	}
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "系统内部错误") {
		t.Errorf("fallback: %d %s", rec.Code, rec.Body.String())
	}
}
