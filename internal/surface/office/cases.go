package office

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"jifen/internal/account"
	"jifen/internal/casefile"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithCasefile gives the office the case view (案件视图).
func (o *Office) WithCasefile(s *casefile.Service) *Office { o.cases = s; return o }

// registerCases adds the case view, its reveal, notes and inline
// materials, as pages and as JSON. The route lets case officers through;
// the service decides which cases (the employer's district) and audits.
func (o *Office) registerCases(mux *web.Mux) {
	if o.cases == nil {
		return
	}
	sh := o.sh
	h := func(f http.HandlerFunc) http.Handler { return sh.RequireUser(account.PermCasesDistrict, f) }
	mux.Handle("GET /office/cases/{id}", h(o.casePage))
	mux.Handle("POST /office/cases/{id}/reveal", h(o.caseReveal))
	mux.Handle("POST /office/cases/{id}/notes", h(o.caseNote))
	mux.Handle("GET /office/cases/{id}/attachments/{att}", h(o.caseAttachment))
	mux.Handle("GET /api/v1/office/cases/{id}", h(o.apiCase))
	mux.Handle("POST /api/v1/office/cases/{id}/reveal", h(o.apiCaseReveal))
	mux.Handle("POST /api/v1/office/cases/{id}/notes", h(o.apiCaseNote))
	mux.Handle("GET /api/v1/office/cases/{id}/attachments/{att}", h(o.caseAttachment))
}

// caseView is the case page's data.
type caseView struct {
	*casefile.Case
	Purposes []casefile.Purpose
	Query    string // ?purpose=… carried by the page's links and forms
}

func (o *Office) casePage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	c, err := o.cases.Open(r.Context(), shell.Actor(r.Context()), id, r.URL.Query().Get("purpose"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.renderCase(w, r, http.StatusOK, o.sh.Page(r, "案件"), c)
}

func (o *Office) renderCase(w http.ResponseWriter, r *http.Request, status int, p *ui.Page, c *casefile.Case) {
	v := caseView{Case: c, Purposes: casefile.Purposes}
	if c.Purpose.Code != casefile.Purposes[0].Code {
		v.Query = "?purpose=" + url.QueryEscape(c.Purpose.Code)
	}
	p.Title = "案件 " + strconv.FormatInt(c.ID, 10) + "：" + c.PersonName
	p.Data = v
	o.sh.Render(w, r, status, "office_case", p)
}

// readCaseForm reads a small form; on failure it answers and returns false.
func readCaseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("body", "表单内容无法读取，请返回后重新填写"))
		return false
	}
	return true
}

// caseReveal shows the case with the full ID number and phone, in this
// answer only; a missing reason shows the page again with the message.
func (o *Office) caseReveal(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if !readCaseForm(w, r) {
		return
	}
	ctx, u := r.Context(), shell.Actor(r.Context())
	purpose, reason := r.PostFormValue("purpose"), r.PostFormValue("reason")
	c, err := o.cases.Reveal(ctx, u, id, purpose, reason)
	if err == nil {
		w.Header().Set("Cache-Control", "no-store")
		o.renderCase(w, r, http.StatusOK, o.sh.Page(r, "案件"), c)
		return
	}
	if e := apperr.As(err); e.Code != apperr.Invalid || len(e.Fields) == 0 || e.Fields[0].Field != "reason" {
		web.WriteError(w, r, err)
		return
	}
	c, oerr := o.cases.Open(ctx, u, id, purpose)
	if oerr != nil {
		web.WriteError(w, r, oerr)
		return
	}
	p := o.sh.Page(r, "案件")
	p.SetError(err)
	p.Form["reason"] = reason
	o.renderCase(w, r, http.StatusBadRequest, p, c)
}

// caseNote adds a note and goes back to the case's notes.
func (o *Office) caseNote(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if !readCaseForm(w, r) {
		return
	}
	ctx, u := r.Context(), shell.Actor(r.Context())
	purpose, body := r.PostFormValue("purpose"), r.PostFormValue("body")
	q := ""
	if p, perr := casefile.PurposeOf(purpose); perr == nil && p.Code != casefile.Purposes[0].Code {
		q = "?purpose=" + url.QueryEscape(p.Code)
	}
	_, err = o.cases.AddNote(ctx, u, id, body)
	if err == nil {
		web.Redirect(w, r, "/office/cases/"+strconv.FormatInt(id, 10)+q+"#notes")
		return
	}
	if apperr.CodeOf(err) != apperr.Invalid {
		web.WriteError(w, r, err)
		return
	}
	c, oerr := o.cases.Open(ctx, u, id, purpose)
	if oerr != nil {
		web.WriteError(w, r, oerr)
		return
	}
	p := o.sh.Page(r, "案件")
	p.SetError(err)
	p.Form["body"] = body
	o.renderCase(w, r, http.StatusBadRequest, p, c)
}

// inlineTypes are the types a material is shown as in the browser; they
// are the types an upload is sniffed to be (application.Attachments.Add),
// and anything else would be sent as a download of bytes.
var inlineTypes = map[string]bool{"application/pdf": true, "image/jpeg": true, "image/png": true}

// caseAttachment shows one material inline: with the type its content was
// checked to be at upload, nosniff, a policy that runs nothing and no
// caching. The read is audited with the purpose (casefile.OpenAttachment).
func (o *Office) caseAttachment(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	att, err := pathID(r, "att")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	at, rc, err := o.cases.OpenAttachment(r.Context(), shell.Actor(r.Context()), id, att, r.URL.Query().Get("purpose"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	defer rc.Close()
	ct, kind := at.ContentType, "inline"
	if !inlineTypes[ct] {
		ct, kind = "application/octet-stream", "attachment"
	}
	disp := mime.FormatMediaType(kind, map[string]string{"filename": at.DownloadName()})
	if disp == "" {
		disp = kind
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", disp)
	h.Set("Content-Length", strconv.FormatInt(at.Size, 10))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// The file is the applicant's, not the site's: it loads nothing and,
	// for an image, runs nothing (sandbox). A PDF is left to the browser's
	// own viewer, which a sandbox would stop.
	csp := "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
	if ct == "application/pdf" {
		csp = "default-src 'none'; object-src 'self'; frame-ancestors 'self'"
	}
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	_, _ = io.Copy(w, rc)
}

func (o *Office) apiCase(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	c, err := o.cases.Open(r.Context(), shell.Actor(r.Context()), id, r.URL.Query().Get("purpose"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, c)
}

func (o *Office) apiCaseReveal(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var in struct {
		Reason  string `json:"reason"`
		Purpose string `json:"purpose"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	c, err := o.cases.Reveal(r.Context(), shell.Actor(r.Context()), id, in.Purpose, in.Reason)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, c)
}

func (o *Office) apiCaseNote(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	n, err := o.cases.AddNote(r.Context(), shell.Actor(r.Context()), id, in.Body)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, n)
}
