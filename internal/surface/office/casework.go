package office

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/calendar"
	"jifen/internal/casework"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithCasework gives the office the work queues, the assignment of cases,
// the service clock's limits and the working-day calendar.
func (o *Office) WithCasework(cw *casework.Service, cal *calendar.Service) *Office {
	o.cw, o.cal = cw, cal
	return o
}

// registerCasework adds the queue, assignment, workload, calendar and
// step-limit pages and their JSON API.
func (o *Office) registerCasework(mux *web.Mux) {
	if o.cw == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/queue", sh.RequireUser(account.PermCasesDistrict, o.queuePage))
	mux.Handle("POST /office/queue/assign", sh.RequireUser(account.PermCasesAssign, o.queueBulkAssign))
	mux.Handle("POST /office/queue/{id}/{action}", sh.RequireUser(account.PermCasesDistrict, o.queueAction))
	mux.Handle("GET /office/workload", sh.RequireUser(account.PermCasesAssign, o.workloadPage))
	mux.Handle("GET /office/calendar", sh.RequireUser(account.PermRoundsManage, o.calendarPage))
	mux.Handle("POST /office/calendar", sh.RequireUser(account.PermRoundsManage, o.calendarSet))
	mux.Handle("POST /office/calendar/{date}/remove", sh.RequireUser(account.PermRoundsManage, o.calendarRemove))
	mux.Handle("GET /office/rounds/{id}/limits", sh.RequireUser(account.PermRoundsManage, o.limitsPage))
	mux.Handle("POST /office/rounds/{id}/limits", sh.RequireUser(account.PermRoundsManage, o.limitsSave))

	mux.Handle("GET /api/v1/office/queue", sh.RequireUser(account.PermCasesDistrict, o.apiQueue))
	mux.Handle("POST /api/v1/office/cases/assign", sh.RequireUser(account.PermCasesAssign, o.apiBulkAssign))
	mux.Handle("POST /api/v1/office/cases/{id}/{action}", sh.RequireUser(account.PermCasesDistrict, o.apiCaseAction))
	mux.Handle("GET /api/v1/office/workload", sh.RequireUser(account.PermCasesAssign, o.apiWorkload))
	mux.Handle("GET /api/v1/office/calendar", sh.RequireUser(account.PermRoundsManage, o.apiCalendar))
	mux.Handle("PUT /api/v1/office/calendar/{date}", sh.RequireUser(account.PermRoundsManage, o.apiCalendarSet))
	mux.Handle("DELETE /api/v1/office/calendar/{date}", sh.RequireUser(account.PermRoundsManage, o.apiCalendarRemove))
	mux.Handle("GET /api/v1/office/rounds/{id}/limits", sh.RequireUser(account.PermRoundsManage, o.apiLimits))
	mux.Handle("PUT /api/v1/office/rounds/{id}/limits", sh.RequireUser(account.PermRoundsManage, o.apiLimitsSet))
}

// caseTodos are the work queue's counts on the 工作台: the officer's own
// cases and the cases past their deadline (in their district, or all for
// the city). Nothing without a current round or the case work.
func (o *Office) caseTodos(r *http.Request) []todo {
	if o.cw == nil {
		return nil
	}
	ctx, u := r.Context(), shell.Actor(r.Context())
	rd, err := o.sh.Rounds.Current(ctx)
	if err != nil {
		return nil
	}
	// Only the figures: the rows are the queue page's.
	mine, err := o.cw.Queue(ctx, u, casework.Filter{RoundID: rd.ID, Assignee: u.UserID, CountsOnly: true})
	if err != nil {
		o.sh.Log.Error("office home: queue", "err", err, "request_id", web.RequestID(ctx))
		return nil
	}
	all, err := o.cw.Queue(ctx, u, casework.Filter{RoundID: rd.ID, CountsOnly: true})
	if err != nil {
		o.sh.Log.Error("office home: queue", "err", err, "request_id", web.RequestID(ctx))
		return nil
	}
	return []todo{
		{Label: "我认领的案件", Href: "/office/queue?assignee=me", N: mine.Open, Hint: "初核结果公布后由本人办理的案件"},
		{Label: "已逾期的案件", Href: "/office/queue?overdue=1", N: all.Overdue, Urgent: all.Overdue > 0,
			Hint: "超过办理截止日期仍未办结，请优先处理"},
	}
}

// queueFilter reads the queue's filter from a query string; a bad number
// is a field error naming it.
func (o *Office) queueFilter(r *http.Request) (casework.Filter, error) {
	q := r.URL.Query()
	f := casework.Filter{Status: q.Get("status"), Indicator: q.Get("indicator"), Outcome: q.Get("outcome"),
		Discrepancy: q.Get("discrepancy"), District: q.Get("district"), Q: q.Get("q"), After: q.Get("after"),
		Overdue: q.Get("overdue") == "1" || q.Get("overdue") == "true"}
	var fe []apperr.FieldError
	num := func(name string, dst *int64) {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			return
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 {
			fe = append(fe, apperr.FieldError{Field: name, Message: "应为数字"})
			return
		}
		*dst = n
	}
	num("employer", &f.EmployerID)
	num("round", &f.RoundID)
	switch a := q.Get("assignee"); a {
	case "":
	case "me":
		f.Assignee = shell.Actor(r.Context()).UserID
	case "none":
		f.Assignee = -1
	default:
		num("assignee", &f.Assignee)
	}
	var limit int64
	num("limit", &limit)
	f.Limit = int(min(limit, 200))
	if err := apperr.Fields(fe); err != nil {
		return f, err
	}
	if f.RoundID == 0 {
		rd, err := o.sh.Rounds.Current(r.Context())
		if err != nil {
			return f, apperr.New(apperr.NotFound, "当前没有年度批次")
		}
		f.RoundID = rd.ID
	}
	return f, nil
}

type queueView struct {
	Page      *casework.Page
	Filter    casework.Filter
	Assignee  string
	Tabs      []discTab
	Fixed     bool
	Districts []string
	Items     []rules.Option
	Officers  []casework.Officer
	CanAssign bool
	Me        int64
	Next      string
	First     string
	Back      string // this page, for the forms' return
}

func (o *Office) queuePage(w http.ResponseWriter, r *http.Request) {
	u := shell.Actor(r.Context())
	f, err := o.queueFilter(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg, err := o.cw.Queue(r.Context(), u, f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	_, fixed := officerDistrict(u)
	v := queueView{Page: pg, Filter: f, Assignee: r.URL.Query().Get("assignee"), Fixed: fixed, Districts: rules.Districts(),
		CanAssign: u.Can(actor.PermCasesAssign), Me: u.UserID, Back: r.URL.RequestURI()}
	for _, c := range rules.CheckItems() {
		v.Items = append(v.Items, rules.Option{Value: c, Label: rules.CheckItemName(c)})
	}
	if v.CanAssign {
		if v.Officers, err = o.cw.Officers(r.Context(), u); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	link := func(change func(url.Values)) string {
		lq := r.URL.Query()
		lq.Del("after")
		change(lq)
		return "/office/queue?" + lq.Encode()
	}
	tab := func(label, status string, n int, overdue bool) discTab {
		return discTab{Label: label, N: n, Current: f.Status == status && f.Overdue == overdue,
			Href: link(func(q url.Values) {
				q.Set("status", status)
				if overdue {
					q.Set("overdue", "1")
				} else {
					q.Del("overdue")
				}
			})}
	}
	v.Tabs = append(v.Tabs, tab("待处理", "", pg.Open, false), tab("已逾期", "", pg.Overdue, true))
	for _, st := range casework.QueueStatuses() {
		v.Tabs = append(v.Tabs, tab(application.StatusName(st), string(st), pg.Counts[string(st)], false))
	}
	v.Tabs = append(v.Tabs, tab("全部", "all", pg.Total, false))
	if pg.Next != "" {
		v.Next = link(func(q url.Values) { q.Set("after", pg.Next) })
	}
	if f.After != "" {
		v.First = link(func(url.Values) {})
	}
	p := o.sh.Page(r, "案件工作台")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_queue", p)
}

// back is where a queue form returns: the page it came from, if it is the
// queue, else the queue.
func back(r *http.Request) string {
	if b := r.PostFormValue("back"); strings.HasPrefix(b, "/office/queue") && !strings.ContainsAny(b, "\\\r\n") {
		return b
	}
	return "/office/queue"
}

func (o *Office) queueAction(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if err := o.caseAction(r, id, r.PathValue("action"), r.PostFormValue("officer_id")); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, back(r), "saved")
}

// caseAction is claim, release or assign of one case, for the page and the
// API alike.
func (o *Office) caseAction(r *http.Request, id int64, action, officer string) error {
	ctx, u := r.Context(), shell.Actor(r.Context())
	switch action {
	case "claim":
		_, err := o.cw.Claim(ctx, u, id)
		return err
	case "release":
		return o.cw.Release(ctx, u, id)
	case "assign":
		oid, err := strconv.ParseInt(strings.TrimSpace(officer), 10, 64)
		if err != nil || oid <= 0 {
			return apperr.Field("officer_id", "请选择经办人员")
		}
		_, err = o.cw.Assign(ctx, u, id, oid)
		return err
	}
	return apperr.New(apperr.NotFound, "您访问的页面不存在")
}

func (o *Office) queueBulkAssign(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("ids", "请选择案件"))
		return
	}
	var ids []int64
	for _, s := range r.PostForm["ids"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			web.WriteError(w, r, apperr.Field("ids", "案件编号无效："+s))
			return
		}
		ids = append(ids, id)
	}
	oid, err := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("officer_id")), 10, 64)
	if err != nil || oid <= 0 {
		web.WriteError(w, r, apperr.Field("officer_id", "请选择经办人员"))
		return
	}
	res, err := o.cw.BulkAssign(r.Context(), shell.Actor(r.Context()), ids, oid)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	for _, x := range res {
		if !x.OK {
			web.WriteError(w, r, apperr.New(apperr.Conflict, "案件"+strconv.FormatInt(x.ID, 10)+"未能分派："+x.Error+"（其余已分派）"))
			return
		}
	}
	o.sh.Flash(w, r, back(r), "saved")
}

func (o *Office) workloadPage(w http.ResponseWriter, r *http.Request) {
	load, err := o.cw.Workload(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := o.sh.Page(r, "经办人员工作量")
	p.Data = load
	o.sh.Render(w, r, http.StatusOK, "office_workload", p)
}

type calendarView struct {
	Year        int
	Days        []calendar.Day
	Unconfirmed bool
	Years       []int
}

func (o *Office) calendarYear(r *http.Request) (int, error) {
	y := r.URL.Query().Get("year")
	if y == "" {
		return o.sh.Clock.Now().Year(), nil
	}
	n, err := strconv.Atoi(y)
	if err != nil {
		return 0, apperr.Field("year", "年份应为四位数字")
	}
	return n, nil
}

func unconfirmed(year int) bool {
	for _, y := range calendar.Unconfirmed {
		if y == year {
			return true
		}
	}
	return false
}

func (o *Office) calendarPage(w http.ResponseWriter, r *http.Request) {
	year, err := o.calendarYear(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	days, err := o.cal.Year(r.Context(), year)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := o.sh.Page(r, "工作日历")
	p.Data = calendarView{Year: year, Days: days, Unconfirmed: unconfirmed(year), Years: []int{year - 1, year + 1}}
	o.sh.Render(w, r, http.StatusOK, "office_calendar", p)
}

func (o *Office) calendarSet(w http.ResponseWriter, r *http.Request) {
	d, err := o.cal.Set(r.Context(), shell.Actor(r.Context()), r.PostFormValue("date"), calendar.Kind(r.PostFormValue("kind")),
		r.PostFormValue("name"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/calendar?year="+d.Date[:4], "saved")
}

func (o *Office) calendarRemove(w http.ResponseWriter, r *http.Request) {
	date := r.PathValue("date")
	if !ui.Confirmed(r) {
		o.confirm(w, r, "删除日历设置", ui.Confirm{Heading: "确认删除 " + date + " 的设置？",
			Effects: []string{"该日恢复为普通日期：周一至周五为工作日，周六、周日为休息日。", "已开始的办理环节的截止日期不变，此后开始的环节按新日历计算。"},
			Action:  "/office/calendar/" + url.PathEscape(date) + "/remove", Button: "确认删除", Cancel: "/office/calendar"})
		return
	}
	if err := o.cal.Remove(r.Context(), shell.Actor(r.Context()), date); err != nil {
		web.WriteError(w, r, err)
		return
	}
	year := date
	if len(year) >= 4 {
		year = year[:4]
	}
	o.sh.Flash(w, r, "/office/calendar?year="+url.QueryEscape(year), "saved")
}

type limitsView struct {
	RoundID int64
	Year    int
	Limits  []casework.Limit
}

func (o *Office) limitsPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	rd, err := o.sh.Rounds.Get(r.Context(), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	limits, err := o.cw.Limits(r.Context(), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := o.sh.Page(r, "办理时限")
	p.Data = limitsView{RoundID: id, Year: rd.Year, Limits: limits}
	o.sh.Render(w, r, http.StatusOK, "office_round_limits", p)
}

func (o *Office) limitsSave(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("days")))
	if err != nil {
		web.WriteError(w, r, apperr.Field("days", "办理时限应为1至200个工作日"))
		return
	}
	if err := o.cw.SetLimit(r.Context(), shell.Actor(r.Context()), id, application.Step(r.PostFormValue("step")), days); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/rounds/"+strconv.FormatInt(id, 10)+"/limits", "saved")
}

// The JSON API.

func (o *Office) apiQueue(w http.ResponseWriter, r *http.Request) {
	f, err := o.queueFilter(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg, err := o.cw.Queue(r.Context(), shell.Actor(r.Context()), f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if pg.Rows == nil {
		pg.Rows = []casework.Row{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"round_id": f.RoundID, "page": pg})
}

type caseActionRequest struct {
	OfficerID int64 `json:"officer_id"`
}

func (o *Office) apiCaseAction(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var req caseActionRequest
	if action := r.PathValue("action"); action == "assign" {
		if err := web.DecodeJSON(r, &req); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	if err := o.caseAction(r, id, r.PathValue("action"), strconv.FormatInt(req.OfficerID, 10)); err != nil {
		web.WriteError(w, r, err)
		return
	}
	a, err := o.cw.Holder(r.Context(), shell.Actor(r.Context()), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, a)
}

type bulkAssignRequest struct {
	IDs       []int64 `json:"ids"`
	OfficerID int64   `json:"officer_id"`
}

func (o *Office) apiBulkAssign(w http.ResponseWriter, r *http.Request) {
	var req bulkAssignRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		web.WriteError(w, r, err)
		return
	}
	res, err := o.cw.BulkAssign(r.Context(), shell.Actor(r.Context()), req.IDs, req.OfficerID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"results": res})
}

func (o *Office) apiWorkload(w http.ResponseWriter, r *http.Request) {
	load, err := o.cw.Workload(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"officers": load})
}

func (o *Office) apiCalendar(w http.ResponseWriter, r *http.Request) {
	year, err := o.calendarYear(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	days, err := o.cal.Year(r.Context(), year)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if days == nil {
		days = []calendar.Day{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"year": year, "days": days, "unconfirmed": unconfirmed(year)})
}

type calendarRequest struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

func (o *Office) apiCalendarSet(w http.ResponseWriter, r *http.Request) {
	var req calendarRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		web.WriteError(w, r, err)
		return
	}
	d, err := o.cal.Set(r.Context(), shell.Actor(r.Context()), r.PathValue("date"), calendar.Kind(req.Kind), req.Name)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, d)
}

func (o *Office) apiCalendarRemove(w http.ResponseWriter, r *http.Request) {
	if err := o.cal.Remove(r.Context(), shell.Actor(r.Context()), r.PathValue("date")); err != nil {
		web.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (o *Office) apiLimits(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if _, err := o.sh.Rounds.Get(r.Context(), id); err != nil {
		web.WriteError(w, r, err)
		return
	}
	limits, err := o.cw.Limits(r.Context(), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"round_id": id, "limits": limits})
}

type limitRequest struct {
	Step string `json:"step"`
	Days int    `json:"days"`
}

func (o *Office) apiLimitsSet(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var req limitRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if err := o.cw.SetLimit(r.Context(), shell.Actor(r.Context()), id, application.Step(req.Step), req.Days); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.apiLimits(w, r)
}
