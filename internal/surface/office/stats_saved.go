package office

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/stats"
	"jifen/internal/statsreport"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// SavedReportPages are the office pages of saved statistics queries, their
// schedules and subscribers, and the report download area (统计报表下载区).
// A type of its own, registered beside Office, so wiring it touches no
// shared file but app.go.
type SavedReportPages struct {
	sh  *shell.Shell
	svc *statsreport.Service
}

// NewSavedReports returns the saved-query and download pages.
func NewSavedReports(sh *shell.Shell, svc *statsreport.Service) *SavedReportPages {
	return &SavedReportPages{sh: sh, svc: svc}
}

// Register adds the routes. Officers of a district or of the city may use
// them (the city officer holds cases.district too); statsreport checks
// ownership, scope and subscriptions again.
func (p *SavedReportPages) Register(mux *web.Mux) {
	h := func(pattern string, fn http.HandlerFunc) {
		mux.Handle(pattern, p.sh.RequireUser(account.PermCasesDistrict, fn))
	}
	h("GET /office/reports/saved", p.list)
	h("POST /office/statistics/saved", p.saveQuery)
	h("POST /office/reports/saved", p.saveReport)
	h("POST /office/reports/saved/{id}", p.edit)
	h("POST /office/reports/saved/{id}/run", p.run)
	h("POST /office/reports/saved/{id}/delete", p.remove)
	h("POST /office/reports/saved/{id}/subscribers", p.subscribe)
	h("POST /office/reports/saved/{id}/subscribers/{uid}/delete", p.unsubscribe)
	h("GET /office/reports/files", p.files)
	h("GET /office/reports/files/{id}", p.download)
}

// savedRow is a saved query with its subscribers, for the list.
type savedRow struct {
	*statsreport.Saved
	Subscribers []statsreport.Subscriber
	KindName    string
}

type savedView struct {
	Rows     []savedRow
	Weekdays []option
	Hours    []int
	Done     string // the message of the action just done
}

// doneMessages are the notices the list may show after an action (a code
// in the URL, never text from it).
var doneMessages = map[string]string{
	"saved":        "已保存。",
	"run":          "已开始生成报表，完成后可在报表下载区下载，并通知订阅人。",
	"deleted":      "已删除。已生成的报表文件仍保留在下载区，到期后自动删除。",
	"subscribed":   "已添加订阅人。",
	"unsubscribed": "已移除订阅人。",
}

func (p *SavedReportPages) list(w http.ResponseWriter, r *http.Request) {
	pg := p.sh.Page(r, "我的统计查询")
	p.render(w, r, http.StatusOK, pg)
}

func (p *SavedReportPages) render(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page) {
	ctx := r.Context()
	by := shell.Actor(ctx)
	mine, err := p.svc.Mine(ctx, by)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := savedView{Done: doneMessages[r.URL.Query().Get("done")]}
	for _, s := range mine {
		subs, err := p.svc.Subscribers(ctx, by, s.ID)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		kind := "统计查询"
		if s.Kind == statsreport.KindReport {
			kind = "固定报表"
		}
		v.Rows = append(v.Rows, savedRow{Saved: s, Subscribers: subs, KindName: kind})
	}
	for d := 1; d <= 7; d++ {
		v.Weekdays = append(v.Weekdays, option{strconv.Itoa(d), statsreport.WeekdayName(d)})
	}
	for h := range 24 {
		v.Hours = append(v.Hours, h)
	}
	pg.Data = v
	p.sh.Render(w, r, status, "office_reports_saved", pg)
}

// fail shows a form's error on the list, with the input kept; other errors
// are the error page.
func (p *SavedReportPages) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict:
		pg := p.sh.Page(r, "我的统计查询")
		pg.SetError(err)
		for k, vs := range r.PostForm {
			if len(vs) > 0 {
				pg.Form[k] = vs[0]
			}
		}
		p.render(w, r, web.Status(err), pg)
	default:
		web.WriteError(w, r, err)
	}
}

func done(code string) string { return "/office/reports/saved?done=" + code }

// timing reads a schedule from a form; an unreadable number is kept out of
// range so the service names the field.
func timing(r *http.Request) statsreport.Timing {
	num := func(k string, bad int) int {
		v := strings.TrimSpace(r.PostFormValue(k))
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return bad
		}
		return n
	}
	t := statsreport.Timing{Schedule: r.PostFormValue("schedule"), Weekday: num("weekday", -1), Hour: num("hour", -1)}
	if t.Schedule == "none" {
		t.Schedule = statsreport.Manual
	}
	return t
}

// saveQuery saves the pivot query posted (the form fields stats.ParseQuery
// reads, as the statistics page sends them) under a name.
func (p *SavedReportPages) saveQuery(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.New(apperr.Invalid, "提交的内容无法读取"))
		return
	}
	q, err := stats.ParseQuery(queryFields(r.PostForm))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if _, err := p.svc.Save(r.Context(), shell.Actor(r.Context()), r.PostFormValue("name"), statsreport.KindQuery,
		statsreport.QuerySpec(q), timing(r)); err != nil {
		p.fail(w, r, err)
		return
	}
	web.Redirect(w, r, done("saved"))
}

// queryFields are the posted fields of the query itself, without the
// save form's own (name, schedule, the CSRF token…), which ParseQuery would
// take for unknown names.
func queryFields(form url.Values) url.Values {
	out := url.Values{}
	for k, vs := range form {
		if k == "dims" || k == "measures" || strings.HasPrefix(k, "f.") {
			out[k] = vs
		}
	}
	return out
}

// saveReport saves a ready report: its code and its parameters (fields
// named p.<param>).
func (p *SavedReportPages) saveReport(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.New(apperr.Invalid, "提交的内容无法读取"))
		return
	}
	params := map[string]string{}
	for k, vs := range r.PostForm {
		if name, ok := strings.CutPrefix(k, "p."); ok && len(vs) > 0 {
			params[name] = vs[0]
		}
	}
	spec := statsreport.ReportSpec(strings.TrimSpace(r.PostFormValue("code")), params)
	if _, err := p.svc.Save(r.Context(), shell.Actor(r.Context()), r.PostFormValue("name"), statsreport.KindReport,
		spec, timing(r)); err != nil {
		p.fail(w, r, err)
		return
	}
	web.Redirect(w, r, done("saved"))
}

func (p *SavedReportPages) edit(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		_, err = p.svc.Edit(r.Context(), shell.Actor(r.Context()), id, formVersion(r.PostFormValue("version")), r.PostFormValue("name"), timing(r))
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	web.Redirect(w, r, done("saved"))
}

func (p *SavedReportPages) run(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		_, err = p.svc.RunNow(r.Context(), shell.Actor(r.Context()), id)
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	web.Redirect(w, r, done("run"))
}

func (p *SavedReportPages) remove(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		err = p.svc.Delete(r.Context(), shell.Actor(r.Context()), id, formVersion(r.PostFormValue("version")))
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	web.Redirect(w, r, done("deleted"))
}

func (p *SavedReportPages) subscribe(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		_, err = p.svc.Subscribe(r.Context(), shell.Actor(r.Context()), id, r.PostFormValue("login"))
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	web.Redirect(w, r, done("subscribed"))
}

func (p *SavedReportPages) unsubscribe(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	var uid int64
	if err == nil {
		uid, err = pathID(r, "uid")
	}
	if err == nil {
		err = p.svc.Unsubscribe(r.Context(), shell.Actor(r.Context()), id, uid)
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	web.Redirect(w, r, done("unsubscribed"))
}

type filesView struct {
	Files []*statsreport.File
}

func (p *SavedReportPages) files(w http.ResponseWriter, r *http.Request) {
	fs, err := p.svc.Files(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg := p.sh.Page(r, "报表下载区")
	pg.Data = filesView{Files: fs}
	p.sh.Render(w, r, http.StatusOK, "office_reports_files", pg)
}

// download sends a produced file; statsreport records the export in the
// audit trail.
func (p *SavedReportPages) download(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	f, err := p.svc.Download(r.Context(), shell.Actor(r.Context()), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", `attachment; filename="`+f.FileName()+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(f.Content)
}
