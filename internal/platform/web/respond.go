package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"jifen/internal/platform/apperr"
)

var (
	tooLarge    = apperr.New(apperr.TooLarge, "提交的内容过大")
	tooMany     = apperr.New(apperr.TooManyRequests, "操作过于频繁，请稍后再试")
	crossOrigin = apperr.New(apperr.Forbidden, "请求来源不被允许，请从本站页面提交")
	notFound    = apperr.New(apperr.NotFound, "您访问的页面不存在")
	badMethod   = &apperr.Error{Code: "method_not_allowed", Message: "不支持该请求方法"}
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[apperr.Code]int{
	apperr.Invalid:         http.StatusBadRequest,
	apperr.NotFound:        http.StatusNotFound,
	apperr.Conflict:        http.StatusConflict,
	apperr.Forbidden:       http.StatusForbidden,
	apperr.Unauthorized:    http.StatusUnauthorized,
	apperr.Locked:          http.StatusLocked,
	apperr.TooManyRequests: http.StatusTooManyRequests,
	apperr.TooLarge:        http.StatusRequestEntityTooLarge,
	apperr.Internal:        http.StatusInternalServerError,
	"method_not_allowed":   http.StatusMethodNotAllowed,
	"busy":                 http.StatusServiceUnavailable,
}

// Status returns the HTTP status of err.
func Status(err error) int {
	if s, ok := statusOf[apperr.CodeOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// IsTooLarge reports whether err came from reading past the body limit.
func IsTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// WantsJSON reports whether the answer to r should be JSON: API paths and
// clients that ask for JSON.
func WantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json") &&
		!strings.Contains(r.Header.Get("Accept"), "text/html")
}

// ErrorBody is the JSON shape of every error under /api/.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries the code, the Chinese message, field errors and the
// request id (for support calls).
type ErrorDetail struct {
	Code      string              `json:"code"`
	Message   string              `json:"message"`
	Fields    []apperr.FieldError `json:"fields,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
}

// Logger receives internal errors; set once by the application.
var logger = slog.Default()

// SetLogger sets the logger of internal errors.
func SetLogger(l *slog.Logger) { logger = l }

// WriteError answers err as JSON or as a Chinese error page. Internal causes
// are logged with the request id and never shown.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if IsTooLarge(err) {
		err = tooLarge
	}
	e := apperr.As(err)
	status := Status(e)
	// An error is never cached, whatever the handler set before it failed.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("ETag")
	if status >= 500 {
		logger.Error("internal error", "request_id", RequestID(r.Context()), "route", Route(r.Context()), "err", err)
	}
	if WantsJSON(r) {
		JSON(w, status, ErrorBody{ErrorDetail{Code: string(e.Code), Message: e.Message, Fields: e.Fields, RequestID: RequestID(r.Context())}})
		return
	}
	page := ErrorPage{Status: status, Message: e.Message, Fields: e.Fields, RequestID: RequestID(r.Context())}
	if render, _ := r.Context().Value(keyErrorPages).(ErrorRenderer); render != nil {
		// An error while rendering the error page must not come back here.
		render(w, r.WithContext(context.WithValue(r.Context(), keyErrorPages, ErrorRenderer(nil))), page)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = bareErrorPage.Execute(w, page)
}

// ErrorPage is what an error page says.
type ErrorPage struct {
	Status    int
	Message   string // in Chinese, safe to show
	Fields    []apperr.FieldError
	RequestID string
}

// ErrorRenderer writes an error page, status included, in the layout of
// the surface that serves the request.
type ErrorRenderer func(w http.ResponseWriter, r *http.Request, p ErrorPage)

// WithErrorPages makes WriteError render HTML error pages with render. The
// application installs it on each listener with the surface's layout
// (platform imports no surface); place it outside Recover so a panic's
// page gets it too.
func WithErrorPages(render ErrorRenderer) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyErrorPages, render)))
		})
	}
}

// bareErrorPage is the page without a surface's layout: for a handler used
// without WithErrorPages, and for a failure of the layout itself.
var bareErrorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{.Message}}</title></head>
<body><h1>{{.Message}}</h1>
{{if .Fields}}<ul>{{range .Fields}}<li>{{.Message}}</li>{{end}}</ul>{{end}}
<p>错误代码 {{.Status}}{{if .RequestID}}，请求编号 {{.RequestID}}（咨询时请提供）{{end}}</p></body></html>`))

// JSON writes v with status. It answers no-store unless the handler set a
// Cache-Control of its own before (Cached does, for public data).
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	DefaultNoStore(w.Header(), status)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// DecodeJSON reads a JSON body into v, refusing unknown fields, and turns
// every failure into a Chinese field error.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if IsTooLarge(err) {
			return tooLarge
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return apperr.Field(te.Field, "字段“"+te.Field+"”的类型不正确")
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return apperr.Field(f, "不认识的字段“"+f+"”")
		}
		return apperr.Field("body", "请求内容不是有效的 JSON")
	}
	if dec.More() {
		return apperr.Field("body", "请求内容只能包含一个 JSON 对象")
	}
	return nil
}

// NotFound answers 404.
func NotFound(w http.ResponseWriter, r *http.Request) { WriteError(w, r, notFound) }

// MethodNotAllowed answers 405.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) { WriteError(w, r, badMethod) }

// Redirect sends a 303 See Other (the right answer to a form post).
func Redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}
