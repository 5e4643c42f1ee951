// Package ui holds the pages' templates, the stylesheet and the little
// script every surface shares: embedded in the binary (the government network
// has no internet, so nothing comes from a CDN), parsed once at start, and
// rendered with typed page data. Every page works without JavaScript.
package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
)

//go:embed templates static
var files embed.FS

// Nav is one link of the navigation bar.
type Nav struct {
	Href, Label string
	Current     bool
}

// Page is what every template receives.
type Page struct {
	Title     string
	Surface   string // portal | public | office
	SiteName  string
	UserName  string
	UserRole  string
	Demo      bool
	LoggedIn  bool
	Nav       []Nav
	Flash     string
	Notice    string
	Alerts    []string // the office's banner of firing alerts
	Helpdesk  string
	Error     string
	Fields    map[string]string // field → message, shown beside the field
	FieldList []apperr.FieldError
	Form      map[string]string // values to keep in the form after an error
	RequestID string
	// Shared marks a page whose bytes are the same for every visitor (a
	// public list for someone not logged in): it carries no request ID.
	Shared bool
	Data   any
}

// SetError puts err on the page: a summary at the top and a message beside
// each named field.
func (p *Page) SetError(err error) {
	e := apperr.As(err)
	p.Error = e.Message
	p.FieldList = e.Fields
	p.Fields = map[string]string{}
	for _, f := range e.Fields {
		p.Fields[f.Field] = f.Message
	}
}

// Renderer renders the embedded templates.
type Renderer struct {
	pages map[string]*template.Template
}

// Funcs are the helpers templates may call.
var Funcs = template.FuncMap{
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(clock.Beijing).Format("2006-01-02 15:04")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(clock.Beijing).Format("2006-01-02")
	},
	"points": func(hundredths int64) string {
		neg := hundredths < 0
		if neg {
			hundredths = -hundredths
		}
		s := fmt.Sprintf("%d.%02d", hundredths/100, hundredths%100)
		if neg {
			s = "-" + s
		}
		return s
	},
	"dataURL": func(mime string, b []byte) template.URL {
		return template.URL("data:" + mime + ";base64," + base64Std(b))
	},
	"join": strings.Join,
	"seq": func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	},
	"add":        func(a, b int) int { return a + b },
	"actionName": ActionName,
	"micros": func(us int64) string {
		if us == 0 {
			return ""
		}
		return time.UnixMicro(us).In(clock.Beijing).Format("2006-01-02 15:04")
	},
	"fieldID":     FieldID,
	"roleName":    RoleName,
	"objectName":  ObjectName,
	"auditReason": AuditReason,
	"userAgent":   UserAgent,
}

// FieldID turns a field path into the element id pages give its control,
// after "f-" ("housing[1].from" → "housing-1-from").
func FieldID(path string) string { return fieldIDs.Replace(path) }

// fieldIDs is built once: a Replacer builds its tables on first use, and
// the calculator's form asks for hundreds of ids per page.
var fieldIDs = strings.NewReplacer("[", "-", "]", "", ".", "-")

// New parses every page once; a template error stops the start.
func New() (*Renderer, error) {
	base, err := template.New("layout.html").Funcs(Funcs).ParseFS(files, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	pages, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, p := range pages {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(files, p); err != nil {
			return nil, fmt.Errorf("parse %s: %w", p, err)
		}
		r.pages[strings.TrimSuffix(path.Base(p), ".html")] = t
	}
	return r, nil
}

// Has reports whether a page exists.
func (r *Renderer) Has(name string) bool { _, ok := r.pages[name]; return ok }

// Render writes page name with status. It renders into a buffer first so a
// template error becomes a clean 500, never half a page.
func (r *Renderer) Render(w http.ResponseWriter, req *http.Request, status int, name string, p *Page) {
	t, ok := r.pages[name]
	if !ok {
		web.WriteError(w, req, apperr.Wrap(fmt.Errorf("no page %q", name)))
		return
	}
	if p.SiteName == "" {
		p.SiteName = "北京市积分落户管理信息系统"
	}
	p.RequestID = web.RequestID(req.Context())
	if p.Shared {
		p.RequestID = ""
	}
	buf := renderBufs.Get().(*bytes.Buffer)
	defer putRenderBuf(buf)
	if err := t.ExecuteTemplate(buf, "layout.html", p); err != nil {
		web.WriteError(w, req, apperr.Wrap(fmt.Errorf("render %s: %w", name, err)))
		return
	}
	WriteHTML(w, status, buf.Bytes())
}

// WriteHTML writes a rendered page: no-store unless the handler chose a
// Cache-Control (web.Cached); an error page always no-store.
func WriteHTML(w http.ResponseWriter, status int, page []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	web.DefaultNoStore(h, status) // a handler's own Cache-Control (web.Cached) wins
	w.WriteHeader(status)
	_, _ = w.Write(page)
}

// RenderShared renders a shared page (Page.Shared) to bytes, for a handler
// that keeps them: the same bytes serve every visitor.
func (r *Renderer) RenderShared(name string, p *Page) ([]byte, error) {
	t, ok := r.pages[name]
	if !ok {
		return nil, fmt.Errorf("no page %q", name)
	}
	if p.SiteName == "" {
		p.SiteName = "北京市积分落户管理信息系统"
	}
	p.Shared, p.RequestID = true, ""
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// renderBufs holds the buffers pages are rendered into: a page is tens of
// kilobytes, and growing a new buffer to that size for every request was
// most of what a page allocated.
var renderBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putRenderBuf(b *bytes.Buffer) {
	if b.Cap() > 1<<20 { // a rare huge page is not kept
		return
	}
	b.Reset()
	renderBufs.Put(b)
}

// Fragment renders the template name of page (a {{define}} in that page's
// file or a partial) with data, for a part of a page that is the same for
// every request and is built once; the page then shows it as it is.
func (r *Renderer) Fragment(page, name string, data any) (template.HTML, error) {
	t, ok := r.pages[page]
	if !ok {
		return "", fmt.Errorf("no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return "", fmt.Errorf("render %s of %s: %w", name, page, err)
	}
	// html/template escaped it in context when it ran.
	return template.HTML(buf.String()), nil
}

// Static serves the embedded stylesheet, script and images under /static/.
// A directory is not a page: its listing would show what the site holds,
// so it answers 404 like any unknown path.
func Static() http.Handler {
	sub, _ := fs.Sub(files, "static")
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if name == "" || strings.HasSuffix(name, "/") {
			web.NotFound(w, r)
			return
		}
		if st, err := fs.Stat(sub, name); err == nil && st.IsDir() {
			web.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// FieldView is what the "field" partial renders.
type FieldView struct {
	Name, Label, Hint, Error, Value, Type, Autocomplete, Inputmode string
	Required                                                       bool
}

// F builds the view of one form field, with the value kept from the last
// submission and its error, if any.
func (p *Page) F(name, label, typ, autocomplete string) FieldView {
	return FieldView{Name: name, Label: label, Type: typ, Autocomplete: autocomplete, Value: p.Form[name],
		Error: p.Fields[name], Required: true}
}

// H is F with a hint under the label.
func (p *Page) H(name, label, typ, autocomplete, hint string) FieldView {
	f := p.F(name, label, typ, autocomplete)
	f.Hint = hint
	return f
}
