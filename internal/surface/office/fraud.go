package office

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"jifen/internal/account"
	"jifen/internal/fraud"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithFraud gives the office the fraud register (虚假材料库).
func (o *Office) WithFraud(s *fraud.Service) *Office { o.fraud = s; return o }

// registerFraud adds the register's list with its proposal form, the page
// of one entry with approve and reject, and their JSON API. District and
// city officers; the service limits district officers to their district.
func (o *Office) registerFraud(mux *web.Mux) {
	if o.fraud == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/fraud", sh.RequireUser(account.PermCasesDistrict, o.fraudList))
	mux.Handle("POST /office/fraud", sh.RequireUser(account.PermCasesDistrict, o.fraudPropose))
	mux.Handle("GET /office/fraud/{id}", sh.RequireUser(account.PermCasesDistrict, o.fraudPage))
	mux.Handle("POST /office/fraud/{id}/{action}", sh.RequireUser(account.PermCasesDistrict, o.fraudAction))
	mux.Handle("GET /api/v1/office/fraud", sh.RequireUser(account.PermCasesDistrict, o.apiFraudList))
	mux.Handle("POST /api/v1/office/fraud", sh.RequireUser(account.PermCasesDistrict, o.apiFraudPropose))
	mux.Handle("GET /api/v1/office/fraud/{id}", sh.RequireUser(account.PermCasesDistrict, o.apiFraudGet))
	mux.Handle("POST /api/v1/office/fraud/{id}/{action}", sh.RequireUser(account.PermCasesDistrict, o.apiFraudAction))
}

type fraudListView struct {
	Rows       []*fraud.Entry
	Tabs       []discTab
	Status     string
	Kind       string
	Query      string
	Items      []rules.Option
	Today      string
	Fixed      bool // a district officer: no district column
	Prev, Next string
	// IDFields are the two inputs naming the subject, one of which the
	// officer fills in (so neither is marked required).
	IDFields []idField
}

type idField struct{ Name, ID, Label, Hint string }

var fraudIDFields = []idField{
	{"id_number", "id-number", "申请人身份证号", "登记申请人时填写"},
	{"credit_code", "credit-code", "用人单位统一社会信用代码", "登记用人单位时填写"},
}

// fraudFilter reads the list's filter from the query; status defaults to
// pending (the work waiting), "all" shows every status.
func fraudFilter(q url.Values) fraud.Filter {
	page, _ := strconv.Atoi(q.Get("page"))
	f := fraud.Filter{Status: fraud.Status(q.Get("status")), Kind: fraud.Kind(q.Get("kind")), Query: q.Get("q"), Page: max(page, 1)}
	if !q.Has("status") {
		f.Status = fraud.Pending
	}
	if f.Status == "all" {
		f.Status = ""
	}
	return f
}

func (o *Office) fraudList(w http.ResponseWriter, r *http.Request) {
	o.renderFraudList(w, r, http.StatusOK, o.sh.Page(r, "虚假材料库"))
}

// renderFraudList shows the list on p, which may carry the error of the
// proposal form.
func (o *Office) renderFraudList(w http.ResponseWriter, r *http.Request, status int, p *ui.Page) {
	u := shell.Actor(r.Context())
	f := fraudFilter(r.URL.Query())
	res, err := o.fraud.List(r.Context(), u, f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	_, fixed := officerDistrict(u)
	v := fraudListView{Rows: res.Entries, Status: string(f.Status), Kind: string(f.Kind), Query: f.Query, Fixed: fixed, IDFields: fraudIDFields,
		Today: clock.BeijingDay(o.sh.Clock.Now()).Format(time.DateOnly)}
	for _, c := range rules.CheckItems() {
		v.Items = append(v.Items, rules.Option{Value: c, Label: rules.CheckItemName(c)})
	}
	link := func(status string, page int) string {
		lq := url.Values{"status": {status}}
		if f.Kind != "" {
			lq.Set("kind", string(f.Kind))
		}
		if f.Query != "" {
			lq.Set("q", f.Query)
		}
		if page > 1 {
			lq.Set("page", strconv.Itoa(page))
		}
		return "/office/fraud?" + lq.Encode()
	}
	for _, st := range fraud.Statuses {
		v.Tabs = append(v.Tabs, discTab{Href: link(string(st), 1), Label: fraud.StatusName(st), N: res.Counts[st], Current: f.Status == st})
	}
	v.Tabs = append(v.Tabs, discTab{Href: link("all", 1), Label: "全部", N: res.Total, Current: f.Status == ""})
	cur := string(f.Status)
	if cur == "" {
		cur = "all"
	}
	if f.Page > 1 {
		v.Prev = link(cur, f.Page-1)
	}
	if res.Next {
		v.Next = link(cur, f.Page+1)
	}
	if _, ok := p.Form["decided_on"]; !ok {
		p.Form["decided_on"] = v.Today
	}
	if _, ok := p.Form["kind"]; !ok {
		p.Form["kind"] = string(fraud.Person)
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_fraud", p)
}

func proposalOf(form url.Values) fraud.Proposal {
	return fraud.Proposal{Kind: fraud.Kind(form.Get("kind")), IDNumber: form.Get("id_number"), CreditCode: form.Get("credit_code"),
		Item: form.Get("item"), What: form.Get("what"), DecidedOn: form.Get("decided_on")}
}

func (o *Office) fraudPropose(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("body", "表单内容无法读取，请返回后重新填写"))
		return
	}
	e, err := o.fraud.Propose(r.Context(), shell.Actor(r.Context()), proposalOf(r.PostForm))
	if err == nil {
		o.sh.Flash(w, r, fmt.Sprintf("/office/fraud/%d", e.ID), "fraud_proposed")
		return
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict:
		p := o.sh.Page(r, "虚假材料库")
		p.SetError(err)
		for _, k := range []string{"kind", "id_number", "credit_code", "item", "what", "decided_on"} {
			if vs, ok := r.PostForm[k]; ok {
				p.Form[k] = vs[0]
			}
		}
		o.renderFraudList(w, r, web.Status(err), p)
	default:
		web.WriteError(w, r, err)
	}
}

type fraudView struct {
	*fraud.Entry
	SubjectCode string // the masked ID number or the credit code
	ProposedBy  string // name and office
	DecidedBy   string
	CanDecide   bool // pending, and the viewer is not the proposer
	Own         bool // pending, proposed by the viewer
}

func (o *Office) fraudPage(w http.ResponseWriter, r *http.Request) {
	o.renderFraud(w, r, http.StatusOK, o.sh.Page(r, "虚假材料库"))
}

func (o *Office) renderFraud(w http.ResponseWriter, r *http.Request, status int, p *ui.Page) {
	u := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, err := o.fraud.Get(r.Context(), u, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := fraudView{Entry: e, ProposedBy: o.officerName(r, e.ProposedBy, "经办人员")}
	if e.DecidedBy != 0 {
		v.DecidedBy = o.officerName(r, e.DecidedBy, "经办人员")
	}
	switch {
	case e.Kind == fraud.Person && o.persons != nil:
		if pe, err := o.persons.Get(r.Context(), e.PersonID); err == nil {
			v.SubjectCode = pe.IDMasked
		}
	case e.Kind == fraud.Employer:
		if em, err := o.emp.Get(r.Context(), e.EmployerID); err == nil {
			v.SubjectCode = em.CreditCode
		}
	}
	if e.Status == fraud.Pending {
		v.Own = e.ProposedBy == u.UserID
		v.CanDecide = !v.Own
	}
	p.Title = "虚假材料库记录 " + strconv.FormatInt(e.ID, 10)
	p.Data = v
	o.sh.Render(w, r, status, "office_fraud_entry", p)
}

// fraudAction approves (after a confirmation) or rejects an entry. A field
// to correct, a conflict or the proposer deciding shows the page again with
// the message.
func (o *Office) fraudAction(w http.ResponseWriter, r *http.Request) {
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
	var flash string
	switch r.PathValue("action") {
	case "approve":
		if !ui.Confirmed(r) && o.confirmFraud(w, r, id) {
			return
		}
		_, err = o.fraud.Approve(ctx, u, id)
		flash = "fraud_approved"
	case "reject":
		_, err = o.fraud.Reject(ctx, u, id, r.PostFormValue("note"))
		flash = "fraud_rejected"
	default:
		web.NotFound(w, r)
		return
	}
	if err == nil {
		o.sh.Flash(w, r, fmt.Sprintf("/office/fraud/%d", id), flash)
		return
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict, apperr.Forbidden:
		p := o.sh.Page(r, "虚假材料库")
		p.SetError(err)
		if vs, ok := r.PostForm["note"]; ok {
			p.Form["note"] = vs[0]
		}
		o.renderFraud(w, r, web.Status(err), p)
	default:
		web.WriteError(w, r, err)
	}
}

// confirmFraud shows the confirmation of an approval with what it does, and
// reports true; when the viewer cannot approve now (another district, not
// pending, the proposer) it shows nothing and reports false: the service
// then refuses with its message.
func (o *Office) confirmFraud(w http.ResponseWriter, r *http.Request, id int64) bool {
	u := shell.Actor(r.Context())
	e, err := o.fraud.Get(r.Context(), u, id)
	if err != nil || e.Status != fraud.Pending || e.ProposedBy == u.UserID {
		return false
	}
	back := fmt.Sprintf("/office/fraud/%d", id)
	effects := []string{fmt.Sprintf("%s“%s”列入虚假材料库，%s。", e.KindName(), e.SubjectName, e.Reason())}
	if e.Kind == fraud.Person {
		effects = append(effects, "该申请人不能再提交申请，其单位也不能为其确认提交；其申请不参加排名。")
	} else {
		effects = append(effects, "该单位不能再为任何申请人确认提交申请。")
	}
	effects = append(effects, "系统发送邮件告知当事人，审批结论记入审计日志，不能撤回。")
	o.confirm(w, r, "确认审批通过？", ui.Confirm{Heading: "确认审批通过该虚假材料库记录？",
		Lead:    fmt.Sprintf("记录 %d：%s，认定日期 %s。", e.ID, e.What, e.DecidedOn),
		Effects: effects, Action: back + "/approve", Carry: ui.Carry(r.PostForm), Button: "审批通过", Cancel: back})
	return true
}

// The JSON API.

func (o *Office) apiFraudList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := fraudFilter(q)
	if !q.Has("status") {
		f.Status = "" // the API lists every status unless asked
	}
	res, err := o.fraud.List(r.Context(), shell.Actor(r.Context()), f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	counts := map[string]int{}
	for _, st := range fraud.Statuses {
		counts[string(st)] = res.Counts[st]
	}
	entries := res.Entries
	if entries == nil {
		entries = []*fraud.Entry{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"entries": entries, "counts": counts, "total": res.Total, "next": res.Next})
}

func (o *Office) apiFraudPropose(w http.ResponseWriter, r *http.Request) {
	var in fraud.Proposal
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, err := o.fraud.Propose(r.Context(), shell.Actor(r.Context()), in)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, e)
}

func (o *Office) apiFraudGet(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, err := o.fraud.Get(r.Context(), shell.Actor(r.Context()), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, e)
}

func (o *Office) apiFraudAction(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var in struct {
		Note string `json:"note"`
	}
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &in); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	u := shell.Actor(r.Context())
	var e *fraud.Entry
	switch r.PathValue("action") {
	case "approve":
		e, err = o.fraud.Approve(r.Context(), u, id)
	case "reject":
		e, err = o.fraud.Reject(r.Context(), u, id, in.Note)
	default:
		web.NotFound(w, r)
		return
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, e)
}
