package portal

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"jifen/internal/accessstats"
	"jifen/internal/objection"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/surface/ui"
)

// objectionBody is the largest objection form: the attachment's 5 MB and
// room for the text fields and the multipart framing.
const objectionBody = objection.MaxAttachment + 64<<10

// objectionFieldLimit bounds one text field of the form as read (the
// service then counts characters).
const objectionFieldLimit = 16 << 10

// registerObjections adds the public objection form (异议/举报), its
// submission (rate-limited per client) and the follow page of a receipt.
// Nil Objections leaves them out.
func (p *Portal) registerObjections(mux *web.Mux) {
	if p.svc.Objections == nil {
		return
	}
	lim := p.svc.ObjectionLimiter
	if lim == nil {
		lim = web.NewLimiter(0.1, 3)
	}
	mux.HandleFunc("GET /publicity/objection", p.objectionForm)
	mux.Handle("POST /publicity/objection", lim.Limit(http.HandlerFunc(p.objectionSubmit)))
	mux.AllowBody("POST /publicity/objection", objectionBody)
	mux.HandleFunc("GET /publicity/objection/{receipt}", p.objectionFollow)
}

type objectionFormView struct {
	MaxText, MinText, MaxContact int
}

// objectionForm shows the form; ?receipt= (the small lookup form on the
// same page) goes to that receipt's follow page.
func (p *Portal) objectionForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rc := strings.TrimSpace(q.Get("receipt")); rc != "" {
		n, ok := objection.NormalizeReceipt(rc)
		if !ok {
			pg := p.sh.Page(r, "对公示名单提出异议")
			pg.SetError(apperr.Field("receipt", "受理编号应为16位字母和数字，如 ABCD-EFGH-JKLM-NPQR，请核对"))
			pg.Form["receipt"] = rc
			p.renderObjectionForm(w, r, http.StatusBadRequest, pg)
			return
		}
		web.Redirect(w, r, "/publicity/objection/"+objection.GroupReceipt(n))
		return
	}
	pg := p.sh.Page(r, "对公示名单提出异议")
	pg.Form["year"], pg.Form["number"] = q.Get("year"), q.Get("number")
	p.renderObjectionForm(w, r, http.StatusOK, pg)
}

func (p *Portal) renderObjectionForm(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page) {
	pg.Data = objectionFormView{MinText: objection.MinText, MaxText: objection.MaxText, MaxContact: objection.MaxContact}
	p.sh.Render(w, r, status, "portal_objection", pg)
}

// objectionSubmit reads the multipart form in its order — the text fields,
// then the file, streamed to the service, which checks the fields before
// it reads the file — and answers with the receipt's follow page.
func (p *Portal) objectionSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, objectionBody)
	vals := map[string]string{}
	l := objection.Lodging{ClientAddr: web.ClientAddr(r.Context()), RequestID: web.RequestID(r.Context())}
	var res *objection.Receipt
	err := errors.New("no form")
	mr, merr := r.MultipartReader()
	if merr != nil {
		err = apperr.Field("body", "表单内容无法读取，请返回后重新填写")
	}
	done := false
	for merr == nil && !done {
		part, perr := mr.NextPart()
		if perr != nil {
			if web.IsTooLarge(perr) {
				err = apperr.Field("attachment", objection.MsgAttachmentSize)
				done = true
			}
			break
		}
		name := part.FormName()
		if name == "attachment" {
			if part.FileName() != "" {
				l.File = part
			}
			res, err = p.lodge(r, vals, l)
			done = true
			break
		}
		b, rerr := io.ReadAll(io.LimitReader(part, objectionFieldLimit))
		if rerr != nil {
			err = apperr.Field("body", "表单内容无法读取，请返回后重新填写")
			done = true
			break
		}
		vals[name] = string(b)
	}
	if !done && merr == nil {
		res, err = p.lodge(r, vals, l) // a form without the file input
	}
	if err == nil {
		accessstats.Count(r.Context(), accessstats.Objection)
		p.sh.Flash(w, r, "/publicity/objection/"+res.Receipt, "objection_lodged")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.sh.Page(r, "对公示名单提出异议")
	pg.SetError(err)
	for _, k := range []string{"year", "number", "grounds", "contact"} {
		pg.Form[k] = vals[k]
	}
	p.renderObjectionForm(w, r, statusOf(err), pg)
}

func (p *Portal) lodge(r *http.Request, vals map[string]string, l objection.Lodging) (*objection.Receipt, error) {
	year, err := strconv.Atoi(strings.TrimSpace(vals["year"]))
	if err != nil {
		return nil, apperr.Field("year", "请从公示名单页面进入，或填写公示年度（如 2027）")
	}
	l.Year, l.Number, l.Grounds, l.Contact = year, vals["number"], vals["grounds"], vals["contact"]
	return p.svc.Objections.Lodge(r.Context(), l)
}

// objectionFollow shows where an objection stands to whoever holds its
// receipt.
func (p *Portal) objectionFollow(w http.ResponseWriter, r *http.Request) {
	o, err := p.svc.Objections.Get(r.Context(), r.PathValue("receipt"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg := p.sh.Page(r, "异议办理进度")
	pg.Data = o
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the receipt is in the path
	p.sh.Render(w, r, http.StatusOK, "portal_objection_follow", pg)
}
