package web

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Cached makes a public, cacheable answer to a GET or HEAD: it sets a strong
// ETag built from etag and "Cache-Control: public, max-age=N", and when the
// request's If-None-Match already names that tag it answers 304 Not
// Modified and returns true; the caller then writes nothing more. For other
// methods it sets nothing and returns false.
//
// etag is opaque; one with characters an entity-tag may not hold (a quote,
// a space, a control or non-ASCII character) is hashed with ETagOf first.
// The response helpers (JSON, the surfaces' Render) keep the Cache-Control
// set here, and WriteError replaces it with no-store: an error is never
// cached.
func Cached(w http.ResponseWriter, r *http.Request, etag string, maxAge time.Duration) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if !validETagValue(etag) {
		etag = ETagOf(etag)
	}
	tag := `"` + etag + `"`
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "public, max-age="+strconv.FormatInt(int64(max(maxAge, 0)/time.Second), 10))
	if !noneMatchHits(r.Header.Values("If-None-Match"), tag) {
		return false
	}
	w.WriteHeader(http.StatusNotModified)
	return true
}

// ETagOf is a short tag for the parts: the first 16 hex digits of the
// SHA-256 of the parts joined with NUL (so "a","bc" and "ab","c" differ).
// Sixty-four bits are plenty to tell versions of one resource apart.
func ETagOf(parts ...string) string {
	s := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(s[:8])
}

// validETagValue says whether s may stand between the quotes of an
// entity-tag (RFC 9110 §8.8.3: etagc = %x21 / %x23-7E / obs-text; obs-text
// is left out, a proxy may mangle it).
func validETagValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c == '"' || c > 0x7e {
			return false
		}
	}
	return true
}

// noneMatchHits applies If-None-Match (RFC 9110 §13.1.2): "*" matches any
// current representation, else any listed entity-tag that matches tag by
// the weak comparison (W/ prefixes ignored). The header may come in several
// lines, each a comma-separated list; a malformed member ends that line's
// list, as net/http does.
func noneMatchHits(lines []string, tag string) bool {
	for _, line := range lines {
		s := line
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			if s[0] == '*' {
				return true
			}
			t, rest, ok := scanETag(s)
			if !ok {
				break
			}
			if t == tag {
				return true
			}
			s = rest
		}
	}
	return false
}

// scanETag reads one entity-tag at the start of s, returning it without a
// W/ prefix (so weak and strong tags compare equal) and the rest of s.
func scanETag(s string) (tag, rest string, ok bool) {
	s = strings.TrimPrefix(s, "W/")
	if len(s) < 2 || s[0] != '"' {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return s[:i+1], s[i+1:], true
		case c == 0x21 || c >= 0x23 && c <= 0x7e || c >= 0x80:
		default:
			return "", "", false
		}
	}
	return "", "", false
}

// DefaultNoStore sets "Cache-Control: no-store" on a response of status
// unless h already holds a Cache-Control: pages and answers are private by
// default, and a handler that set its own (with Cached) made that choice on
// purpose. An error status is always no-store.
func DefaultNoStore(h http.Header, status int) {
	if _, ok := h["Cache-Control"]; !ok || status >= 400 {
		h.Set("Cache-Control", "no-store")
		if status >= 400 {
			h.Del("ETag")
		}
	}
}
