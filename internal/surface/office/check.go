package office

import (
	"net/http"
	"strconv"
	"strings"

	"jifen/internal/account"
	"jifen/internal/check"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/round"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithCheck gives the office the cross-check engine (业务比对).
func (o *Office) WithCheck(e *check.Engine) *Office {
	o.check = e
	return o
}

func (o *Office) registerCheck(mux *web.Mux) {
	if o.check == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/check", sh.RequireUser(account.PermCheckMonitor, o.checkHome))
	mux.Handle("POST /office/check/runs", sh.RequireUser(account.PermCheckRun, o.checkStart))
	mux.Handle("GET /office/check/runs/{id}", sh.RequireUser(account.PermCheckMonitor, o.checkRun))
	mux.Handle("GET /office/check/runs/{id}/progress", sh.RequireUser(account.PermCheckMonitor, o.checkProgress))
	mux.Handle("POST /office/check/runs/{id}/{action}", sh.RequireUser(account.PermCheckRun, o.checkDecide))
}

type checkItem struct{ Code, Name string }

type checkHomeView struct {
	Rounds    []*round.Round
	Round     *round.Round
	Runs      []*check.Run
	Latest    *check.Progress
	Items     []checkItem
	Rulebooks []string
	CanRun    bool
}

func checkItems() []checkItem {
	var out []checkItem
	for _, c := range rules.CheckItems() {
		out = append(out, checkItem{c, rules.CheckItemName(c)})
	}
	return out
}

func (o *Office) checkHome(w http.ResponseWriter, r *http.Request) {
	o.renderCheckHome(w, r, http.StatusOK, nil)
}

func (o *Office) renderCheckHome(w http.ResponseWriter, r *http.Request, status int, formErr error) {
	ctx := r.Context()
	u := shell.User(ctx)
	v := checkHomeView{Items: checkItems(), Rulebooks: rules.Versions(), CanRun: u.Can(account.PermCheckRun)}
	var err error
	if v.Rounds, err = o.sh.Rounds.List(ctx); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if id, _ := strconv.ParseInt(r.FormValue("round"), 10, 64); id != 0 {
		for _, rd := range v.Rounds {
			if rd.ID == id {
				v.Round = rd
			}
		}
	}
	if v.Round == nil {
		if v.Round, err = o.sh.Rounds.Current(ctx); err != nil && len(v.Rounds) > 0 {
			v.Round = v.Rounds[0]
		}
	}
	if v.Round != nil {
		if v.Runs, err = o.check.Runs(ctx, v.Round.ID, 20); err != nil {
			web.WriteError(w, r, err)
			return
		}
		for _, run := range v.Runs {
			if run.Scope == "round" && run.Item == "" {
				if v.Latest, err = o.check.Progress(ctx, run.ID); err != nil {
					web.WriteError(w, r, err)
					return
				}
				break
			}
		}
	}
	p := o.sh.Page(r, "业务比对")
	if formErr != nil {
		p.SetError(formErr)
		for _, k := range []string{"item", "application_id", "rulebook", "reason"} {
			p.Form[k] = r.FormValue(k)
		}
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_check", p)
}

func (o *Office) checkStart(w http.ResponseWriter, r *http.Request) {
	in := check.RunInput{Item: r.FormValue("item"), Rulebook: r.FormValue("rulebook"), Reason: strings.TrimSpace(r.FormValue("reason"))}
	var fe []apperr.FieldError
	var err error
	if in.RoundID, err = strconv.ParseInt(r.FormValue("round"), 10, 64); err != nil {
		fe = append(fe, apperr.FieldError{Field: "round", Message: "请选择年度批次"})
	}
	if s := strings.TrimSpace(r.FormValue("application_id")); s != "" {
		if in.ApplicationID, err = strconv.ParseInt(s, 10, 64); err != nil || in.ApplicationID <= 0 {
			fe = append(fe, apperr.FieldError{Field: "application_id", Message: "申请编号应为正整数"})
		}
	}
	if r.FormValue("kind") == "rerun" && in.Reason == "" {
		fe = append(fe, apperr.FieldError{Field: "reason", Message: "请填写重新比对的原因"})
	}
	if len(fe) > 0 {
		o.renderCheckHome(w, r, http.StatusBadRequest, apperr.Fields(fe))
		return
	}
	run, err := o.check.StartRun(r.Context(), shell.Actor(r.Context()), in)
	if err != nil {
		if e := apperr.As(err); e.Code == apperr.Invalid || e.Code == apperr.Conflict {
			o.renderCheckHome(w, r, http.StatusBadRequest, err)
			return
		}
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/check/runs/"+strconv.FormatInt(run.ID, 10), "created")
}

type checkRunView struct {
	Progress *check.Progress
	Impact   *check.Impact
	CanRun   bool
	ItemName string
	Live     bool // the page polls its progress until the run is finished
}

func (o *Office) checkRun(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	ctx := r.Context()
	v := checkRunView{CanRun: shell.User(ctx).Can(account.PermCheckRun)}
	if v.Progress, err = o.check.Progress(ctx, id); err != nil {
		web.WriteError(w, r, err)
		return
	}
	v.ItemName = rules.CheckItemName(v.Progress.Run.Item)
	v.Live = !runFinished(v.Progress.Run.Status)
	if run := v.Progress.Run; run.Mode == "preview" && run.Status == "ready" {
		if v.Impact, err = o.check.Impact(ctx, id); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	p := o.sh.Page(r, "比对任务 #"+strconv.FormatInt(id, 10))
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_check_run", p)
}

// LiveView is what a page that watches long work polls (static/live.js):
// Finished stops the polling (the script then reloads the page once so the
// final state, with its buttons, is rendered by the server), and Fields
// holds the text of each element marked data-live-text="key" (and the
// value or max of a <progress> marked data-live-value / data-live-max).
type LiveView struct {
	Finished bool              `json:"finished"`
	Status   string            `json:"status"`
	Fields   map[string]string `json:"fields"`
}

// runFinished: a run whose progress no longer moves by itself.
func runFinished(status string) bool { return status != "running" && status != "applying" }

// progressLive is a run's progress as the live fields its pages show.
func progressLive(p *check.Progress) LiveView {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	f := map[string]string{
		"status": p.Run.StatusName(), "total": n(p.Run.Total), "checked": n(p.Checked),
		"pending": n(p.Pending), "waiting": n(p.Waiting), "failed": n(p.Failed),
	}
	for _, a := range p.Agencies {
		k := "agency." + a.Agency + "."
		f[k+"done"], f[k+"total"], f[k+"pending"] = n(a.Done), n(a.Total), n(a.Pending)
		f[k+"waiting"], f[k+"failed"], f[k+"error"] = n(a.Waiting), n(a.Failed), a.LastError
	}
	for _, d := range p.Districts {
		k := "district." + d.District + "."
		f[k+"total"], f[k+"checked"], f[k+"pending"] = n(d.Total), n(d.Checked), n(d.Pending)
		f[k+"waiting"], f[k+"failed"] = n(d.Waiting), n(d.Failed)
	}
	return LiveView{Finished: runFinished(p.Run.Status), Status: p.Run.Status, Fields: f}
}

// checkProgress answers a run's progress as JSON, for the run page and the
// console to update themselves while the run is under way.
func (o *Office) checkProgress(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p, err := o.check.Progress(r.Context(), id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, progressLive(p))
}

func (o *Office) checkDecide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	switch r.PathValue("action") {
	case "apply":
		if !ui.Confirmed(r) {
			o.confirmApply(w, r, id)
			return
		}
		err = o.check.Apply(r.Context(), shell.Actor(r.Context()), id)
	case "discard":
		err = o.check.Discard(r.Context(), shell.Actor(r.Context()), id, strings.TrimSpace(r.FormValue("reason")))
	default:
		err = apperr.New(apperr.NotFound, "您访问的页面不存在")
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/check/runs/"+strconv.FormatInt(id, 10), "saved")
}

// confirmApply says what applying a previewed run does before it is done.
func (o *Office) confirmApply(w http.ResponseWriter, r *http.Request, id int64) {
	ctx := r.Context()
	pr, err := o.check.Progress(ctx, id)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	back := "/office/check/runs/" + strconv.FormatInt(id, 10)
	c := ui.Confirm{Heading: "确认应用比对任务 #" + strconv.FormatInt(id, 10) + " 的结果？",
		Lead:   strconv.Itoa(pr.Run.Year) + "年度" + pr.Run.ScopeName() + "比对，积分规则 " + pr.Run.Rulebook + " 版。",
		Action: back + "/apply", Carry: ui.Carry(r.PostForm), Button: "确认应用", Cancel: back}
	if pr.Run.Status == "ready" {
		im, err := o.check.Impact(ctx, id)
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		c.Effects = append(c.Effects,
			"共 "+i64(im.Changed)+" 件申请的分数会变化：上升 "+i64(im.Up)+" 件，下降 "+i64(im.Down)+" 件。",
			i64(im.Eligibility)+" 件申请的申请资格结论会变化。")
	}
	c.Effects = append(c.Effects, "新的分数和比对差异立即取代原结果，申请人和单位即可看到；应用后不能撤回，只能重新比对。")
	o.confirm(w, r, c.Heading, c)
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }
