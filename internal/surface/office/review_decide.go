package office

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"jifen/internal/account"
	"jifen/internal/discrepancy"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/review"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithReview gives the office the 复查 decisions, in-person checks and the
// approval of score changes (internal/review).
func (o *Office) WithReview(s *review.Service) *Office { o.review = s; return o }

// evidenceLimit is the body limit of the routes that take an in-person
// check's evidence file: the file and the form's fields.
const evidenceLimit = review.MaxEvidence + 64<<10

// registerReviewDecide adds the decide page of a 复查 case, the approval
// queue of score changes, the slots of the in-person checks, and their
// JSON API.
func (o *Office) registerReviewDecide(mux *web.Mux) {
	if o.review == nil {
		return
	}
	sh := o.sh
	cases := func(h http.HandlerFunc) http.Handler { return sh.RequireUser(account.PermCasesDistrict, h) }
	mux.Handle("GET /office/reviews/approvals", cases(o.reviewApprovals))
	mux.Handle("GET /office/reviews/slots", cases(o.reviewSlots))
	mux.Handle("POST /office/reviews/slots", cases(o.reviewSlotCreate))
	mux.Handle("GET /office/reviews/{id}", cases(o.reviewCase))
	mux.Handle("POST /office/reviews/{id}/{action}", cases(o.reviewAction))
	mux.Handle("POST /office/reviews/{id}/record", cases(o.reviewRecord))
	mux.AllowBody("POST /office/reviews/{id}/record", evidenceLimit)
	mux.Handle("GET /office/reviews/{id}/evidence", cases(o.reviewEvidence))

	mux.Handle("GET /api/v1/office/reviews", cases(o.apiReviews))
	mux.Handle("POST /api/v1/office/reviews/{id}/receive", cases(o.apiReviewReceive))
	mux.Handle("GET /api/v1/office/reviews/{id}", cases(o.apiReviewCase))
	mux.Handle("POST /api/v1/office/reviews/{id}/decisions", cases(o.apiReviewDecide))
	mux.Handle("POST /api/v1/office/reviews/{id}/inspection", cases(o.apiReviewRequireInspection))
	mux.Handle("POST /api/v1/office/reviews/{id}/inspection/record", cases(o.apiReviewRecord))
	mux.AllowBody("POST /api/v1/office/reviews/{id}/inspection/record", evidenceLimit)
	mux.Handle("GET /api/v1/office/reviews/{id}/inspection/evidence", cases(o.reviewEvidence))
	mux.Handle("POST /api/v1/office/reviews/{id}/score-change/{decision}", cases(o.apiReviewChange))
	mux.Handle("GET /api/v1/office/score-changes", cases(o.apiScoreChanges))
	mux.Handle("GET /api/v1/office/inspection-slots", cases(o.apiSlots))
	mux.Handle("POST /api/v1/office/inspection-slots", cases(o.apiSlotCreate))
}

// decideItem is one indicator on the decide page.
type decideItem struct {
	review.Item
	Rows      []discrepancy.Row // declared beside the facts the cross-check verified
	Corrected []discrepancy.Row // declared beside the corrected facts, once decided with them
	Open      bool              // may be decided now
	Waiting   bool              // waits for the in-person check
}

type reviewCaseView struct {
	*review.CaseView
	Items      []decideItem
	Open       bool // the case takes decisions
	CanInspect bool // an in-person check may still be required
	CanRecord  bool // the check's outcome may be recorded
	CanApprove bool // a score change waits and the viewer may decide it
	OwnChange  bool // the viewer's decisions caused the waiting change
	Outcomes   []rules.Option
	Slot       string
}

func (o *Office) reviewCase(w http.ResponseWriter, r *http.Request) {
	o.renderReviewCase(w, r, http.StatusOK, o.sh.Page(r, "复查决定"))
}

func (o *Office) renderReviewCase(w http.ResponseWriter, r *http.Request, status int, p *ui.Page) {
	u := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	cv, err := o.review.Case(r.Context(), u, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := reviewCaseView{CaseView: cv, Open: cv.RequestStatus == "received" && cv.Status != "decided" && cv.Status != "approval" &&
		cv.AppStatus == "review_requested",
		Outcomes: []rules.Option{{Value: review.Upheld, Label: review.OutcomeName(review.Upheld)},
			{Value: review.Rejected, Label: review.OutcomeName(review.Rejected)}}}
	anyOpen := false
	for _, it := range cv.Items {
		di := decideItem{Item: it}
		declared := it.Declared
		di.Rows = discrepancy.Compare("", it.Code, declared, it.Verified)
		if it.Decision != nil && it.Decision.Corrected != "" {
			di.Corrected = discrepancy.Compare("", it.Code, declared, it.Decision.Corrected)
		}
		di.Waiting = it.Inspection && cv.Inspection != nil && cv.Inspection.Attendance == ""
		di.Open = v.Open && it.Decision == nil && !di.Waiting
		anyOpen = anyOpen || (v.Open && it.Decision == nil)
		v.Items = append(v.Items, di)
	}
	v.CanInspect = anyOpen && cv.Inspection == nil
	v.CanRecord = v.Open && cv.Inspection != nil && cv.Inspection.Attendance == ""
	if cv.Inspection != nil && cv.Inspection.Slot != nil {
		v.Slot = cv.Inspection.Slot.Label()
	}
	if cv.Change != nil && cv.Change.Status == "pending" {
		v.OwnChange = cv.Change.ProposedBy == u.UserID
		for _, it := range cv.Items {
			if it.Decision != nil && it.Decision.Corrected != "" && it.Decision.DecidedBy == u.UserID {
				v.OwnChange = true
			}
		}
		v.CanApprove = !v.OwnChange
	}
	if _, ok := p.Form["version"]; !ok {
		p.Form["version"] = strconv.Itoa(cv.Version)
	}
	p.Title = fmt.Sprintf("复查决定 %d", id)
	p.Data = v
	o.sh.Render(w, r, status, "office_review_decide", p)
}

// reviewAction runs one form of the decide page; a field to correct or a
// conflict shows the page again with the message and the input kept.
func (o *Office) reviewAction(w http.ResponseWriter, r *http.Request) {
	u := shell.Actor(r.Context())
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("body", "表单内容无法读取，请返回后重新填写"))
		return
	}
	ctx := r.Context()
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	switch r.PathValue("action") {
	case "decide":
		d := review.Decision{Indicator: r.PostFormValue("indicator"), Outcome: r.PostFormValue("outcome"),
			Reason: r.PostFormValue("reason"), Version: version}
		switch r.PostFormValue("correct") {
		case "declared":
			d.UseDeclared = true
		case "custom":
			d.Corrected, err = parseCorrected(r.PostFormValue("corrected"))
		}
		if err == nil {
			err = o.review.Decide(ctx, u, id, d)
		}
	case "inspection":
		err = o.review.RequireInspection(ctx, u, id, r.PostForm["indicators"], r.PostFormValue("note"), version)
	case "approve":
		if !ui.Confirmed(r) && o.confirmReviewApproval(w, r, id) {
			return
		}
		err = o.review.Approve(ctx, u, id)
	case "reject-change":
		err = o.review.RejectChange(ctx, u, id, r.PostFormValue("note"))
	default:
		web.NotFound(w, r)
		return
	}
	o.reviewAnswer(w, r, id, err)
}

// reviewAnswer redirects after a done action, or shows the page again with
// the error of a form.
func (o *Office) reviewAnswer(w http.ResponseWriter, r *http.Request, id int64, err error) {
	if err == nil {
		o.sh.Flash(w, r, fmt.Sprintf("/office/reviews/%d", id), "saved")
		return
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict, apperr.Forbidden, apperr.TooLarge:
		p := o.sh.Page(r, "复查决定")
		p.SetError(err)
		// The corrected facts are one text area: any of their fields'
		// messages shows on it.
		for k, m := range p.Fields {
			if strings.HasPrefix(k, "corrected.") && p.Fields["corrected"] == "" {
				p.Fields["corrected"] = m
			}
		}
		for k, vs := range r.PostForm {
			if len(vs) > 0 && k != "version" {
				p.Form[k] = vs[0]
			}
		}
		p.Form["action"] = r.PathValue("action")
		o.renderReviewCase(w, r, web.Status(err), p)
	default:
		web.WriteError(w, r, err)
	}
}

// parseCorrected reads the corrected facts of an indicator: the JSON of a
// declaration's fields, as the API takes them.
func parseCorrected(s string) (*rules.CalculatorRequest, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var c rules.CalculatorRequest
	if err := dec.Decode(&c); err != nil {
		return nil, apperr.Field("corrected", "更正后的事实格式不正确：应与申报信息的格式相同（如 {\"housing\": [...]}）")
	}
	return &c, nil
}

// confirmReviewApproval shows what approving a score change does and
// reports true; when the viewer cannot approve now it shows nothing and
// the service answers with its message.
func (o *Office) confirmReviewApproval(w http.ResponseWriter, r *http.Request, id int64) bool {
	u := shell.Actor(r.Context())
	cv, err := o.review.Case(r.Context(), u, id)
	if err != nil || cv.Change == nil || cv.Change.Status != "pending" || cv.Change.ProposedBy == u.UserID {
		return false
	}
	back := fmt.Sprintf("/office/reviews/%d", id)
	o.confirm(w, r, "确认审批复查积分调整？", ui.Confirm{Heading: "确认审批复查积分调整？",
		Lead: fmt.Sprintf("申请人 %s（申请编号 %d）的复查。", cv.PersonName, id),
		Effects: []string{fmt.Sprintf("该申请的积分由 %s 分调整为 %s 分。", cv.Change.OldScore, cv.Change.NewScore),
			"申请随即审核完成（最终结果），并通知申请人。", "审批结论记入审计日志，不能撤回。"},
		Action: back + "/approve", Carry: ui.Carry(r.PostForm), Button: "审批通过", Cancel: back})
	return true
}

// readEvidence reads the record form of an in-person check: attendance,
// outcome and an optional file. A body that is not a multipart form is
// read as an url-encoded one (no file).
func readEvidence(w http.ResponseWriter, r *http.Request) (review.Record, func(), error) {
	r.Body = http.MaxBytesReader(w, r.Body, evidenceLimit)
	var rec review.Record
	done := func() {}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			if web.IsTooLarge(err) {
				return rec, done, &apperr.Error{Code: apperr.TooLarge, Message: "文件不能超过10MB",
					Fields: []apperr.FieldError{{Field: "file", Message: "文件不能超过10MB，请压缩后再上传"}}}
			}
			return rec, done, apperr.Field("file", "表单内容无法读取，请重新选择文件")
		}
		done = func() { _ = r.MultipartForm.RemoveAll() }
		if f, h, err := r.FormFile("file"); err == nil {
			rec.File, rec.Filename = f, h.Filename
			done = func() { _ = f.Close(); _ = r.MultipartForm.RemoveAll() }
		} else if !errors.Is(err, http.ErrMissingFile) {
			return rec, done, apperr.Field("file", "文件无法读取，请重新选择")
		}
	} else if err := r.ParseForm(); err != nil {
		return rec, done, apperr.Field("body", "表单内容无法读取，请返回后重新填写")
	}
	rec.Attendance, rec.Outcome = r.FormValue("attendance"), r.FormValue("outcome")
	rec.Version, _ = strconv.Atoi(r.FormValue("version"))
	return rec, done, nil
}

func (o *Office) reviewRecord(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	rec, done, err := readEvidence(w, r)
	defer done()
	if err == nil {
		err = o.review.RecordInspection(r.Context(), shell.Actor(r.Context()), id, rec)
	}
	o.reviewAnswer(w, r, id, err)
}

// reviewEvidence serves the evidence file of an in-person check (audited).
func (o *Office) reviewEvidence(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	name, typ, rc, err := o.review.Evidence(r.Context(), shell.Actor(r.Context()), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Disposition", "inline; filename*=UTF-8''"+urlPathEscape(name))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.Copy(w, rc)
}

func urlPathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

type approvalsView struct{ Items []review.Pending }

func (o *Office) reviewApprovals(w http.ResponseWriter, r *http.Request) {
	items, err := o.review.Approvals(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := o.sh.Page(r, "复查积分调整审批")
	p.Data = approvalsView{Items: items}
	o.sh.Render(w, r, http.StatusOK, "office_review_approvals", p)
}

type slotsView struct {
	Slots     []review.Slot
	Districts []string
	Fixed     bool
	District  string
}

func (o *Office) reviewSlots(w http.ResponseWriter, r *http.Request) {
	o.renderSlots(w, r, http.StatusOK, o.sh.Page(r, "现场审核预约时段"))
}

func (o *Office) renderSlots(w http.ResponseWriter, r *http.Request, status int, p *ui.Page) {
	u := shell.Actor(r.Context())
	d, fixed := officerDistrict(u)
	if !fixed {
		d = r.URL.Query().Get("district")
	}
	slots, err := o.review.Slots(r.Context(), u, d)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p.Data = slotsView{Slots: slots, Districts: rules.Districts(), Fixed: fixed, District: d}
	o.sh.Render(w, r, status, "office_review_slots", p)
}

func (o *Office) reviewSlotCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		web.WriteError(w, r, apperr.Field("body", "表单内容无法读取，请返回后重新填写"))
		return
	}
	capacity, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("capacity")))
	if err != nil {
		capacity = 0
	}
	_, err = o.review.CreateSlot(r.Context(), shell.Actor(r.Context()), review.SlotInput{District: r.PostFormValue("district"),
		Day: r.PostFormValue("date"), Half: r.PostFormValue("half"), Capacity: capacity})
	if err == nil {
		o.sh.Flash(w, r, "/office/reviews/slots", "saved")
		return
	}
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.Conflict:
		p := o.sh.Page(r, "现场审核预约时段")
		p.SetError(err)
		for _, k := range []string{"district", "date", "half", "capacity"} {
			p.Form[k] = r.PostFormValue(k)
		}
		o.renderSlots(w, r, web.Status(err), p)
	default:
		web.WriteError(w, r, err)
	}
}

// The JSON API of the same actions.

func (o *Office) apiReviews(w http.ResponseWriter, r *http.Request) {
	d, _ := officerDistrict(shell.Actor(r.Context()))
	st := r.URL.Query().Get("status")
	if st != "received" {
		st = "forwarded"
	}
	items, err := o.apps.ReviewsForDistrict(r.Context(), d, st, 200)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	type row struct {
		ApplicationID int64    `json:"application_id"`
		PersonName    string   `json:"person_name"`
		EmployerName  string   `json:"employer_name"`
		District      string   `json:"district"`
		Indicators    []string `json:"indicators"`
		Reason        string   `json:"reason"`
		EmployerNote  string   `json:"employer_note"`
		Status        string   `json:"status"`
	}
	out := []row{}
	for _, it := range items {
		out = append(out, row{it.ApplicationID, it.PersonName, it.EmployerName, it.District, it.Indicators, it.Reason, it.EmployerNote, it.Status})
	}
	web.JSON(w, http.StatusOK, map[string]any{"items": out})
}

func (o *Office) apiReviewReceive(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err == nil {
		u := shell.Actor(r.Context())
		d, _ := officerDistrict(u)
		err = o.apps.ReceiveReviewBy(r.Context(), u, d, id)
	}
	o.apiDone(w, r, id, err)
}

func (o *Office) apiReviewCase(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	cv, err := o.review.Case(r.Context(), shell.Actor(r.Context()), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, cv)
}

// apiDone answers an action with the case as it now stands.
func (o *Office) apiDone(w http.ResponseWriter, r *http.Request, id int64, err error) {
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	cv, err := o.review.Case(r.Context(), shell.Actor(r.Context()), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, cv)
}

func (o *Office) apiReviewDecide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var in struct {
		Indicator   string                   `json:"indicator"`
		Outcome     string                   `json:"outcome"`
		Reason      string                   `json:"reason"`
		Corrected   *rules.CalculatorRequest `json:"corrected"`
		UseDeclared bool                     `json:"use_declared"`
		Version     int                      `json:"version"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	err = o.review.Decide(r.Context(), shell.Actor(r.Context()), id, review.Decision{Indicator: in.Indicator, Outcome: in.Outcome,
		Reason: in.Reason, Corrected: in.Corrected, UseDeclared: in.UseDeclared, Version: in.Version})
	o.apiDone(w, r, id, err)
}

func (o *Office) apiReviewRequireInspection(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var in struct {
		Indicators []string `json:"indicators"`
		Note       string   `json:"note"`
		Version    int      `json:"version"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.apiDone(w, r, id, o.review.RequireInspection(r.Context(), shell.Actor(r.Context()), id, in.Indicators, in.Note, in.Version))
}

func (o *Office) apiReviewRecord(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		web.WriteError(w, r, apperr.Field("body", "请以 multipart/form-data 提交：attendance、outcome，可附 file"))
		return
	}
	rec, done, err := readEvidence(w, r)
	defer done()
	if err == nil {
		err = o.review.RecordInspection(r.Context(), shell.Actor(r.Context()), id, rec)
	}
	o.apiDone(w, r, id, err)
}

func (o *Office) apiReviewChange(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var in struct {
		Note string `json:"note"`
	}
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	u := shell.Actor(r.Context())
	switch r.PathValue("decision") {
	case "approve":
		err = o.review.Approve(r.Context(), u, id)
	case "reject":
		err = o.review.RejectChange(r.Context(), u, id, in.Note)
	default:
		web.NotFound(w, r)
		return
	}
	o.apiDone(w, r, id, err)
}

func (o *Office) apiScoreChanges(w http.ResponseWriter, r *http.Request) {
	items, err := o.review.Approvals(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if items == nil {
		items = []review.Pending{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"items": items})
}

func (o *Office) apiSlots(w http.ResponseWriter, r *http.Request) {
	slots, err := o.review.Slots(r.Context(), shell.Actor(r.Context()), r.URL.Query().Get("district"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if slots == nil {
		slots = []review.Slot{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"slots": slots})
}

func (o *Office) apiSlotCreate(w http.ResponseWriter, r *http.Request) {
	var in review.SlotInput
	if err := web.DecodeJSON(r, &in); err != nil {
		web.WriteError(w, r, err)
		return
	}
	sl, err := o.review.CreateSlot(r.Context(), shell.Actor(r.Context()), in)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, sl)
}

// reviewTodos is the 工作台's count of score changes waiting for the
// viewer's approval (those of their own decisions excluded).
func (o *Office) reviewTodos(r *http.Request) []todo {
	items, err := o.review.Approvals(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		o.sh.Log.Error("office home: score changes", "err", err, "request_id", web.RequestID(r.Context()))
		return nil
	}
	n := 0
	for _, p := range items {
		if !p.Own {
			n++
		}
	}
	return []todo{capped(todo{Label: "复查积分调整待审批", Href: "/office/reviews/approvals", Hint: "须由作出复查决定以外的经办人员审批"}, n)}
}
