package portal

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/internal/application"
	"jifen/internal/check"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/web"
	"jifen/internal/round"
	"jifen/internal/rules"
	"jifen/internal/surface/ui"
)

const appsPerPage = 50

// tabView is a status filter of the employer's list with its count.
type tabView struct {
	Label   string
	N       int
	Href    string
	Current bool
}

// appsView is the employer's list of applications (申请审核): a dense table
// for a clerk with dozens of people, filters in the URL, bulk submission.
type appsView struct {
	Tabs          []tabView
	Status, Query string
	Page          int
	Prev, Next    string
	Rows          []appRow
	Fileable      int // rows with a checkbox
	Results       []bulkRow
	Filed, Failed int
}

type appRow struct {
	ID                          int64
	Name, Status, Badge, Points string
	Eligible, Fileable          bool
	SubmittedAt                 time.Time
}

type bulkRow struct {
	ID        int64
	Name, Err string
	OK        bool
}

// appsHref is the list's address with its filters.
func appsHref(status application.Status, q string, page int) string {
	v := url.Values{}
	if status != "" {
		v.Set("status", string(status))
	}
	if q != "" {
		v.Set("q", q)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/employer/applications"
	}
	return "/employer/applications?" + v.Encode()
}

// statusTabs are the list's filters: all, the status the clerk works on,
// and every other status that has applications.
func statusTabs(counts map[application.Status]int, current application.Status, q string) []tabView {
	total := 0
	for _, n := range counts {
		total += n
	}
	tabs := []tabView{{Label: "全部", N: total, Href: appsHref("", q, 1), Current: current == ""}}
	for _, s := range application.Statuses {
		if counts[s] > 0 || s == application.WithEmployer || s == current {
			tabs = append(tabs, tabView{Label: application.StatusName(s), N: counts[s], Href: appsHref(s, q, 1), Current: s == current})
		}
	}
	return tabs
}

// appsFilter reads the list's filters from a query or a form.
func appsFilter(v url.Values) (application.Status, string, int) {
	st := application.Status(v.Get("status"))
	if !slices.Contains(application.Statuses, st) {
		st = ""
	}
	page, _ := strconv.Atoi(v.Get("page"))
	return st, v.Get("q"), max(page, 1)
}

func (p *Portal) appsPage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	st, q, page := appsFilter(r.URL.Query())
	p.renderApps(w, r, http.StatusOK, p.page(r, "申请审核"), c, st, q, page, nil)
}

func (p *Portal) renderApps(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page, c *operatorCtx,
	st application.Status, q string, page int, results []bulkRow) {
	v := appsView{Status: string(st), Query: q, Page: page, Results: results}
	for _, res := range results {
		if res.OK {
			v.Filed++
		} else {
			v.Failed++
		}
	}
	if c.roundID != 0 {
		list, counts, err := p.svc.Applications.ForEmployer(r.Context(), c.employer.ID, c.roundID, application.Filter{
			Status: st, Name: q, Limit: appsPerPage + 1, Offset: (page - 1) * appsPerPage})
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		v.Tabs = statusTabs(counts, st, q)
		if len(list) > appsPerPage {
			list, v.Next = list[:appsPerPage], appsHref(st, q, page+1)
		}
		if page > 1 {
			v.Prev = appsHref(st, q, page-1)
		}
		for _, s := range list {
			row := appRow{ID: s.ID, Name: s.PersonName, Status: application.StatusName(s.Status), Badge: statusBadge(s.Status),
				Points: rules.Points(s.Estimate).String(), Eligible: s.Eligible, Fileable: s.Status == application.WithEmployer,
				SubmittedAt: db.FromMicros(s.SubmittedAt)}
			if row.Fileable {
				v.Fileable++
			}
			v.Rows = append(v.Rows, row)
		}
	}
	pg.Data = v
	p.sh.Render(w, r, status, "portal_employer_apps", pg)
}

// appsFile submits the checked applications to the bureau (批量确认提交),
// each on its own as POST /api/v1/employer/applications/file does, and
// shows what became of each above the list it was sent from.
func (p *Portal) appsFile(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok || !readForm(w, r, formLimit) {
		return
	}
	st, q, page := appsFilter(r.PostForm)
	var ids []int64
	for _, s := range r.PostForm["id"] {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	pg := p.page(r, "申请审核")
	if len(ids) == 0 || len(ids) > 500 {
		err := apperr.Field("ids", "请勾选要确认提交的申请（一次最多500份）")
		pg.SetError(err)
		p.renderApps(w, r, statusOf(err), pg, c, st, q, page, nil)
		return
	}
	names := map[int64]string{}
	if c.roundID != 0 {
		all, _, err := p.svc.Applications.ForEmployer(r.Context(), c.employer.ID, c.roundID, application.Filter{Limit: 500})
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		for _, s := range all {
			names[s.ID] = s.PersonName
		}
	}
	if !ui.Confirmed(r) {
		var who []string
		for _, id := range ids {
			who = append(who, nameOr(names[id], id))
		}
		p.confirm(w, r, "确认提交所选申请", ui.Confirm{
			Heading: "确认提交 " + strconv.Itoa(len(ids)) + " 份申请？",
			Lead:    "申请人：" + strings.Join(who, "、"),
			Effects: fileEffects,
			Action:  "/employer/applications/file", Carry: ui.Carry(r.PostForm), Button: "确认提交",
			Cancel: appsHref(st, q, page),
		})
		return
	}
	var results []bulkRow
	for _, res := range p.svc.Applications.FileMany(r.Context(), c.caller, ids) {
		results = append(results, bulkRow{ID: res.ID, Name: nameOr(names[res.ID], res.ID), OK: res.OK, Err: res.Error})
	}
	p.renderApps(w, r, http.StatusOK, pg, c, st, q, page, results)
}

// appDetailView is one application as the employer reviews it.
type appDetailView struct {
	Clock      *application.StepClock // the service clock (clock.go)
	App        *application.Application
	Status     caseStatus
	Sections   []sectionView
	Result     *rules.Result
	NoResult   string
	Files      []fileView
	Events     []eventView
	CanAct     bool // with the employer: return or file
	Review     *application.ReviewRequest
	Asked      []string
	CanForward bool
	// Precheck is the applicant's latest pre-check as the employer sees
	// it: when and how many items in each outcome, never a value.
	Precheck *check.PrecheckSummary
	// Barred is why the fraud register (虚假材料库) stops this application
	// from being filed: the applicant's ban, the employer's, or both.
	Barred []string
	// Final is the final score once the application is final; rank and
	// cutoff wait for the publication.
	Final *finalScore
}

func (p *Portal) appPage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	id, ok := pathInt(r, "id")
	if !ok {
		web.WriteError(w, r, application.ErrNotFound)
		return
	}
	p.renderApp(w, r, http.StatusOK, p.page(r, "申请详情"), c, id)
}

func (p *Portal) renderApp(w http.ResponseWriter, r *http.Request, status int, pg *ui.Page, c *operatorCtx, id int64) {
	ctx := r.Context()
	a, err := p.svc.Applications.Get(ctx, c.caller, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	files, err := p.svc.Attachments.ListOf(ctx, c.caller, a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	es, err := p.svc.Applications.EventsOf(ctx, c.caller, a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := appDetailView{App: a, Sections: sectionViews(a.Declaration, files, false), Events: eventViews(es),
		CanAct: a.Status == application.WithEmployer}
	v.Status = caseStatus{Status: application.StatusName(a.Status), Badge: statusBadge(a.Status), Who: a.PersonName,
		Next: "申请人填报中，提交后由单位审核。", ReasonLabel: "退回理由", Reason: a.ReturnReason}
	if rd, err := p.currentRound(ctx, a.RoundID); err == nil {
		v.Status.Title = rd.Title
		if v.CanAct {
			v.Status.Next, v.Status.Who = "核对申请人填报的信息和材料：无误的确认提交，有误的退回并说明理由。", "本单位"
			v.Status.at(rd, round.EmployerSubmission, true)
		}
	}
	if a.Status != application.Draft && a.Status != application.Returned && !v.CanAct {
		v.Status.Next, v.Status.Who, v.Status.Reason = "单位已提交，后续由审核部门办理。", "审核部门", ""
	}
	if v.CanAct {
		person, emp, err := p.svc.Applications.Barred(ctx, a)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		if person != "" {
			v.Barred = append(v.Barred, "申请人"+person+"积分落户（已列入虚假材料库），本单位不能为其确认提交。")
		}
		if emp != "" {
			v.Barred = append(v.Barred, "本单位"+emp+"（已列入虚假材料库）。")
		}
	}
	v.Result, v.NoResult = estimateOf(a.Declaration)
	v.Clock = p.clockOf(ctx, a)
	if p.svc.Precheck != nil {
		// A failure to read it leaves the line out rather than the page.
		v.Precheck, _ = p.svc.Precheck.PrecheckSummaryOf(ctx, a)
	}
	for _, f := range files {
		v.Files = append(v.Files, fileOf(f, "/employer/applications/"+strconv.FormatInt(id, 10)+"/attachments/"))
	}
	if a.Status == application.ReviewRequested {
		if req, err := p.svc.Applications.Review(ctx, c.caller, id); err == nil {
			labels := bookOf(a.Declaration.ApplicationYear).Labels()
			v.Review, v.CanForward = req, req.Status == "requested"
			for _, code := range req.Indicators {
				v.Asked = append(v.Asked, optLabel(labels.Indicators, code))
			}
			v.Status.Next, v.Status.Who = "补充证明材料，转交区服务窗口复查。", "本单位"
		}
	}
	if a.Status == application.Final || a.Status == application.Published {
		if v.Final, err = p.finalOf(ctx, a); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	pg.Data = v
	p.sh.Render(w, r, status, "portal_employer_app", pg)
}

var appActions = map[string]string{"return": "application_returned", "file": "application_filed", "forward-review": "review_forwarded"}

// appPost returns (with a reason), files, or forwards a 复查 request, as
// POST /api/v1/employer/applications/{id}/{action}.
func (p *Portal) appPost(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok || !readForm(w, r, formLimit) {
		return
	}
	id, ok := pathInt(r, "id")
	action := r.PathValue("action")
	if !ok || appActions[action] == "" {
		web.NotFound(w, r)
		return
	}
	ctx := r.Context()
	var err error
	to := "/employer/applications?status=with_employer"
	switch action {
	case "return":
		_, err = p.svc.Applications.Return(ctx, c.caller, id, r.PostFormValue("reason"))
	case "file":
		if !ui.Confirmed(r) {
			a, err := p.svc.Applications.Get(ctx, c.caller, id)
			if err != nil {
				web.WriteError(w, r, err)
				return
			}
			back := "/employer/applications/" + strconv.FormatInt(id, 10)
			p.confirm(w, r, "确认提交申请", ui.Confirm{
				Heading: "确认提交" + a.PersonName + "的申请？", Lead: "申请编号 " + strconv.FormatInt(id, 10) + "，当前状态：" + application.StatusName(a.Status) + "。",
				Effects: fileEffects, Action: back + "/file", Carry: ui.Carry(r.PostForm), Button: "确认提交", Cancel: back,
			})
			return
		}
		_, err = p.svc.Applications.File(ctx, c.caller, id)
	default:
		err = p.svc.Applications.ForwardReview(ctx, c.caller, id, r.PostFormValue("note"))
		to = "/employer/applications/" + strconv.FormatInt(id, 10)
	}
	if err == nil {
		p.sh.Flash(w, r, to, appActions[action])
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	pg := p.page(r, "申请详情")
	pg.SetError(err)
	keepForm(pg, r.PostForm, "reason", "note")
	p.renderApp(w, r, statusOf(err), pg, c, id)
}

// appAttachment sends a file of one of the employer's applications.
func (p *Portal) appAttachment(w http.ResponseWriter, r *http.Request) {
	c, ok := p.operatorOf(w, r)
	if !ok {
		return
	}
	id, ok := pathInt(r, "id")
	if !ok {
		web.WriteError(w, r, application.ErrNotFound)
		return
	}
	p.sendAttachment(w, r, c.caller, id)
}

// fileEffects is what 确认提交 does, shown before the employer confirms.
var fileEffects = []string{
	"申请报送区人力社保局审核部门，由系统与各委办局数据比对后计算初核结果。",
	"提交后，单位不能再退回申请人修改，也不能解除与申请人的关联。",
	"单位与申请人共同对申报信息的真实性负责。",
}

// nameOr is an applicant's name, or the application's number when the name
// is not known.
func nameOr(name string, id int64) string {
	if name == "" {
		return "申请 " + strconv.FormatInt(id, 10)
	}
	return name
}

// confirm shows the step before an action that cannot be undone; nothing
// has changed yet.
func (p *Portal) confirm(w http.ResponseWriter, r *http.Request, title string, c ui.Confirm) {
	pg := p.page(r, title)
	pg.Data = c
	p.sh.Render(w, r, http.StatusOK, "confirm", pg)
}
