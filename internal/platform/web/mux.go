package web

import (
	"context"
	"net/http"
)

// Mux is a stdlib ServeMux whose own 404 and 405 answers are replaced by
// jifen's Chinese ones, and which records the matched route pattern for the
// access log and metrics.
type Mux struct {
	*http.ServeMux
	bodyLimits map[string]int64 // by route pattern; filled in before serving
	patterns   []string
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{ServeMux: http.NewServeMux()} }

// AllowBody gives the route pattern (as registered) a body limit of its
// own instead of the listener's (BodyLimit): an upload route takes a 10 MB
// file while every other request stays small. Call it before serving.
func (m *Mux) AllowBody(pattern string, n int64) {
	if m.bodyLimits == nil {
		m.bodyLimits = map[string]int64{}
	}
	m.bodyLimits[pattern] = n
}

// bodyLimit returns the body limit of the route r matches, if it has one.
func (m *Mux) bodyLimit(r *http.Request) (int64, bool) {
	if m == nil || len(m.bodyLimits) == 0 || r.Body == nil || r.Body == http.NoBody {
		return 0, false
	}
	_, pattern := m.Handler(r)
	n, ok := m.bodyLimits[pattern]
	return n, ok
}

// Handle registers h for pattern and remembers the pattern (Patterns).
func (m *Mux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers f for pattern and remembers the pattern (Patterns).
func (m *Mux) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, f)
}

// Patterns returns the registered route patterns in order of registration:
// the route table that tests walk (every route × role × owner).
func (m *Mux) Patterns() []string { return append([]string(nil), m.patterns...) }

type routeKey struct{}

// routeHolder is filled in by Mux once the route is known, and read by the
// outer layers (access log, metrics) after the handler returns.
type routeHolder struct{ pattern string }

// WithRouteHolder prepares ctx so that Route can report the matched pattern.
func WithRouteHolder(ctx context.Context) context.Context {
	return context.WithValue(ctx, routeKey{}, &routeHolder{})
}

// Route returns the route pattern matched for the request in ctx, or
// "unmatched".
func Route(ctx context.Context) string {
	if h, ok := ctx.Value(routeKey{}).(*routeHolder); ok && h.pattern != "" {
		return h.pattern
	}
	return "unmatched"
}

func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := m.Handler(r)
	if rh, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
		rh.pattern = pattern
	}
	if pattern == "" {
		// The mux's own answer: 404, 405, or a redirect to a canonical path.
		h.ServeHTTP(&errorCatcher{ResponseWriter: w, r: r}, r)
		return
	}
	m.ServeMux.ServeHTTP(w, r)
}

type errorCatcher struct {
	http.ResponseWriter
	r       *http.Request
	caught  bool
	written bool
}

func (c *errorCatcher) WriteHeader(code int) {
	if c.written {
		return
	}
	c.written = true
	switch code {
	case http.StatusNotFound:
		c.caught = true
		NotFound(c.ResponseWriter, c.r)
	case http.StatusMethodNotAllowed:
		c.caught = true
		MethodNotAllowed(c.ResponseWriter, c.r)
	default:
		c.ResponseWriter.WriteHeader(code)
	}
}

func (c *errorCatcher) Write(b []byte) (int, error) {
	if !c.written {
		c.WriteHeader(http.StatusOK)
	}
	if c.caught {
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}
