package office

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"jifen/internal/account"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/ident"
	"jifen/internal/platform/web"
	"jifen/internal/settings"
	"jifen/internal/surface/shell"
)

type settingsView struct {
	Action   string
	History  string
	Values   []settings.Value
	Pending  map[string]bool // keys with a change waiting for approval
	Approval map[string]bool // keys whose change needs a second administrator
}

// settingsOwner maps the page to the administrator who owns its settings:
// the system administrator's configuration or the security administrator's
// parameters.
func settingsOwner(r *http.Request) (settings.Owner, string, string) {
	if strings.HasPrefix(r.URL.Path, "/office/security/") {
		return settings.OwnerSecurity, "安全参数", "/office/security/settings"
	}
	return settings.OwnerSystem, "系统配置", "/office/admin/settings"
}

func (o *Office) settingsPage(w http.ResponseWriter, r *http.Request) {
	o.renderSettings(w, r, http.StatusOK, nil, nil)
}

func (o *Office) renderSettings(w http.ResponseWriter, r *http.Request, status int, err error, form map[string]string) {
	owner, title, action := settingsOwner(r)
	vals, verr := o.sh.Settings.Values(r.Context(), owner)
	if verr != nil {
		web.WriteError(w, r, verr)
		return
	}
	p := o.sh.Page(r, title)
	for _, v := range vals {
		p.Form[v.Key] = v.Value
	}
	for k, v := range form {
		p.Form[k] = v
	}
	if err != nil {
		p.SetError(err)
	}
	v := settingsView{Action: action, History: action + "/history", Values: vals, Pending: map[string]bool{},
		Approval: map[string]bool{}}
	for _, k := range settings.SecurityRelevant {
		v.Approval[k] = true
	}
	if hist, herr := o.sh.Settings.History(r.Context(), shell.Actor(r.Context()), owner, 50); herr == nil {
		for _, c := range hist {
			if c.Status == settings.ChangePending {
				v.Pending[c.Key] = true
			}
		}
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_settings", p)
}

func (o *Office) settingsSave(w http.ResponseWriter, r *http.Request) {
	owner, _, action := settingsOwner(r)
	_ = r.ParseForm()
	vals, err := o.sh.Settings.Values(r.Context(), owner)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	form := map[string]string{}
	var fe []apperr.FieldError
	for _, v := range vals {
		nv, ok := r.PostForm[v.Key]
		if !ok {
			continue
		}
		form[v.Key] = strings.TrimSpace(nv[0])
		if _, err := v.Validate(form[v.Key]); err != nil {
			fe = append(fe, apperr.As(err).Fields...)
		}
	}
	if err := apperr.Fields(fe); err != nil {
		o.renderSettings(w, r, http.StatusBadRequest, err, form)
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	form["reason"] = reason
	flash := "saved"
	for _, v := range vals {
		if nv, ok := form[v.Key]; ok && nv != v.Value {
			// Each setting is its own change with its own history row;
			// one failing (a pending change already waiting) stops the rest.
			ch, err := o.sh.Settings.Change(r.Context(), shell.Actor(r.Context()), v.Key, nv, reason)
			if err != nil {
				o.renderSettings(w, r, web.Status(err), err, form)
				return
			}
			if ch.Status == settings.ChangePending {
				flash = "change_pending"
			}
		}
	}
	o.sh.Flash(w, r, action, flash)
}

type auditView struct {
	Entries   []audit.Entry
	ExportURL string
	MoreURL   string
	CanExport bool
}

// auditFilter reads the filter from the query string, so a search is a
// link that can be kept and shared. An applicant's ID number selects every
// row recorded against that applicant's file: the audited reads by
// employers and officers, reveals of the full ID number, registration.
func (o *Office) auditFilter(r *http.Request) (audit.Filter, map[string]string, error) {
	q := r.URL.Query()
	f := audit.Filter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")),
		ObjectType: strings.TrimSpace(q.Get("object_type")), ObjectID: strings.TrimSpace(q.Get("object_id")),
		Outcome: q.Get("outcome"), Limit: 100}
	form := map[string]string{"actor": f.Actor, "action": f.Action, "object_type": f.ObjectType, "object_id": f.ObjectID,
		"outcome": f.Outcome, "from": q.Get("from"), "to": q.Get("to"), "applicant": strings.TrimSpace(q.Get("applicant"))}
	var fe []apperr.FieldError
	if s := form["applicant"]; s != "" && o.persons != nil {
		pe, err := o.persons.ByIDNumber(r.Context(), s)
		switch {
		case err == nil:
			af := audit.ApplicantFilter(pe.ID)
			f.ObjectType, f.ObjectID = af.ObjectType, af.ObjectID
		case apperr.CodeOf(err) == apperr.NotFound:
			fe = append(fe, apperr.FieldError{Field: "applicant", Message: "没有找到该身份证号的申请人，请核对号码"})
		default:
			return f, form, err
		}
	}
	if s := q.Get("from"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, clock.Beijing)
		if err != nil {
			fe = append(fe, apperr.FieldError{Field: "from", Message: "开始日期格式应为 2006-01-02"})
		}
		f.From = t
	}
	if s := q.Get("to"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, clock.Beijing)
		if err != nil {
			fe = append(fe, apperr.FieldError{Field: "to", Message: "结束日期格式应为 2006-01-02"})
		}
		f.To = t.AddDate(0, 0, 1) // inclusive end day
	}
	if s := q.Get("before"); s != "" {
		f.BeforeID, _ = strconv.ParseInt(s, 10, 64)
	}
	return f, form, apperr.Fields(fe)
}

func (o *Office) auditPage(w http.ResponseWriter, r *http.Request) {
	f, form, err := o.auditFilter(r)
	p := o.sh.Page(r, "审计日志")
	p.Form = form
	v := auditView{CanExport: shell.User(r.Context()).Can(account.PermAuditExport)}
	if err != nil {
		p.SetError(err)
	} else {
		v.Entries, err = o.sh.Audit.Search(r.Context(), f)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		q := r.URL.Query()
		q.Del("before")
		v.ExportURL = "/office/audit/export.csv?" + q.Encode()
		if len(v.Entries) == f.Limit {
			q.Set("before", strconv.FormatInt(v.Entries[len(v.Entries)-1].ID, 10))
			v.MoreURL = "/office/audit?" + q.Encode()
		}
	}
	p.Data = v
	status := http.StatusOK
	if err != nil {
		status = web.Status(err)
	}
	o.sh.Render(w, r, status, "office_audit", p)
}

func (o *Office) auditExport(w http.ResponseWriter, r *http.Request) {
	f, _, err := o.auditFilter(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	f.BeforeID = 0
	// The export itself is audited before it is streamed.
	// The search as the reason, with an applicant's ID number masked: the
	// trail keeps who exported what, not the number itself.
	q := r.URL.Query()
	if id := q.Get("applicant"); id != "" {
		q.Set("applicant", ident.MaskIDNumber(id))
	}
	if err := o.sh.Audit.Record(r.Context(), audit.Entry{Action: "audit.export", ObjectType: "audit_log", Reason: q.Encode()}); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-`+time.Now().In(clock.Beijing).Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	if _, err := o.sh.Audit.ExportCSV(r.Context(), f, w); err != nil {
		o.sh.Log.Error("audit export", "err", err, "request_id", web.RequestID(r.Context()))
	}
}
