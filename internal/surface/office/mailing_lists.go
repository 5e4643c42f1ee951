package office

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/mailing"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/mail"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithMailing gives the office the mass-mail lists, suppression list and
// templates (邮件群发).
func (o *Office) WithMailing(l *mailing.Lists) *Office { o.mailing = l; return o }

// importLimit bounds an uploaded list: a million addresses with a name and
// a few variables each.
const importLimit = 256 << 20

// registerMailing adds the pages of the mail operators (mail.send): lists
// (dynamic lists, CSV upload with its report, delete), the suppression
// list, and templates (edit with the errors beside the field, preview).
func (o *Office) registerMailing(mux *web.Mux) {
	if o.mailing == nil {
		return
	}
	sh := o.sh
	h := func(pattern string, fn http.HandlerFunc) {
		mux.Handle(pattern, sh.RequireUser(account.PermMailSend, fn))
	}
	h("GET /office/mail/lists", o.mailLists)
	h("POST /office/mail/lists", o.mailListCreate)
	h("POST /office/mail/lists/import", o.mailListImport)
	mux.AllowBody("POST /office/mail/lists/import", importLimit)
	h("POST /office/mail/lists/{id}/delete", o.mailListDelete)
	h("GET /office/mail/suppressions", o.mailSuppressions)
	h("POST /office/mail/suppressions", o.mailSuppress)
	h("POST /office/mail/suppressions/remove", o.mailUnsuppress)
	h("GET /office/mail/templates", o.mailTemplates)
	h("GET /office/mail/templates/new", o.mailTemplateNew)
	h("POST /office/mail/templates", o.mailTemplateSave)
	h("GET /office/mail/templates/{id}", o.mailTemplateEdit)
	h("POST /office/mail/templates/{id}", o.mailTemplateSave)
	h("POST /office/mail/templates/{id}/delete", o.mailTemplateDelete)
	h("POST /office/mail/templates/{id}/test", o.mailTemplateTest)
}

// mailTemplateTest sends the template, rendered for the sample recipient, to
// the operator's own address through the outbox (a test send to oneself).
func (o *Office) mailTemplateTest(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	t, err := o.mailing.Template(ctx, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	u := shell.User(ctx)
	if u == nil || u.Email == "" {
		web.WriteError(w, r, apperr.New(apperr.Conflict, "您的账号没有登记邮箱，无法发送测试邮件；请联系系统管理员登记"))
		return
	}
	pv, err := mailing.PreviewFor(*t, mailing.SampleRecipient)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if _, err := o.outbox.Enqueue(ctx, mail.Message{To: u.Email, ToName: u.DisplayName, Subject: "[测试] " + pv.Subject, Text: pv.Text,
		HTML: pv.HTML, Category: "mail.test", Ref: fmt.Sprintf("mail_template:%d", t.ID)}); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, fmt.Sprintf("/office/mail/templates/%d", t.ID), "sent")
}

type mailListsView struct {
	Lists     []*mailing.List
	Kinds     []option
	Statuses  []option
	Districts []string
	Roles     []option
	Report    *mailing.ImportReport
}

func (o *Office) mailLists(w http.ResponseWriter, r *http.Request) {
	o.renderMailLists(w, r, http.StatusOK, o.sh.Page(r, "邮件名单"), nil)
}

func (o *Office) renderMailLists(w http.ResponseWriter, r *http.Request, status int, p *ui.Page, rep *mailing.ImportReport) {
	ls, err := o.mailing.All(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := mailListsView{Lists: ls, Report: rep, Districts: rules.Districts()}
	for _, k := range mailing.QueryKinds {
		v.Kinds = append(v.Kinds, option{string(k.Kind), k.Name})
	}
	for _, s := range application.Statuses {
		v.Statuses = append(v.Statuses, option{string(s), application.StatusName(s)})
	}
	for _, ri := range actor.Roles {
		if ri.Zone == actor.Office {
			v.Roles = append(v.Roles, option{string(ri.Role), ri.Name})
		}
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_mail_lists", p)
}

// formError shows the page again with err beside its field, the input
// kept; other errors are the error page.
func (o *Office) formError(w http.ResponseWriter, r *http.Request, err error, title string, keys []string,
	render func(w http.ResponseWriter, r *http.Request, status int, p *ui.Page)) {
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict, apperr.NotFound:
		p := o.sh.Page(r, title)
		p.SetError(err)
		for _, k := range keys {
			if vs, ok := r.PostForm[k]; ok {
				p.Form[k] = vs[0]
			}
		}
		render(w, r, web.Status(err), p)
	default:
		web.WriteError(w, r, err)
	}
}

func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 512<<10)
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("body", "表单内容无法读取，请返回后重新填写"))
		return false
	}
	return true
}

func (o *Office) mailListCreate(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	q := mailing.Query{Kind: mailing.QueryKind(f.Get("kind")), Params: map[string]string{
		"year": f.Get("year"), "status": f.Get("status"), "district": f.Get("district"), "role": f.Get("role")}}
	_, err := o.mailing.CreateDynamic(r.Context(), shell.Actor(r.Context()), f.Get("name"), f.Get("description"), q)
	if err != nil {
		o.formError(w, r, err, "邮件名单", []string{"name", "description", "kind", "year", "status", "district", "role"},
			func(w http.ResponseWriter, r *http.Request, status int, p *ui.Page) {
				o.renderMailLists(w, r, status, p, nil)
			})
		return
	}
	o.sh.Flash(w, r, "/office/mail/lists", "created")
}

// mailListImport streams the upload (multipart: the field list, then the
// file) into the import, so a large file is never held whole.
func (o *Office) mailListImport(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		web.WriteError(w, r, apperr.Field("file", "请选择要上传的 CSV 文件"))
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		web.WriteError(w, r, apperr.Field("file", "上传内容无法读取，请重新上传"))
		return
	}
	var list string
	var rep *mailing.ImportReport
	err = apperr.Field("file", "请选择要上传的 CSV 文件")
	for {
		part, perr := mr.NextPart()
		if errors.Is(perr, io.EOF) {
			break
		}
		if perr != nil {
			err = apperr.Field("file", "上传内容无法读取，请重新上传")
			if web.IsTooLarge(perr) {
				err = perr
			}
			break
		}
		switch part.FormName() {
		case "list":
			b, _ := io.ReadAll(io.LimitReader(part, 1<<10))
			list = string(b)
		case "file":
			if part.FileName() == "" {
				continue
			}
			rep, err = o.mailing.ImportCSV(r.Context(), shell.Actor(r.Context()), list, part)
		}
		_ = part.Close()
		if rep != nil || (err != nil && part.FormName() == "file") {
			break
		}
	}
	p := o.sh.Page(r, "邮件名单")
	if err != nil {
		if web.IsTooLarge(err) {
			web.WriteError(w, r, err)
			return
		}
		p.Form["list"] = list
		p.SetError(err)
		if !apperr.Is(err, apperr.Invalid) {
			web.WriteError(w, r, err)
			return
		}
		o.renderMailLists(w, r, web.Status(err), p, nil)
		return
	}
	p.Flash = "导入完成：新增 " + strconv.Itoa(rep.Accepted) + " 个地址。"
	o.renderMailLists(w, r, http.StatusOK, p, rep)
}

func (o *Office) mailListDelete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if !parseForm(w, r) {
		return
	}
	version, _ := strconv.Atoi(r.PostForm.Get("version"))
	if err := o.mailing.Delete(r.Context(), shell.Actor(r.Context()), id, version); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/mail/lists", "saved")
}

type suppressionsView struct {
	Rows    []mailing.Suppression
	Query   string
	Source  string
	Sources []option
}

func (o *Office) mailSuppressions(w http.ResponseWriter, r *http.Request) {
	o.renderSuppressions(w, r, http.StatusOK, o.sh.Page(r, "屏蔽名单"))
}

func (o *Office) renderSuppressions(w http.ResponseWriter, r *http.Request, status int, p *ui.Page) {
	q := r.URL.Query()
	v := suppressionsView{Query: q.Get("q"), Source: q.Get("source")}
	for _, s := range mailing.Sources {
		v.Sources = append(v.Sources, option{s, mailing.SourceName(s)})
	}
	rows, err := o.mailing.Suppressions(r.Context(), shell.Actor(r.Context()), mailing.SuppressionFilter{Query: v.Query, Source: v.Source})
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v.Rows = rows
	p.Data = v
	o.sh.Render(w, r, status, "office_mail_lists_suppressions", p)
}

func (o *Office) mailSuppress(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	err := o.mailing.Suppress(r.Context(), shell.Actor(r.Context()), r.PostForm.Get("email"), mailing.SourceManual, r.PostForm.Get("reason"))
	if err != nil {
		o.formError(w, r, err, "屏蔽名单", []string{"email", "reason"}, o.renderSuppressions)
		return
	}
	o.sh.Flash(w, r, "/office/mail/suppressions", "saved")
}

func (o *Office) mailUnsuppress(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	err := o.mailing.Unsuppress(r.Context(), shell.Actor(r.Context()), r.PostForm.Get("email"), r.PostForm.Get("reason"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/mail/suppressions", "saved")
}

type templatesView struct{ Rows []*mailing.Template }

func (o *Office) mailTemplates(w http.ResponseWriter, r *http.Request) {
	ts, err := o.mailing.Templates(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := o.sh.Page(r, "邮件模板")
	p.Data = templatesView{Rows: ts}
	o.sh.Render(w, r, http.StatusOK, "office_mail_templates", p)
}

type templateEditView struct {
	T         mailing.Template
	Variables []string // ".Name：收件人姓名" lines
	Preview   *mailing.Preview
}

func (o *Office) renderTemplate(w http.ResponseWriter, r *http.Request, status int, p *ui.Page, t mailing.Template, pv *mailing.Preview) {
	v := templateEditView{T: t, Preview: pv}
	for _, x := range mailing.Variables {
		v.Variables = append(v.Variables, "{{."+x.Field+"}}："+x.Meaning)
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_mail_templates_edit", p)
}

func (o *Office) mailTemplateNew(w http.ResponseWriter, r *http.Request) {
	o.renderTemplate(w, r, http.StatusOK, o.sh.Page(r, "新建邮件模板"), mailing.Template{}, nil)
}

func (o *Office) mailTemplateEdit(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	t, err := o.mailing.Template(r.Context(), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.renderTemplate(w, r, http.StatusOK, o.sh.Page(r, "编辑邮件模板"), *t, nil)
}

// mailTemplateSave saves the form, or with action=preview renders it for
// the sample recipient without saving; errors go beside their field.
func (o *Office) mailTemplateSave(w http.ResponseWriter, r *http.Request) {
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	t := mailing.Template{Name: f.Get("name"), Subject: f.Get("subject"), HTML: f.Get("html"),
		Text: strings.ReplaceAll(f.Get("text"), "\r\n", "\n"), Mandatory: f.Get("mandatory") == "1"}
	t.Version, _ = strconv.Atoi(f.Get("version"))
	if r.PathValue("id") != "" {
		id, err := pathID(r, "id")
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		t.ID = id
	}
	title := "编辑邮件模板"
	if t.ID == 0 {
		title = "新建邮件模板"
	}
	if f.Get("action") == "preview" {
		p := o.sh.Page(r, title)
		pv, err := mailing.PreviewFor(t, mailing.Recipient{})
		status := http.StatusOK
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				web.WriteError(w, r, err)
				return
			}
			p.SetError(err)
			status = web.Status(err)
		}
		o.renderTemplate(w, r, status, p, t, pv)
		return
	}
	saved, err := o.mailing.SaveTemplate(r.Context(), shell.Actor(r.Context()), t)
	if err != nil {
		if c := apperr.CodeOf(err); c != apperr.Invalid && c != apperr.Conflict {
			web.WriteError(w, r, err)
			return
		}
		p := o.sh.Page(r, title)
		p.SetError(err)
		o.renderTemplate(w, r, web.Status(err), p, t, nil)
		return
	}
	o.sh.Flash(w, r, "/office/mail/templates/"+strconv.FormatInt(saved.ID, 10), "saved")
}

func (o *Office) mailTemplateDelete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if !parseForm(w, r) {
		return
	}
	version, _ := strconv.Atoi(r.PostForm.Get("version"))
	if err := o.mailing.DeleteTemplate(r.Context(), shell.Actor(r.Context()), id, version); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/mail/templates", "saved")
}
