package office

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/round"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// registerRounds adds the city bureau's pages for annual rounds.
func (o *Office) registerRounds(mux *web.Mux) {
	sh := o.sh
	mux.Handle("GET /office/rounds", sh.RequireUser(account.PermRoundsManage, o.rounds))
	mux.Handle("GET /office/rounds/new", sh.RequireUser(account.PermRoundsManage, o.roundNew))
	mux.Handle("POST /office/rounds/new", sh.RequireUser(account.PermRoundsManage, o.roundCreate))
	mux.Handle("GET /office/rounds/{id}/edit", sh.RequireUser(account.PermRoundsManage, o.roundEdit))
	mux.Handle("POST /office/rounds/{id}/edit", sh.RequireUser(account.PermRoundsManage, o.roundUpdate))
}

// localLayout is how a datetime-local input carries a time: Beijing time,
// no zone.
const localLayout = "2006-01-02T15:04"

type roundRow struct {
	*round.Round
	OpenNow []string // names of the windows open now
	Next    *round.Window
	Locked  bool
}

type roundsView struct {
	Rows []roundRow
	Now  time.Time
}

func (o *Office) rounds(w http.ResponseWriter, r *http.Request) {
	list, err := o.sh.Rounds.List(r.Context())
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	now := o.sh.Rounds.Now()
	v := roundsView{Now: now}
	for _, rd := range list {
		row := roundRow{Round: rd, Locked: rd.Locked(now)}
		for _, k := range rd.OpenNow(now) {
			row.OpenNow = append(row.OpenNow, k.Name())
		}
		if nw, ok := rd.Next(now); ok {
			row.Next = &nw
		}
		v.Rows = append(v.Rows, row)
	}
	p := o.sh.Page(r, "年度批次")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_rounds", p)
}

type rulebookOption struct {
	Version, Title, Years string
}

type windowRow struct {
	Name          string
	Open          bool
	Opens, Closes ui.FieldView
}

type roundFormView struct {
	Action    string
	New       bool
	Locked    bool
	Year      int
	Rulebooks []rulebookOption
	Windows   []windowRow
}

func (o *Office) roundNew(w http.ResponseWriter, r *http.Request) {
	in, err := o.sh.Rounds.Draft(r.Context())
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.renderRoundForm(w, r, http.StatusOK, nil, formOf(in), nil)
}

func (o *Office) roundEdit(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	o.renderRoundForm(w, r, http.StatusOK, rd, formOf(round.InputOf(rd)), nil)
}

func (o *Office) roundCreate(w http.ResponseWriter, r *http.Request) {
	o.saveRound(w, r, nil)
}

func (o *Office) roundUpdate(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	o.saveRound(w, r, rd)
}

// roundOf loads the round named in the path, answering 404 itself.
func (o *Office) roundOf(w http.ResponseWriter, r *http.Request) (*round.Round, bool) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return nil, false
	}
	rd, err := o.sh.Rounds.Get(r.Context(), id)
	if err != nil {
		web.WriteError(w, r, err)
		return nil, false
	}
	return rd, true
}

// saveRound creates (old == nil) or updates a round from the posted form.
// Errors of form and of substance are shown together, each beside its field,
// with what the officer typed kept.
func (o *Office) saveRound(w http.ResponseWriter, r *http.Request, old *round.Round) {
	_ = r.ParseForm()
	form, in, fe := parseRoundForm(r)
	var id int64
	if old != nil {
		id = old.ID
	}
	if len(fe) > 0 {
		if err := o.sh.Rounds.Validate(r.Context(), id, in); err != nil && apperr.CodeOf(err) != apperr.Invalid {
			web.WriteError(w, r, err)
			return
		} else if err != nil {
			fe = mergeFieldErrors(fe, apperr.As(err).Fields)
		}
		o.renderRoundForm(w, r, http.StatusBadRequest, old, form, apperr.Fields(fe))
		return
	}
	by := shell.Actor(r.Context())
	var err error
	if old == nil {
		_, err = o.sh.Rounds.Create(r.Context(), by, in)
	} else {
		_, err = o.sh.Rounds.Update(r.Context(), by, id, in)
	}
	switch code := apperr.CodeOf(err); {
	case err == nil && old == nil:
		o.sh.Flash(w, r, "/office/rounds", "created")
	case err == nil:
		o.sh.Flash(w, r, "/office/rounds", "saved")
	case code == apperr.Invalid || code == apperr.Conflict:
		o.renderRoundForm(w, r, web.Status(err), old, form, err)
	default:
		web.WriteError(w, r, err)
	}
}

func (o *Office) renderRoundForm(w http.ResponseWriter, r *http.Request, status int, old *round.Round, form map[string]string, err error) {
	now := o.sh.Rounds.Now()
	v := roundFormView{Action: "/office/rounds/new", New: old == nil}
	title := "新建年度批次"
	if old != nil {
		v.Action = fmt.Sprintf("/office/rounds/%d/edit", old.ID)
		v.Locked = old.Locked(now)
		v.Year = old.Year
		title = fmt.Sprintf("修改%d年度批次", old.Year)
	}
	p := o.sh.Page(r, title)
	p.Form = form
	if err != nil {
		p.SetError(err)
	}
	for _, ver := range rules.Versions() {
		b, berr := rules.Book(ver)
		if berr != nil {
			web.WriteError(w, r, berr)
			return
		}
		first, last := b.Rounds()
		years := fmt.Sprintf("适用于%d年度起", first)
		if last != 0 {
			years = fmt.Sprintf("适用于%d—%d年度", first, last)
		}
		v.Rulebooks = append(v.Rulebooks, rulebookOption{Version: ver, Title: b.Title(), Years: years})
	}
	for _, k := range round.Kinds() {
		row := windowRow{Name: k.Name(), Opens: p.F(round.OpensField(k), k.Name()+"开始时间", "datetime-local", "off"),
			Closes: p.F(round.ClosesField(k), k.Name()+"结束时间", "datetime-local", "off")}
		if old != nil {
			row.Open = old.Open(k, now)
		}
		v.Windows = append(v.Windows, row)
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_round_edit", p)
}

// formOf renders a round's settings as form values.
func formOf(in round.Input) map[string]string {
	f := map[string]string{"year": strconv.Itoa(in.Year), "rulebook": in.Rulebook, "quota": strconv.Itoa(in.Quota),
		"title": in.Title}
	if in.OtherRulebook {
		f["other_rulebook"] = "on"
	}
	for _, wd := range in.Windows {
		f[round.OpensField(wd.Kind)] = wd.OpensAt.In(clock.Beijing).Format(localLayout)
		f[round.ClosesField(wd.Kind)] = wd.ClosesAt.In(clock.Beijing).Format(localLayout)
	}
	return f
}

// parseRoundForm reads the posted form into an Input; it reports the fields
// it cannot read (the service reports the rest).
func parseRoundForm(r *http.Request) (map[string]string, round.Input, []apperr.FieldError) {
	form := map[string]string{}
	get := func(k string) string {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
		return form[k]
	}
	var fe []apperr.FieldError
	var in round.Input
	var err error
	if in.Year, err = strconv.Atoi(get("year")); err != nil {
		fe = append(fe, apperr.FieldError{Field: "year", Message: "请填写年度，为四位数字，如 2027"})
	}
	in.Rulebook = get("rulebook")
	in.OtherRulebook = get("other_rulebook") != ""
	in.Title = get("title")
	if in.Quota, err = strconv.Atoi(get("quota")); err != nil {
		fe = append(fe, apperr.FieldError{Field: "quota", Message: "请填写落户指标，为整数，如 6000"})
	}
	for _, k := range round.Kinds() {
		wd := round.Window{Kind: k}
		for _, end := range []struct {
			field, what string
			t           *time.Time
		}{{round.OpensField(k), "开始时间", &wd.OpensAt}, {round.ClosesField(k), "结束时间", &wd.ClosesAt}} {
			s := get(end.field)
			if s == "" {
				continue // the service says it is missing
			}
			t, ok := parseLocal(s)
			if !ok {
				fe = append(fe, apperr.FieldError{Field: end.field,
					Message: fmt.Sprintf("%s的%s格式不正确，请按“年-月-日 时:分”填写，如 2027-04-01 09:00", k.Name(), end.what)})
				continue
			}
			*end.t = t
		}
		in.Windows = append(in.Windows, wd)
	}
	return form, in, fe
}

// parseLocal reads a Beijing time as a datetime-local input sends it, or as
// a person types it where the browser offers a plain text box.
func parseLocal(s string) (time.Time, bool) {
	for _, layout := range []string{localLayout, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, clock.Beijing); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// mergeFieldErrors adds the service's errors for fields the form parser did
// not already fault, and orders them as the form shows the fields.
func mergeFieldErrors(form, service []apperr.FieldError) []apperr.FieldError {
	out := slices.Clone(form)
	for _, f := range service {
		if !slices.ContainsFunc(out, func(g apperr.FieldError) bool { return g.Field == f.Field }) {
			out = append(out, f)
		}
	}
	order := []string{"year", "rulebook", "quota", "title"}
	for _, k := range round.Kinds() {
		order = append(order, round.OpensField(k), round.ClosesField(k))
	}
	rank := func(f string) int {
		if i := slices.Index(order, f); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(out, func(a, b apperr.FieldError) int { return rank(a.Field) - rank(b.Field) })
	return out
}
