package portal

import (
	"cmp"
	"errors"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/ui"
)

const (
	calcBodyLimit = 64 << 10 // a calculator request, JSON or form: over it is 413
	calcMaxRows   = 100      // rows of one list the page keeps, as the rules bound a list
)

// registerCalculator adds the public calculator (积分自测): the JSON API and
// the page. Neither needs a login; both run rules.Calculate, the code the
// bureau scores applications with.
func (p *Portal) registerCalculator(mux *web.Mux) {
	mux.HandleFunc("POST /api/v1/calculator", p.calculatorAPI)
	mux.HandleFunc("GET /calculator", p.calculatorPage)
	mux.HandleFunc("POST /calculator", p.calculatorSubmit)
}

func (p *Portal) calculatorAPI(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, calcBodyLimit)
	req, err := rules.DecodeCalculatorRequest(r.Body)
	var res rules.Result
	if err == nil {
		res, err = rules.Calculate(req)
	}
	var fe rules.FieldErrors
	if errors.As(err, &fe) {
		err = apperr.Fields(appFieldErrors(fe, func(f string) string { return f }))
	}
	if err != nil { // a *http.MaxBytesError inside err answers 413
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, res)
}

// appFieldErrors converts the engine's field errors to the application's,
// placing each on the field where names it.
func appFieldErrors(fe rules.FieldErrors, where func(string) string) []apperr.FieldError {
	out := make([]apperr.FieldError, len(fe))
	for i, e := range fe {
		out[i] = apperr.FieldError{Field: where(e.Field), Message: e.Message}
	}
	return out
}

// defaultCalcForm is the form as the page first shows it.
func defaultCalcForm() *calcForm {
	return &calcForm{values: map[string]string{"residence_permit": "true", "criminal_record": "false", "cadre": "false"}}
}

// calculatorPage shows the empty form. Its form is the same for every
// visitor of a year, and rendering its few hundred controls is most of the
// cost of the page (issue 9: 250 pages/s against 5,000 for the home), so it
// is rendered once a year and shown as it is.
func (p *Portal) calculatorPage(w http.ResponseWriter, r *http.Request) {
	pg := p.calcPage(r)
	form, err := p.defaultCalcFormHTML(p.sh.Clock.Now().In(clock.Beijing).Year())
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	pg.Data = calcView{Form: form}
	p.sh.Render(w, r, http.StatusOK, "calculator", pg)
}

// builtCalcForm is the default form of one year, rendered.
type builtCalcForm struct {
	year int
	html template.HTML
}

// defaultCalcFormHTML returns the default form of the calculator page in
// the year now, rendering it on the first call of the year. Two requests may
// both render it at the turn of a year; either result is the same.
func (p *Portal) defaultCalcFormHTML(now int) (template.HTML, error) {
	if b := p.calcForm.Load(); b != nil && b.year == now {
		return b.html, nil
	}
	pg := &ui.Page{Form: map[string]string{}, Fields: map[string]string{}}
	pg.Data = calcData(pg, defaultCalcForm(), now, "", nil, nil)
	html, err := p.sh.UI.Fragment("calculator", "calc-form", pg)
	if err != nil {
		return "", apperr.Wrap(err)
	}
	p.calcForm.Store(&builtCalcForm{year: now, html: html})
	return html, nil
}

// calculatorSubmit computes, or with add=<list> shows one more row of that
// list, or with refresh re-renders for a changed application year: the
// no-JavaScript ways of changing the form.
func (p *Portal) calculatorSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, calcBodyLimit)
	if err := r.ParseForm(); err != nil {
		if !web.IsTooLarge(err) {
			err = apperr.Field("body", "表单内容无法读取，请重新填写")
		}
		web.WriteError(w, r, err)
		return
	}
	f := parseCalcForm(r.PostForm)
	if add := r.PostFormValue("add"); add != "" || r.PostFormValue("refresh") != "" {
		p.renderCalculator(w, r, http.StatusOK, f, add, nil, nil)
		return
	}
	req, errs := f.request()
	res, err := rules.Calculate(req)
	var fe rules.FieldErrors
	if err != nil && !errors.As(err, &fe) {
		web.WriteError(w, r, err)
		return
	}
	if errs = mergeFieldErrors(errs, fe); len(errs) > 0 {
		p.renderCalculator(w, r, http.StatusBadRequest, f, "", nil, errs)
		return
	}
	p.renderCalculator(w, r, http.StatusOK, f, "", &res, nil)
}

// calcList is one list of repeatable rows of the form.
type calcList struct {
	name, title, hint string
	subs              []string // the fields of a row
	min               int      // rows shown at least (one blank row: 增加一行 adds more)
}

var calcLists = []calcList{
	{"social_insurance", "社会保险缴费记录（实际缴纳）", "按段填写在北京实际缴纳社会保险的月份，如 2015-03 至 2021-12。就业指标按1998年7月起实际缴纳的月数计分。",
		[]string{"from", "to"}, 1},
	{"back_paid", "社会保险补缴记录", "补缴的月份不计就业分，但计入连续缴纳；统计截止月前连续84个月中补缴不得超过5个月。没有补缴可不填。",
		[]string{"from", "to"}, 1},
	{"housing", "住所记录", "填写自有住房、租赁住房或单位宿舍。2020年8月起的租赁住房须已办理租赁备案方可计分。",
		[]string{"kind", "from", "to", "district", "registered"}, 1},
	{"workplaces", "工作地记录", "用于职住区域指标：自有住房在城六区以外，且工作地也在城六区以外的月份加分更多。",
		[]string{"from", "to", "district"}, 1},
	{"innovation", "创新创业项目", "融资项目填写融资金额（万元）；获奖和大赛项目选择等级。多个项目取最高一项。没有可不填。",
		[]string{"kind", "amount_wan", "level"}, 1},
}

// calcForm is the calculator form as submitted: trimmed values by field
// path, and each list's non-blank rows in order. Blank rows are dropped, so
// that row i of the page is record i of the request and the engine's field
// paths ("housing[1].from") name the page's fields.
type calcForm struct {
	values map[string]string
	honors []string
	rows   map[string][]map[string]string
	shown  map[string]int // rows of each list on the submitted page
}

func parseCalcForm(form url.Values) *calcForm {
	f := &calcForm{values: map[string]string{}, rows: map[string][]map[string]string{}, shown: map[string]int{}}
	grid := map[string][]map[string]string{} // list → rows as submitted, blank ones too
	for key, vals := range form {
		if key == "honors" {
			f.honors = slices.DeleteFunc(slices.Clone(vals), func(v string) bool { return v == "" })
			continue
		}
		v := strings.TrimSpace(vals[0])
		name, i, sub, ok := splitRowKey(key)
		if !ok {
			f.values[key] = v
			continue
		}
		l := slices.IndexFunc(calcLists, func(l calcList) bool { return l.name == name })
		if l < 0 || i >= calcMaxRows || !slices.Contains(calcLists[l].subs, sub) {
			continue
		}
		for len(grid[name]) <= i {
			grid[name] = append(grid[name], map[string]string{})
		}
		grid[name][i][sub] = v
	}
	for _, l := range calcLists {
		f.shown[l.name] = len(grid[l.name])
		for _, row := range grid[l.name] {
			if slices.ContainsFunc(l.subs, func(s string) bool { return row[s] != "" }) {
				f.rows[l.name] = append(f.rows[l.name], row)
			}
		}
	}
	return f
}

// splitRowKey splits "housing[1].from" into its list, index and field.
func splitRowKey(key string) (list string, i int, sub string, ok bool) {
	head, sub, ok := strings.Cut(key, ".")
	open := strings.IndexByte(head, '[')
	if !ok || open <= 0 || !strings.HasSuffix(head, "]") {
		return "", 0, "", false
	}
	i, err := strconv.Atoi(head[open+1 : len(head)-1])
	if err != nil || i < 0 {
		return "", 0, "", false
	}
	return head[:open], i, sub, true
}

// flat returns the form's values by field path, rows renumbered after
// dropping blank ones, for the page to show again.
func (f *calcForm) flat() map[string]string {
	out := maps.Clone(f.values)
	for name, rows := range f.rows {
		for i, row := range rows {
			for sub, v := range row {
				out[name+"["+strconv.Itoa(i)+"]."+sub] = v
			}
		}
	}
	return out
}

// request converts the form to the calculator's JSON contract. Whole
// numbers that are not numbers are the only problems found here; everything
// else is left to the engine's validation, the same as the API's.
func (f *calcForm) request() (rules.CalculatorRequest, rules.FieldErrors) {
	var errs rules.FieldErrors
	names := choicesOf(rules.Latest()).labels.Fields
	whole := func(field string) int {
		s := f.values[field]
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, rules.FieldError{Field: field, Message: names[field] + "应填写整数，如“0”“36”"})
		}
		return n
	}
	yes := func(field string) bool { return f.values[field] == "true" }
	req := rules.CalculatorRequest{
		ApplicationYear: whole("application_year"), BirthDate: f.values["birth_date"], Sex: f.values["sex"],
		Cadre: yes("cadre"), ResidencePermit: yes("residence_permit"), CriminalRecord: yes("criminal_record"),
		Education: rules.EducationInput{Level: f.values["education.level"], Diploma: yes("education.diploma"),
			Degree: yes("education.degree")},
		StudyMonths: whole("study_months"), TaxOffences: whole("tax_offences"), Detentions: whole("detentions"),
		Honors: f.honors,
	}
	for _, r := range f.rows["social_insurance"] {
		req.SocialInsurance = append(req.SocialInsurance, rules.PeriodInput{From: r["from"], To: r["to"]})
	}
	for _, r := range f.rows["back_paid"] {
		req.BackPaid = append(req.BackPaid, rules.PeriodInput{From: r["from"], To: r["to"]})
	}
	for _, r := range f.rows["housing"] {
		req.Housing = append(req.Housing, rules.HousingInput{Kind: r["kind"], From: r["from"], To: r["to"],
			District: r["district"], Registered: r["registered"] == "true"})
	}
	for _, r := range f.rows["workplaces"] {
		req.Workplaces = append(req.Workplaces, rules.WorkplaceInput{From: r["from"], To: r["to"], District: r["district"]})
	}
	for _, r := range f.rows["innovation"] {
		item := rules.InnovationInput{Kind: r["kind"]}
		switch kind, level, _ := strings.Cut(r["level"], ":"); r["kind"] {
		case "financing":
			item.AmountWan = rules.Decimal(r["amount_wan"])
		case kind: // a level of another kind is no level of this one
			item.Level = level
		}
		req.Innovation = append(req.Innovation, item)
	}
	for key, v := range f.values {
		if year, ok := strings.CutPrefix(key, "income_tax."); ok && v != "" {
			if req.IncomeTax == nil {
				req.IncomeTax = map[string]rules.Decimal{}
			}
			req.IncomeTax[year] = rules.Decimal(v)
		}
	}
	return req, errs
}

// calcOrder is the order of the form's groups, for the error summary.
var calcOrder = []string{"application_year", "birth_date", "sex", "cadre", "residence_permit", "criminal_record",
	"social_insurance", "back_paid", "housing", "workplaces", "education", "study_months", "innovation",
	"income_tax", "tax_offences", "honors", "detentions"}

// mergeFieldErrors joins the form's own errors with the engine's, drops an
// engine error on a field the form already faulted (a number that was not
// one reaches the engine as 0), and sorts them in the order of the page.
func mergeFieldErrors(form, engine rules.FieldErrors) rules.FieldErrors {
	out := slices.Clone(form)
	for _, e := range engine {
		if !slices.ContainsFunc(form, func(f rules.FieldError) bool { return f.Field == e.Field }) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b rules.FieldError) int {
		ga, ia := fieldOrder(a.Field)
		gb, ib := fieldOrder(b.Field)
		return cmp.Or(cmp.Compare(ga, gb), cmp.Compare(ia, ib))
	})
	return out
}

// fieldOrder is where a field path's group and record come on the page.
func fieldOrder(field string) (group, index int) {
	head, _, _ := strings.Cut(field, ".")
	name, rest, _ := strings.Cut(head, "[")
	index, _ = strconv.Atoi(strings.TrimSuffix(rest, "]"))
	return slices.Index(calcOrder, name), index
}

// pageField is the control an error is shown beside: an honour is a
// checkbox of the group, not a record, and a tax year the form no longer
// asks (the application year changed) belongs to the tax group.
func pageField(field string, taxYears []int) string {
	if strings.HasPrefix(field, "honors[") {
		return "honors"
	}
	if y, ok := strings.CutPrefix(field, "income_tax."); ok {
		if n, err := strconv.Atoi(y); err != nil || !slices.Contains(taxYears, n) {
			return "income_tax"
		}
	}
	return field
}

// calcPage is the base page of the calculator (shell.Page gives a visitor
// who is not logged in the portal's navigation).
func (p *Portal) calcPage(r *http.Request) *ui.Page {
	pg := p.sh.Page(r, "积分自测")
	return pg
}

func (p *Portal) renderCalculator(w http.ResponseWriter, r *http.Request, status int, f *calcForm, add string,
	res *rules.Result, errs rules.FieldErrors) {
	pg := p.calcPage(r)
	pg.Data = calcData(pg, f, p.sh.Clock.Now().In(clock.Beijing).Year(), add, res, errs)
	p.sh.Render(w, r, status, "calculator", pg)
}

// calcData puts the form's values and errors on pg and builds the page's
// view for the current year now.
func calcData(pg *ui.Page, f *calcForm, now int, add string, res *rules.Result, errs rules.FieldErrors) calcView {
	pg.Form = f.flat()
	year, err := strconv.Atoi(f.values["application_year"])
	book, berr := rules.ForYear(year)
	if err != nil || berr != nil {
		year = now
		if book, berr = rules.ForYear(year); berr != nil {
			book = rules.Latest()
		}
	}
	pg.Form["application_year"] = strconv.Itoa(year)
	taxYears := book.TaxYears(year)
	showFieldErrors(pg, errs, taxYears)
	return buildCalcView(pg, f, book, calcYears(now), taxYears, add, res, "/calculator")
}

// calcYears lists the application years the page offers, newest first: the
// rounds since the oldest rulebook, up to next year's.
func calcYears(now int) optGroup {
	first := now
	if b, err := rules.Book(rules.Versions()[0]); err == nil {
		first, _ = b.Rounds()
	}
	var g optGroup
	for y := max(now+1, first); y >= first; y-- {
		g.Options = append(g.Options, option{Value: strconv.Itoa(y), Label: strconv.Itoa(y) + "年"})
	}
	return g
}

// control is one form control as the page renders it; Name is its field
// path, the key of its value in Page.Form and of its error in Page.Fields.
// ID (the element id after "f-") and Described (its aria-describedby) are
// computed here rather than in the template, which renders hundreds of
// controls on a page.
type control struct {
	Name, Label, Hint, Type, Value, Error, Inputmode string
	ID, Described                                    string
	Groups                                           []optGroup // select, radio, checkboxes
}

type optGroup struct {
	Label   string
	Options []option
}

type option struct {
	Value, Label string
	Selected     bool
}

type calcListView struct {
	Name, Title, Hint, Error, AddAction string
	Rows                                []calcRowView
}

type calcRowView struct {
	Path, Legend, Error string
	Controls            []control
}

type calcView struct {
	Action, RuleTitle      string
	Year                   control
	Basics, Education, Tax []control
	Lists                  map[string]calcListView
	Honors, Detentions     control
	Result                 *rules.Result
	// Form is the default form already rendered; when it is set, the
	// fields above are not used.
	Form template.HTML
}

// calcBuilder builds the controls of one rendering of the page.
type calcBuilder struct {
	pg     *ui.Page
	ch     *calcChoices
	honors []string
}

// calcChoices are a rulebook's choices as the form's option groups. They
// are built once per rulebook and shared by every rendering: choice copies a
// group only to mark a selected option.
type calcChoices struct {
	labels                                              rules.Labels // read only
	sexes, districts, housing, kinds, education, honors optGroup
	awardLevels, contestLevels                          optGroup // values prefixed award: and contest:
}

// calcChoicesOf holds one entry per embedded rulebook (the rules package
// loads each once, so a rulebook is always the same pointer).
var calcChoicesOf sync.Map // *rules.Rulebook → *calcChoices

func choicesOf(book *rules.Rulebook) *calcChoices {
	if ch, ok := calcChoicesOf.Load(book); ok {
		return ch.(*calcChoices)
	}
	l := book.Labels()
	kinds := map[string]string{}
	for _, k := range l.InnovationKinds {
		kinds[k.Value] = k.Label
	}
	ch := &calcChoices{labels: l, sexes: opts("", "", l.Sexes), districts: opts("", "", l.Districts),
		housing: opts("", "", l.HousingKinds), kinds: opts("", "", l.InnovationKinds),
		education: opts("", "", l.EducationLevels), honors: opts("", "", l.Honors),
		awardLevels: opts(kinds["award"], "award:", l.AwardLevels), contestLevels: opts(kinds["contest"], "contest:", l.ContestLevels)}
	actual, _ := calcChoicesOf.LoadOrStore(book, ch)
	return actual.(*calcChoices)
}

// input is a text-like control; typ "numeric" and "decimal" are text
// inputs with that input mode (phones show a number pad).
func (b calcBuilder) input(name, label, typ, hint string) control {
	c := control{Name: name, Label: label, Hint: hint, Type: typ, Value: b.pg.Form[name], Error: b.pg.Fields[name],
		ID: ui.FieldID(name)}
	if c.Hint != "" {
		c.Described = "h-" + c.ID
	}
	if c.Error != "" {
		c.Described += " e-" + c.ID
	}
	if typ == "numeric" || typ == "decimal" {
		c.Type, c.Inputmode = "text", typ
	}
	return c
}

// choice is a select, a radio group or a group of checkboxes.
func (b calcBuilder) choice(name, label, typ, hint string, groups ...optGroup) control {
	c := b.input(name, label, typ, hint)
	selected := func(o option) bool {
		return o.Value == c.Value || typ == "checkboxes" && slices.Contains(b.honors, o.Value)
	}
	for gi := range groups {
		g := &groups[gi]
		if !slices.ContainsFunc(g.Options, selected) {
			continue // nothing to mark: the shared options as they are
		}
		g.Options = slices.Clone(g.Options)
		for i := range g.Options {
			g.Options[i].Selected = selected(g.Options[i])
		}
	}
	c.Groups = groups
	return c
}

// opts turns the rulebook's choices into options, their values prefixed
// with prefix (award and contest levels share codes).
func opts(label, prefix string, list []rules.Option) optGroup {
	g := optGroup{Label: label}
	for _, o := range list {
		g.Options = append(g.Options, option{Value: prefix + o.Value, Label: o.Label})
	}
	return g
}

var blankOption = optGroup{Options: []option{{Value: "", Label: "请选择"}}}

var yesNo = optGroup{Options: []option{{Value: "true", Label: "是"}, {Value: "false", Label: "否"}}}

func (b calcBuilder) cell(list, path, sub string) control {
	ch := b.ch
	switch sub {
	case "from":
		return b.input(path, "起始月份", "month", "")
	case "to":
		return b.input(path, "截止月份（含）", "month", "")
	case "district":
		return b.choice(path, "所在区", "select", "", blankOption, ch.districts)
	case "registered":
		return b.input(path, "已办理租赁备案", "checkbox", "仅租赁住房需要勾选")
	case "amount_wan":
		return b.input(path, "融资金额（万元）", "decimal", "仅融资项目填写")
	case "level":
		return b.choice(path, "获奖或大赛等级", "select", "仅获奖和大赛项目选择", blankOption, ch.awardLevels, ch.contestLevels)
	}
	if list == "housing" {
		return b.choice(path, "住房类型", "select", "", blankOption, ch.housing)
	}
	return b.choice(path, "项目类型", "select", "", blankOption, ch.kinds)
}

// buildCalcView builds the form's controls; action is the path the form
// posts to (the calculator, or a page of an application's declaration).
func buildCalcView(pg *ui.Page, f *calcForm, book *rules.Rulebook, years optGroup, taxYears []int, add string,
	res *rules.Result, action string) calcView {
	b := calcBuilder{pg: pg, ch: choicesOf(book), honors: f.honors}
	v := calcView{Action: action, RuleTitle: book.Title(), Result: res, Lists: map[string]calcListView{}}
	v.Year = b.choice("application_year", "申报年度", "select", "积分统计到申报年度前一年的12月31日。", years)
	v.Basics = []control{
		b.input("birth_date", "出生日期", "date", "如 1980-09-10"),
		b.choice("sex", "性别", "radio", "", b.ch.sexes),
		b.choice("cadre", "是否在干部岗位", "radio", "仅影响女性的法定退休年龄。", yesNo),
		b.choice("residence_permit", "是否持有北京市居住证", "radio", "", yesNo),
		b.choice("criminal_record", "是否有刑事犯罪记录", "radio", "", yesNo),
	}
	for _, l := range calcLists {
		n := max(l.min, f.shown[l.name], len(f.rows[l.name])+1)
		if add == l.name {
			n = max(n, f.shown[l.name]+1)
		}
		n = min(n, calcMaxRows)
		lv := calcListView{Name: l.name, Title: l.title, Hint: l.hint, Error: pg.Fields[l.name],
			AddAction: action + "#f-" + l.name + "-" + strconv.Itoa(n)}
		for i := range n {
			path := l.name + "[" + strconv.Itoa(i) + "]"
			row := calcRowView{Path: path, Legend: l.title + "第" + strconv.Itoa(i+1) + "条", Error: pg.Fields[path]}
			for _, sub := range l.subs {
				row.Controls = append(row.Controls, b.cell(l.name, path+"."+sub, sub))
			}
			lv.Rows = append(lv.Rows, row)
		}
		v.Lists[l.name] = lv
	}
	v.Education = []control{
		b.choice("education.level", "最高学历", "select", "", b.ch.education),
		b.input("education.diploma", "已取得学历（毕业证书）", "checkbox", ""),
		b.input("education.degree", "已取得学位（学位证书）", "checkbox", ""),
		b.input("study_months", "取得该学历（学位）期间在京参保且居住的月数", "numeric",
			"在职读书期间的这些月份已计入就业和住所分，将按规定扣除；没有请留空。"),
	}
	for _, y := range taxYears {
		v.Tax = append(v.Tax, b.input("income_tax."+strconv.Itoa(y), strconv.Itoa(y)+"年个人所得税纳税额（元）", "decimal", ""))
	}
	v.Tax = append(v.Tax, b.input("tax_offences", "近5年涉税违法次数", "numeric", "没有请留空。"))
	v.Honors = b.choice("honors", "荣誉表彰", "checkboxes", "获得以下荣誉之一的，可以勾选。", b.ch.honors)
	v.Detentions = b.input("detentions", "近5年行政拘留次数", "numeric", "没有请留空。")
	return v
}
