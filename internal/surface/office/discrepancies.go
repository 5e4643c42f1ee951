package office

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"jifen/internal/account"
	"jifen/internal/discrepancy"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithDiscrepancies gives the office the discrepancy queue (数据比对结果排查).
func (o *Office) WithDiscrepancies(s *discrepancy.Service) *Office { o.disc = s; return o }

// WithPersons lets the discrepancy page show the applicant's masked ID
// number and reveal the full one (audited: person.FullIDNumber).
func (o *Office) WithPersons(s *person.Service) *Office { o.persons = s; return o }

// registerDiscrepancies adds the district officers' queue of cross-check
// discrepancies and the page of one, with its actions.
func (o *Office) registerDiscrepancies(mux *web.Mux) {
	if o.disc == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/discrepancies", sh.RequireUser(account.PermCasesDistrict, o.discrepancies))
	mux.Handle("GET /office/discrepancies/{id}", sh.RequireUser(account.PermCasesDistrict, o.discrepancyPage))
	mux.Handle("POST /office/discrepancies/{id}/{action}", sh.RequireUser(account.PermCasesDistrict, o.discrepancyAction))
	mux.Handle("GET /api/v1/office/discrepancies", sh.RequireUser(account.PermCasesDistrict, o.apiDiscrepancies))
	mux.Handle("GET /api/v1/office/discrepancies/{id}", sh.RequireUser(account.PermCasesDistrict, o.apiDiscrepancy))
	mux.Handle("POST /api/v1/office/discrepancies/{id}/{action}", sh.RequireUser(account.PermCasesDistrict, o.apiDiscrepancyAction))
}

// discFilter reads the queue's filter from the query, for the page and the
// API alike: ?status= (open when absent; empty for all), &item=,
// &district=, &overdue=1, &page=. The service keeps a district officer to
// their district whatever it says.
func discFilter(r *http.Request) discrepancy.Filter {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	f := discrepancy.Filter{District: q.Get("district"), Status: discrepancy.Status(q.Get("status")), Item: q.Get("item"),
		Overdue: q.Get("overdue") == "1", Page: max(page, 1)}
	if f.Status == "" && !q.Has("status") {
		f.Status = discrepancy.Open
	}
	return f
}

type discTab struct {
	Href, Label string
	N           int
	Current     bool
}

type discRow struct {
	*discrepancy.Item
	Overdue bool
}

type discrepanciesView struct {
	Rows       []discRow
	Tabs       []discTab
	Status     string
	District   string
	Item       string
	Overdue    bool
	Districts  []string
	Items      []rules.Option
	Fixed      bool
	Page       int
	Prev, Next string // links to the neighbouring pages, "" for none
}

func (o *Office) discrepancies(w http.ResponseWriter, r *http.Request) {
	u := shell.Actor(r.Context())
	f := discFilter(r)
	d, fixed := officerDistrict(u)
	if fixed {
		f.District = d
	}
	res, err := o.disc.List(r.Context(), u, f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := discrepanciesView{Status: string(f.Status), District: f.District, Item: f.Item, Overdue: f.Overdue,
		Districts: rules.Districts(), Fixed: fixed, Page: f.Page}
	for _, c := range rules.CheckItems() {
		v.Items = append(v.Items, rules.Option{Value: c, Label: rules.CheckItemName(c)})
	}
	link := func(status string, overdue bool, page int) string {
		lq := url.Values{"status": {status}}
		if f.District != "" && !fixed {
			lq.Set("district", f.District)
		}
		if f.Item != "" {
			lq.Set("item", f.Item)
		}
		if overdue {
			lq.Set("overdue", "1")
		}
		if page > 1 {
			lq.Set("page", strconv.Itoa(page))
		}
		return "/office/discrepancies?" + lq.Encode()
	}
	for _, st := range discrepancy.Statuses {
		v.Tabs = append(v.Tabs, discTab{Href: link(string(st), false, 1), Label: discrepancy.StatusName(st), N: res.Counts[st],
			Current: !f.Overdue && f.Status == st})
	}
	v.Tabs = append(v.Tabs, discTab{Href: link("", false, 1), Label: "全部", N: res.Total, Current: !f.Overdue && f.Status == ""})
	now := o.sh.Clock.Now()
	for _, it := range res.Items {
		v.Rows = append(v.Rows, discRow{Item: it, Overdue: it.Overdue(now)})
	}
	if f.Page > 1 {
		v.Prev = link(string(f.Status), f.Overdue, f.Page-1)
	}
	if res.Next {
		v.Next = link(string(f.Status), f.Overdue, f.Page+1)
	}
	p := o.sh.Page(r, "比对差异")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_discrepancies", p)
}

type discrepancyView struct {
	*discrepancy.Detail
	Overdue     bool
	CanAct      bool // accept, or propose an override
	CanRequest  bool // ask the applicant for material
	CanDecide   bool // approve or reject an override: another officer
	OwnOverride bool // the viewer proposed the pending override
	DeadlineMin string
	DeadlineMax string
	IDMasked    string // the applicant's ID number, masked
	IDFull      string // the full number, after an audited reveal
	OverrideBy  string // who proposed the override: name and office
	Delta       int64  // IfOverridden - Score, hundredths
}

func (o *Office) discrepancyPage(w http.ResponseWriter, r *http.Request) {
	o.renderDiscrepancy(w, r, http.StatusOK, o.sh.Page(r, "比对差异"), false)
}

// renderDiscrepancy shows one discrepancy on p, which may carry the error of
// one of its forms; reveal shows the applicant's full ID number, audited.
func (o *Office) renderDiscrepancy(w http.ResponseWriter, r *http.Request, status int, p *ui.Page, reveal bool) {
	u := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	d, err := o.disc.Get(r.Context(), u, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	now := o.sh.Clock.Now()
	first, last := discrepancy.DeadlineBounds(now)
	v := discrepancyView{Detail: d, Overdue: d.Overdue(now), DeadlineMin: first.Format(time.DateOnly), DeadlineMax: last.Format(time.DateOnly)}
	if o.persons != nil {
		pe, err := o.persons.Get(r.Context(), d.PersonID)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		v.IDMasked = pe.IDMasked
		if reveal {
			if v.IDFull, err = o.persons.FullIDNumber(r.Context(), u, pe, fmt.Sprintf("比对差异 %d（%s）核对身份", d.ID, d.ItemName())); err != nil {
				web.WriteError(w, r, err)
				return
			}
		}
	}
	// Officers by name and office, not by login.
	names := map[int64]string{}
	for i := range d.History {
		if id := d.History[i].ActorID; id != 0 {
			if _, ok := names[id]; !ok {
				names[id] = o.officerName(r, id, d.History[i].Actor)
			}
			d.History[i].Actor = names[id]
		}
	}
	if d.OverrideBy != 0 {
		v.OverrideBy = o.officerName(r, d.OverrideBy, d.OverrideLogin)
	}
	v.Delta = d.IfOverridden - d.Score
	switch d.Status {
	case discrepancy.Open, discrepancy.MaterialReceived:
		v.CanAct, v.CanRequest = true, true
	case discrepancy.MaterialRequested:
		v.CanAct = true
	case discrepancy.OverridePending:
		v.OwnOverride = d.OverrideBy == u.UserID
		v.CanDecide = !v.OwnOverride
	}
	if _, ok := p.Form["deadline"]; !ok {
		p.Form["deadline"] = first.AddDate(0, 0, 13).Format(time.DateOnly)
	}
	p.Title = "比对差异 " + strconv.FormatInt(d.ID, 10)
	p.Data = v
	o.sh.Render(w, r, status, "office_discrepancy", p)
}

// discrepancyAction runs one action of the page's forms. A field to
// correct or a conflict (someone acted first) shows the page again with the
// message and the input kept.
func (o *Office) discrepancyAction(w http.ResponseWriter, r *http.Request) {
	u := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("body", "表单内容无法读取，请返回后重新填写"))
		return
	}
	ctx := r.Context()
	note := r.PostFormValue("note")
	var flash string
	switch r.PathValue("action") {
	case "reveal-id":
		o.renderDiscrepancy(w, r, http.StatusOK, o.sh.Page(r, "比对差异"), true)
		return
	case "accept":
		if !ui.Confirmed(r) && o.confirmDiscrepancy(w, r, id, "accept") {
			return
		}
		err, flash = o.disc.Accept(ctx, u, id, note), "disc_accepted"
	case "request":
		err, flash = o.disc.RequestMaterial(ctx, u, id, note, parseDay(r.PostFormValue("deadline"))), "disc_requested"
	case "override":
		err, flash = o.disc.Override(ctx, u, id, r.PostFormValue("reason")), "disc_override"
	case "approve":
		if !ui.Confirmed(r) && o.confirmDiscrepancy(w, r, id, "approve") {
			return
		}
		err, flash = o.disc.Approve(ctx, u, id), "disc_approved"
	case "reject":
		err, flash = o.disc.RejectOverride(ctx, u, id, note), "disc_override_rejected"
	default:
		web.NotFound(w, r)
		return
	}
	if err == nil {
		o.sh.Flash(w, r, fmt.Sprintf("/office/discrepancies/%d", id), flash)
		return
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict, apperr.Forbidden:
		p := o.sh.Page(r, "比对差异")
		p.SetError(err)
		for _, k := range []string{"note", "reason", "deadline"} {
			if vs, ok := r.PostForm[k]; ok {
				p.Form[k] = vs[0]
			}
		}
		o.renderDiscrepancy(w, r, web.Status(err), p, false)
	default:
		web.WriteError(w, r, err)
	}
}

// parseDay reads a date input (2026-12-01) as that day in Beijing; a bad
// value gives the zero time, which the service reports against the field.
func parseDay(s string) time.Time {
	t, err := time.ParseInLocation(time.DateOnly, s, clock.Beijing)
	if err != nil {
		return time.Time{}
	}
	return t
}

// officerName is how pages name a member of staff: the name and the office
// (海淀区人力社保局, 市人力社保局), not the login; fallback when the account
// cannot be read.
func (o *Office) officerName(r *http.Request, id int64, fallback string) string {
	u, err := o.sh.Accounts.UserByID(r.Context(), id)
	if err != nil || u == nil {
		return fallback
	}
	name := u.DisplayName
	if name == "" {
		name = fallback
	}
	return name + "（" + officeName(u) + "）"
}

// officeName is the office a member of staff works for.
func officeName(u *account.User) string {
	if u.District != "" {
		return u.District + "人力社保局"
	}
	return "市人力社保局"
}

// confirmDiscrepancy shows the confirmation step of a final decision on a
// discrepancy (以比对结果为准, 审批通过更正) with what it does to the
// score, and reports true. When the viewer cannot take the decision now
// (another district, the wrong state, the proposer approving) it shows
// nothing and reports false: the service then refuses with its message.
func (o *Office) confirmDiscrepancy(w http.ResponseWriter, r *http.Request, id int64, action string) bool {
	u := shell.Actor(r.Context())
	d, err := o.disc.Get(r.Context(), u, id)
	if err != nil {
		return false
	}
	back := fmt.Sprintf("/office/discrepancies/%d", id)
	c := ui.Confirm{Lead: fmt.Sprintf("比对差异 %d：%s，申请人 %s（申请编号 %d）。", d.ID, d.ItemName(), d.PersonName, d.ApplicationID),
		Action: back + "/" + action, Carry: ui.Carry(r.PostForm), Cancel: back}
	score := func(v int64) string { return rules.Points(v).String() + " 分" }
	switch action {
	case "accept":
		if d.Status != discrepancy.Open && d.Status != discrepancy.MaterialReceived && d.Status != discrepancy.MaterialRequested {
			return false
		}
		c.Heading, c.Button = "确认以比对结果为准？", "确认以比对结果为准"
		c.Effects = []string{"该事项按部门核查的数据计分，差异处理完毕，不能再要求补充材料或更正。"}
		if d.Scored {
			c.Effects = append(c.Effects, "该申请的初核积分保持 "+score(d.Score)+"。")
		}
	case "approve":
		if d.Status != discrepancy.OverridePending || d.OverrideBy == u.UserID {
			return false
		}
		c.Heading, c.Button = "确认审批通过更正？", "审批通过"
		c.Effects = []string{"该事项改按申请人申报值计分，系统重新计算该申请的积分。"}
		if d.Scored && d.IfKnown {
			c.Effects = append(c.Effects, "该申请的初核积分将由 "+score(d.Score)+" 变为 "+score(d.IfOverridden)+"。")
		}
		c.Effects = append(c.Effects, "审批结论记入审计日志，不能撤回。")
	default:
		return false
	}
	o.confirm(w, r, c.Heading, c)
	return true
}
