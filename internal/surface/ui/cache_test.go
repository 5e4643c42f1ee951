package ui

import (
	"net/http/httptest"
	"testing"
	"time"

	"jifen/internal/platform/web"
)

// TestRenderKeepsAnExplicitCacheControl: a page is no-store unless its
// handler chose web.Cached, and an error status is no-store regardless.
func TestRenderKeepsAnExplicitCacheControl(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		cached bool
		status int
		want   string
	}{
		{"plain page", false, 200, "no-store"},
		{"cached page", true, 200, "public, max-age=600"},
		{"error page after Cached", true, 404, "no-store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/x", nil)
			if c.cached && web.Cached(rec, req, "v1", 10*time.Minute) {
				t.Fatal("304 without If-None-Match")
			}
			r.Render(rec, req, c.status, "error", &Page{Title: "t", Data: web.ErrorPage{Status: c.status, Message: "页面不存在"}})
			if rec.Code != c.status || rec.Header().Get("Cache-Control") != c.want {
				t.Fatalf("%d Cache-Control %q, want %d %q", rec.Code, rec.Header().Get("Cache-Control"), c.status, c.want)
			}
			if c.status >= 400 && rec.Header().Get("ETag") != "" {
				t.Error("an error page keeps the ETag")
			}
		})
	}
}
