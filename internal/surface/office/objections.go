package office

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"jifen/internal/account"
	"jifen/internal/objection"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithObjections gives the office the objections to published lists
// (异议/举报).
func (o *Office) WithObjections(s *objection.Service) *Office { o.objections = s; return o }

// registerObjections adds the queue of objections, the page of one with
// its timeline and the steps (assign, investigate, answer), and the
// audited view of its attachment. City officers only.
func (o *Office) registerObjections(mux *web.Mux) {
	if o.objections == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/objections", sh.RequireUser(account.PermCasesCity, o.objectionQueue))
	mux.Handle("GET /office/objections/{id}", sh.RequireUser(account.PermCasesCity, o.objectionPage))
	mux.Handle("GET /office/objections/{id}/attachment", sh.RequireUser(account.PermCasesCity, o.objectionAttachment))
	mux.Handle("POST /office/objections/{id}/{action}", sh.RequireUser(account.PermCasesCity, o.objectionAction))
}

type objectionQueueView struct {
	Rows       []*objection.Objection
	Tabs       []discTab
	Status     string
	Year       string
	Prev, Next string
}

func (o *Office) objectionQueue(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	f := objection.Filter{Status: objection.Status(q.Get("status")), Page: max(page, 1)}
	if !q.Has("status") {
		f.Status = objection.Lodged // the work waiting
	}
	if f.Status == "all" {
		f.Status = ""
	}
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 2000 || n > 2100 {
			web.WriteError(w, r, apperr.Field("year", "年度应为四位数字，如 2027"))
			return
		}
		f.Year = n
	}
	res, err := o.objections.Queue(r.Context(), shell.Actor(r.Context()), f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := objectionQueueView{Rows: res.Rows, Status: string(f.Status), Year: q.Get("year")}
	link := func(status string, page int) string {
		lq := url.Values{"status": {status}}
		if v.Year != "" {
			lq.Set("year", v.Year)
		}
		if page > 1 {
			lq.Set("page", strconv.Itoa(page))
		}
		return "/office/objections?" + lq.Encode()
	}
	for _, st := range objection.Statuses {
		v.Tabs = append(v.Tabs, discTab{Href: link(string(st), 1), Label: objection.StatusName(st), N: res.Counts[st], Current: f.Status == st})
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
	p := o.sh.Page(r, "异议处理")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_objections", p)
}

type objectionEventView struct {
	objection.Event
	By string
}

type objectionView struct {
	*objection.Objection
	Timeline   []objectionEventView
	AssignedTo string // name and office, "" when unassigned
	Officers   []objection.Officer
	Mine       bool // assigned to the viewer
	CanAnswer  bool // not answered, and unassigned or the viewer's
	Size       string
	Type       string
}

func (o *Office) objectionPage(w http.ResponseWriter, r *http.Request) {
	o.renderObjection(w, r, http.StatusOK, o.sh.Page(r, "异议处理"))
}

func (o *Office) renderObjection(w http.ResponseWriter, r *http.Request, status int, p *ui.Page) {
	u := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	ob, err := o.objections.Detail(r.Context(), u, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := objectionView{Objection: ob, Mine: ob.AssignedTo == u.UserID, Size: attachmentSize(ob.AttachmentSize),
		Type: attachmentTypes[ob.AttachmentType]}
	v.CanAnswer = ob.Status != objection.Answered && (ob.AssignedTo == 0 || v.Mine)
	if ob.AssignedTo != 0 {
		v.AssignedTo = o.officerName(r, ob.AssignedTo, "经办人员")
	}
	for _, e := range ob.Events {
		ev := objectionEventView{Event: e, By: "提出人"}
		if e.ActorID != 0 {
			ev.By = o.officerName(r, e.ActorID, "经办人员")
		}
		v.Timeline = append(v.Timeline, ev)
	}
	if ob.Status != objection.Answered {
		if v.Officers, err = o.objections.Officers(r.Context()); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	p.Title = "异议 " + ob.Receipt
	p.Data = v
	o.sh.Render(w, r, status, "office_objection", p)
}

// objectionAction runs a step: assign (to=me or an officer's id),
// investigate (note), answer (outcome, answer; upheld after a
// confirmation, since it reopens the frozen round). The form carries the
// version the page showed.
func (o *Office) objectionAction(w http.ResponseWriter, r *http.Request) {
	u := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 32<<10)
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("body", "表单内容无法读取，请返回后重新填写"))
		return
	}
	ctx := r.Context()
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	if version <= 0 {
		web.WriteError(w, r, apperr.Field("version", "页面已过期，请刷新后重试"))
		return
	}
	var flash string
	switch r.PathValue("action") {
	case "assign":
		to := u.UserID
		if s := r.PostFormValue("assign_to"); s != "" && s != "me" {
			if to, err = strconv.ParseInt(s, 10, 64); err != nil {
				to = 0
			}
		}
		_, err = o.objections.Assign(ctx, u, id, to, version)
		flash = "objection_assigned"
	case "investigate":
		_, err = o.objections.Investigate(ctx, u, id, r.PostFormValue("note"), version)
		flash = "objection_noted"
	case "answer":
		outcome := objection.Outcome(r.PostFormValue("outcome"))
		if outcome == objection.Upheld && !ui.Confirmed(r) {
			back := fmt.Sprintf("/office/objections/%d", id)
			o.confirm(w, r, "确认异议成立？", ui.Confirm{Heading: "确认该异议成立？",
				Effects: []string{"答复意见对提出人公开，可凭受理编号查看。",
					"该申请退回案件办理：系统申请正式重新开放已冻结的年度批次，须由另一名市级经办人员审批。",
					"答复后不能修改，记入审计日志。"},
				Action: back + "/answer", Carry: ui.Carry(r.PostForm), Button: "确认成立并答复", Cancel: back})
			return
		}
		_, err = o.objections.Answer(ctx, u, id, outcome, r.PostFormValue("answer"), version)
		flash = "objection_answered"
	default:
		web.NotFound(w, r)
		return
	}
	if err == nil {
		o.sh.Flash(w, r, fmt.Sprintf("/office/objections/%d", id), flash)
		return
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict:
		p := o.sh.Page(r, "异议处理")
		p.SetError(err)
		for _, k := range []string{"note", "outcome", "answer", "assign_to"} {
			if vs, ok := r.PostForm[k]; ok {
				p.Form[k] = vs[0]
			}
		}
		o.renderObjection(w, r, web.Status(err), p)
	default:
		web.WriteError(w, r, err)
	}
}

// objectionAttachment sends the attachment as a download with its sniffed
// type, never inline; the service audits each opening.
func (o *Office) objectionAttachment(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	rc, ob, err := o.objections.OpenAttachment(r.Context(), shell.Actor(r.Context()), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	defer rc.Close()
	ext := map[string]string{"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}[ob.AttachmentType]

	h := w.Header()
	h.Set("Content-Type", ob.AttachmentType)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="objection-%d%s"`, ob.ID, ext))
	h.Set("Content-Length", strconv.FormatInt(ob.AttachmentSize, 10))
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = io.Copy(w, rc)
}

var attachmentTypes = map[string]string{"application/pdf": "PDF", "image/jpeg": "JPEG 图片", "image/png": "PNG 图片"}

// attachmentSize writes a file size as people read it: 356 KB, 2.4 MB.
func attachmentSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+1<<10-1)>>10)
	}
	return fmt.Sprintf("%d 字节", n)
}
