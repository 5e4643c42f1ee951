package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"jifen/internal/platform/apperr"
)

func TestCachedAnswers304WhenIfNoneMatchNamesTheTag(t *testing.T) {
	const tag = `"abc123"`
	cases := []struct {
		name, method string
		inm          []string // If-None-Match lines; nil: no header
		want304      bool
		wantHeaders  bool
	}{
		{"no header", "GET", nil, false, true},
		{"exact", "GET", []string{`"abc123"`}, true, true},
		{"HEAD exact", "HEAD", []string{`"abc123"`}, true, true},
		{"other tag", "GET", []string{`"abc124"`}, false, true},
		{"weak prefix matches (weak comparison)", "GET", []string{`W/"abc123"`}, true, true},
		{"in a list", "GET", []string{`"x", W/"y" ,"abc123"`}, true, true},
		{"list without spaces", "GET", []string{`"x","abc123"`}, true, true},
		{"second header line", "GET", []string{`"x"`, `"abc123"`}, true, true},
		{"star", "GET", []string{`*`}, true, true},
		{"star in a list", "GET", []string{`"x", *`}, true, true},
		{"unquoted is no tag", "GET", []string{`abc123`}, false, true},
		{"prefix is not a match", "GET", []string{`"abc12"`}, false, true},
		{"quote inside is malformed", "GET", []string{`"abc"123"`}, false, true},
		{"malformed stops the list", "GET", []string{`bogus, "abc123"`}, false, true},
		{"unterminated", "GET", []string{`"abc123`}, false, true},
		{"empty", "GET", []string{``}, false, true},
		{"POST never cached", "POST", []string{`"abc123"`}, false, false},
		{"PUT never cached", "PUT", nil, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "/p", nil)
			for _, v := range c.inm {
				r.Header.Add("If-None-Match", v)
			}
			rec := httptest.NewRecorder()
			got := Cached(rec, r, "abc123", 5*time.Minute)
			if got != c.want304 {
				t.Fatalf("Cached = %v, want %v", got, c.want304)
			}
			if c.want304 && rec.Code != http.StatusNotModified {
				t.Errorf("status %d, want 304", rec.Code)
			}
			if !c.want304 && rec.Code != http.StatusOK || rec.Body.Len() != 0 {
				t.Errorf("wrote %d %q; the caller writes the answer", rec.Code, rec.Body.String())
			}
			etag, cc := rec.Header().Get("ETag"), rec.Header().Get("Cache-Control")
			if c.wantHeaders && (etag != tag || cc != "public, max-age=300") {
				t.Errorf("ETag %q Cache-Control %q", etag, cc)
			}
			if !c.wantHeaders && (etag != "" || cc != "") {
				t.Errorf("%s got caching headers: ETag %q Cache-Control %q", c.method, etag, cc)
			}
		})
	}
}

func TestCachedQuotesOnlyValidTags(t *testing.T) {
	cases := []struct{ in, want string }{
		{"2022-v3", `"2022-v3"`},
		{`a"b`, `"` + ETagOf(`a"b`) + `"`},
		{"has space", `"` + ETagOf("has space") + `"`},
		{"年度", `"` + ETagOf("年度") + `"`},
		{"", `"` + ETagOf("") + `"`},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		Cached(rec, httptest.NewRequest("GET", "/", nil), c.in, time.Hour)
		if got := rec.Header().Get("ETag"); got != c.want {
			t.Errorf("%q: ETag %s, want %s", c.in, got, c.want)
		}
		// The tag it sets must be one it recognises in If-None-Match.
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("If-None-Match", c.want)
		if !Cached(httptest.NewRecorder(), r, c.in, time.Hour) {
			t.Errorf("%q: its own tag %s did not match", c.in, c.want)
		}
	}
}

func TestCachedMaxAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "public, max-age=0", -time.Second: "public, max-age=0", 1500 * time.Millisecond: "public, max-age=1",
		24 * time.Hour: "public, max-age=86400",
	} {
		rec := httptest.NewRecorder()
		Cached(rec, httptest.NewRequest("GET", "/", nil), "t", d)
		if got := rec.Header().Get("Cache-Control"); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func TestETagOf(t *testing.T) {
	a, b := ETagOf("a", "bc"), ETagOf("ab", "c")
	if len(a) != 16 || !validETagValue(a) {
		t.Fatalf("ETagOf = %q, want 16 hex digits", a)
	}
	if a == b {
		t.Error("parts are not separated: a|bc == ab|c")
	}
	if ETagOf("a", "bc") != a {
		t.Error("not deterministic")
	}
	// sha256("") starts e3b0c442 98fc1c14.
	if got := ETagOf(""); got != "e3b0c44298fc1c14" {
		t.Errorf("ETagOf() = %s", got)
	}
}

// TestResponsesAreNoStoreUnlessTheHandlerChose checks the default stays
// private: only an explicit Cached makes an answer public, and an error is
// never public even after Cached.
func TestResponsesAreNoStoreUnlessTheHandlerChose(t *testing.T) {
	jsonOK := func(w http.ResponseWriter, r *http.Request) { JSON(w, 200, map[string]int{"n": 1}) }
	cases := []struct {
		name    string
		h       http.HandlerFunc
		status  int
		cc      string
		hasETag bool
	}{
		{"JSON without caching", jsonOK, 200, "no-store", false},
		{"JSON after Cached", func(w http.ResponseWriter, r *http.Request) {
			if !Cached(w, r, "v1", time.Minute) {
				jsonOK(w, r)
			}
		}, 200, "public, max-age=60", true},
		{"private choice kept", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "private, no-store")
			jsonOK(w, r)
		}, 200, "private, no-store", false},
		{"error after Cached (JSON)", func(w http.ResponseWriter, r *http.Request) {
			Cached(w, r, "v1", time.Minute)
			WriteError(w, r, apperr.New(apperr.NotFound, "没有"))
		}, 404, "no-store", false},
		{"error after Cached (page)", func(w http.ResponseWriter, r *http.Request) {
			Cached(w, r, "v1", time.Minute)
			WriteError(w, r, apperr.Wrap(errors.New("boom")))
		}, 500, "no-store", false},
		{"JSON error status after Cached", func(w http.ResponseWriter, r *http.Request) {
			Cached(w, r, "v1", time.Minute)
			JSON(w, 400, map[string]string{"x": "y"})
		}, 400, "no-store", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := Chain(c.h, SecurityHeaders(false))
			rec := httptest.NewRecorder()
			path := "/page"
			if c.name == "error after Cached (JSON)" {
				path = "/api/v1/x"
			}
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != c.status || rec.Header().Get("Cache-Control") != c.cc || (rec.Header().Get("ETag") != "") != c.hasETag {
				t.Fatalf("%d Cache-Control %q ETag %q", rec.Code, rec.Header().Get("Cache-Control"), rec.Header().Get("ETag"))
			}
		})
	}
}
