package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Issue 10, item 2: the access log names the route, never the path, so a
// token in a path stays out of the log.
func TestAccessLogNamesTheRouteNotThePath(t *testing.T) {
	var buf bytes.Buffer
	m := NewMux()
	m.HandleFunc("GET /employer/invite/{token}", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	h := Chain(m, WithRequest(NewClientIPs(nil)), AccessLog(slog.New(slog.NewTextHandler(&buf, nil)), "internet"))
	const token = "Zk3Q9s_secret-token-value-0123456789"
	for _, p := range []string{"/employer/invite/" + token, "/nothing/" + token} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
	}
	log := buf.String()
	if strings.Contains(log, token) || !strings.Contains(log, `route="GET /employer/invite/{token}"`) ||
		!strings.Contains(log, "route=unmatched") {
		t.Fatalf("access log:\n%s", log)
	}
}

// Issue 10, item 9: a route given its own body limit takes more than the
// listener's limit; every other route keeps the listener's.
func TestRouteBodyLimit(t *testing.T) {
	m := NewMux()
	read := func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			WriteError(w, r, err)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}
	m.HandleFunc("POST /upload", read)
	m.HandleFunc("POST /form", read)
	m.AllowBody("POST /upload", 3000)
	h := Chain(m, BodyLimit(1000, m))
	for _, c := range []struct {
		path    string
		size    int
		chunked bool
		want    int
	}{
		{"/upload", 2500, false, 200}, {"/upload", 2500, true, 200}, {"/upload", 3001, false, 413}, {"/upload", 3001, true, 413},
		{"/form", 1000, false, 200}, {"/form", 1001, false, 413}, {"/form", 1001, true, 413},
	} {
		body := io.Reader(strings.NewReader(strings.Repeat("x", c.size)))
		if c.chunked {
			body = io.MultiReader(body) // no length known: read until the limit
		}
		req := httptest.NewRequest("POST", c.path, body)
		if c.chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s %d bytes (chunked %v): %d, want %d", c.path, c.size, c.chunked, rec.Code, c.want)
		}
	}
}
