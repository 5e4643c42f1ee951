package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"jifen/internal/platform/apperr"
)

// MaxPage is the highest page number a list is asked for: a larger one is
// clamped to it, so that no offset computed from it overflows (a page of
// 9223372036854775807 made PostgreSQL refuse a negative OFFSET).
const MaxPage = 100_000

// maxCheckedBody bounds the bodies ValidInput reads to check; larger ones
// (never a form or JSON of ours) are left to the handler and its limit.
const maxCheckedBody = 4 << 20

// ValidInput refuses, with a 400 and a Chinese message naming the field,
// a request whose text no handler should see: invalid UTF-8, a NUL byte or
// another control character (tab, line feed and carriage return allowed)
// in the path, a query parameter, a url-encoded form field or a JSON
// string. PostgreSQL refuses such text with an error that used to surface
// as a 500; SQLite stored it. It also clamps the page parameter of lists to
// MaxPage. Multipart bodies (uploads) are left to their handler.
func ValidInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The user agent is stored with a session: PostgreSQL refuses invalid
		// UTF-8, which the HTTP parser lets through in header values.
		if ua := r.Header.Get("User-Agent"); !utf8.ValidString(ua) {
			r.Header.Set("User-Agent", strings.ToValidUTF8(ua, "\uFFFD"))
		}
		if !validText(r.URL.Path) {
			WriteError(w, r, badText("path", "访问地址"))
			return
		}
		// A malformed pair does not stop the parse (nor the handler's
		// r.URL.Query()), so the values are checked whatever the error.
		q, qerr := url.ParseQuery(r.URL.RawQuery)
		if err := checkValues(q); err != nil {
			WriteError(w, r, err)
			return
		}
		if !validText(r.URL.RawQuery) {
			WriteError(w, r, badText("query", "查询参数"))
			return
		}
		if qerr == nil && clampPage(q) {
			r.URL.RawQuery = q.Encode()
		}
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength > maxCheckedBody {
			next.ServeHTTP(w, r)
			return
		}
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct != "application/x-www-form-urlencoded" && ct != "application/json" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxCheckedBody+1))
		if err != nil {
			if !IsTooLarge(err) { // past the body limit: 413; else the client went away
				err = apperr.Field("body", "请求内容无法读取，请重新提交")
			}
			WriteError(w, r, err)
			return
		}
		if len(body) > maxCheckedBody {
			WriteError(w, r, tooLarge)
			return
		}
		if ct == "application/json" {
			err = checkJSON(body)
		} else {
			form, perr := url.ParseQuery(string(body))
			switch err = checkValues(form); {
			case err != nil:
			case !validText(string(body)):
				err = badText("body", "表单内容")
			case perr == nil && clampPage(form):
				body = []byte(form.Encode())
			}
		}
		if err != nil {
			WriteError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// validText reports whether s is valid UTF-8 without control characters
// other than tab, line feed and carriage return.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return false
		}
	}
	return true
}

func badText(field, label string) error {
	return apperr.Field(field, label+"含有无法识别的字符（如空字符、控制字符或非 UTF-8 编码的文字），请检查后重新输入")
}

func checkValues(v url.Values) error {
	for k, vs := range v {
		if !validText(k) {
			return badText("query", "参数名")
		}
		for _, s := range vs {
			if !validText(s) {
				return badText(k, "“"+k+"”")
			}
		}
	}
	return nil
}

// clampPage lowers a page number above MaxPage to MaxPage and reports
// whether it changed v.
func clampPage(v url.Values) bool {
	changed := false
	for i, s := range v["page"] {
		if n, err := strconv.ParseInt(s, 10, 64); (err == nil && n > MaxPage) || errors.Is(err, strconv.ErrRange) && s[0] != '-' {
			v["page"][i] = strconv.Itoa(MaxPage)
			changed = true
		}
	}
	return changed
}

// checkJSON walks the strings (keys and values) of a JSON body and names
// a bad one by the key of the object it is in. A body that is not JSON at
// all is left to the handler, which says so.
func checkJSON(body []byte) error {
	if !utf8.Valid(body) {
		return badText("body", "请求内容")
	}
	type frame struct {
		obj, wantKey bool
		key          string
	}
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	// At the end of the input, or if it is not JSON, the check ends: the
	// handler answers malformed JSON with its own message.
	next := func() (json.Token, bool) {
		tok, err := dec.Token()
		return tok, err == nil
	}
	for {
		tok, ok := next()
		if !ok {
			break
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{obj: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		case string:
			if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
				stack[n-1].key, stack[n-1].wantKey = t, false
				if !validText(t) {
					return badText("body", "字段名")
				}
				continue
			}
			if !validText(t) {
				field := "body"
				for i := len(stack) - 1; i >= 0; i-- {
					if stack[i].obj {
						field = stack[i].key
						break
					}
				}
				return badText(field, "“"+field+"”")
			}
		}
		valueDone()
	}
	return nil
}

// ServerErrors logs every answer of status 500 or more at error level with
// its request id, method and route pattern (never the path, which may hold
// a token), whichever layer wrote it: WriteError logs the cause as well,
// but a page rendered with a 5xx status otherwise left no trace beyond the
// access line.
func ServerErrors(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &codeWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.code >= 500 {
				log.LogAttrs(r.Context(), slog.LevelError, "server error",
					slog.String("request_id", RequestID(r.Context())),
					slog.String("method", r.Method),
					slog.String("route", Route(r.Context())),
					slog.Int("status", sw.code))
			}
		})
	}
}

// codeWriter records the status of a response.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
