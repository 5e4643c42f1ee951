package portal

import (
	"net/http"
	"slices"
	"strconv"

	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/ui"
)

// stepLink is the previous or next section, for moving through the
// declaration in order.
type stepLink struct{ Href, Title string }

// sectionPageView is one page of the declaration.
type sectionPageView struct {
	Status           caseStatus
	Slug, Title, Why string
	Number, Count    int // 第Number项，共Count项
	Prev, Next       *stepLink
	Action           string
	Version          int
	Editable         bool
	Groups           []ctlGroup
	Lists            []calcListView
	Lines            []string    // what is saved, once the declaration is locked
	Estimate         estimateFig // of what is saved; the script updates it as fields change
	Unsaved          bool        // the form holds values that are not saved (a row added, an error)
	Files            attachmentsView
	Carried          []carriedItemView // this page's items carried from an earlier round, not yet confirmed
}

func (p *Portal) sectionPage(w http.ResponseWriter, r *http.Request) {
	sec, ok := sectionBySlug(r.PathValue("section"))
	if !ok {
		web.NotFound(w, r)
		return
	}
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	if d.app == nil {
		web.Redirect(w, r, "/me")
		return
	}
	p.renderSection(w, r, http.StatusOK, c, d, sec, declForm(d.app.Declaration), "", d.app.Version, nil)
}

// sectionPost saves a section: the saved declaration with this page's
// fields replaced, validated and scored by SaveDraft as the API's PUT is.
// The version comes from the page, so a page left open in another tab gets
// the conflict message instead of overwriting newer answers. With add=<list>
// it only shows one more row (the no-JavaScript way of adding one).
func (p *Portal) sectionPost(w http.ResponseWriter, r *http.Request) {
	sec, ok := sectionBySlug(r.PathValue("section"))
	if !ok {
		web.NotFound(w, r)
		return
	}
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	if d.app == nil {
		web.Redirect(w, r, "/me")
		return
	}
	if !readForm(w, r, calcBodyLimit) {
		return
	}
	f := parseCalcForm(r.PostForm)
	version, _ := strconv.Atoi(r.PostFormValue("version"))
	if add := r.PostFormValue("add"); add != "" {
		p.renderSection(w, r, http.StatusOK, c, d, sec, f, add, version, nil)
		return
	}
	req, formErrs := f.request()
	decl := d.app.Declaration
	sec.apply(&decl, req)
	var err error
	if len(formErrs) > 0 {
		// A number that is not one reaches the engine as 0: show the
		// form's message, with whatever else the engine finds, and save
		// nothing.
		_, eerr := application.Estimate(decl)
		err = apperr.Fields(appFieldErrors(mergeFieldErrors(formErrs, engineErrors(eerr)), func(f string) string { return f }))
	} else {
		_, err = p.svc.Applications.SaveDraft(r.Context(), c.caller, d.app.ID, decl, version)
	}
	if err == nil {
		// Saving a section goes on to the next one, as a paper form is
		// filled in from the first page to the last.
		p.sh.Flash(w, r, nextSection(sec).Href, "draft_saved")
		return
	}
	if !shownOnPage(err) {
		web.WriteError(w, r, err)
		return
	}
	p.renderSection(w, r, statusOf(err), c, d, sec, f, "", version, err)
}

// renderSection shows a section's form holding f, with err's messages in
// the summary and beside their fields.
func (p *Portal) renderSection(w http.ResponseWriter, r *http.Request, status int, c *applicantCtx, d *caseData,
	sec *section, f *calcForm, add string, version int, err error) {
	a := d.app
	year := a.Declaration.ApplicationYear
	book := bookOf(year)
	taxYears := book.TaxYears(year)
	pg := p.page(r, sec.title+" - 积分填报")
	pg.Form = f.flat()
	if fe := engineErrors(err); len(fe) > 0 {
		showFieldErrors(pg, mergeFieldErrors(nil, fe), taxYears)
	} else if err != nil {
		pg.SetError(err)
	}
	action := "/me/application/" + sec.slug
	cv := buildCalcView(pg, f, book, optGroup{}, taxYears, add, nil, action)
	v := sectionPageView{Status: d.status(), Slug: sec.slug, Title: sec.title, Why: sec.why, Count: len(sections),
		Action: action, Version: version, Editable: a.Status.Editable(), Lines: sec.describe(a.Declaration, book.Labels()),
		Estimate: estimateFigure(a.Declaration), Unsaved: add != "" || err != nil}
	i := slices.IndexFunc(sections, func(s section) bool { return s.slug == sec.slug })
	v.Number = i + 1
	if i > 0 {
		v.Prev = &stepLink{"/me/application/" + sections[i-1].slug, sections[i-1].title}
	}
	v.Next = nextSection(sec)
	for _, it := range p.carriedViews(r, c, a) {
		if slices.ContainsFunc(sec.indicators, func(o option) bool { return o.Value == it.Item }) {
			v.Carried = append(v.Carried, it)
		}
	}
	if sec.groups != nil {
		v.Groups = sec.groups(cv, pg)
	}
	for _, l := range sec.lists {
		v.Lists = append(v.Lists, cv.Lists[l])
	}
	files, err := p.svc.Attachments.ListOf(r.Context(), c.caller, a)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v.Files = attachmentsOf(sec, files, v.Editable)
	pg.Data = v
	p.sh.Render(w, r, status, "portal_section", pg)
}

// showFieldErrors puts a form's errors on the page: the summary, and each
// message beside the control pageField names (several on one control are
// joined). The calculator and the declaration pages share it.
func showFieldErrors(pg *ui.Page, errs rules.FieldErrors, taxYears []int) {
	if len(errs) == 0 {
		return
	}
	shown := appFieldErrors(errs, func(f string) string { return pageField(f, taxYears) })
	pg.SetError(apperr.Fields(shown))
	pg.Fields = map[string]string{}
	for _, e := range shown {
		if old := pg.Fields[e.Field]; old != "" {
			e.Message = old + "；" + e.Message
		}
		pg.Fields[e.Field] = e.Message
	}
}

// nextSection is the page after sec: the next section, or 核对并提交
// after the last.
func nextSection(sec *section) *stepLink {
	i := slices.IndexFunc(sections, func(s section) bool { return s.slug == sec.slug })
	if i >= 0 && i+1 < len(sections) {
		return &stepLink{"/me/application/" + sections[i+1].slug, sections[i+1].title}
	}
	return &stepLink{"/me/application/submit", "核对并提交"}
}

// estimateFig is the one figure every page shows for a declaration's
// estimate (估算): estimateOf's total, or why there is none yet. The
// applicant's pages, the employer's and the live estimate all use it, so
// the same draft never shows two different figures.
type estimateFig struct {
	Total    string // "20.00"; "" when the declaration cannot be scored yet
	Eligible bool
	Why      string // why there is no figure
}

func estimateFigure(d rules.CalculatorRequest) estimateFig {
	res, why := estimateOf(d)
	if res == nil {
		return estimateFig{Why: why}
	}
	return estimateFig{Total: res.Total.String(), Eligible: res.Eligible}
}

// Text is the figure as the pages print it.
func (f estimateFig) Text() string {
	if f.Total == "" {
		return "暂时无法估算"
	}
	return f.Total + " 分"
}

// EligibleText is the eligibility as the pages print it.
func (f estimateFig) EligibleText() string {
	switch {
	case f.Total == "":
		return ""
	case f.Eligible:
		return "符合申报条件"
	}
	return "暂不符合申报条件"
}

// sectionEstimate answers the estimate of the declaration as it would be
// with this section's fields as they are on the page now, unsaved: the
// live estimate the section page shows as fields change. It saves
// nothing; the figure is the same computation as every other page's.
func (p *Portal) sectionEstimate(w http.ResponseWriter, r *http.Request) {
	sec, ok := sectionBySlug(r.PathValue("section"))
	if !ok {
		web.NotFound(w, r)
		return
	}
	c, d, ok := p.caseOf(w, r)
	if !ok {
		return
	}
	if d.app == nil || c == nil {
		web.WriteError(w, r, application.ErrNotFound)
		return
	}
	if !readForm(w, r, calcBodyLimit) {
		return
	}
	req, formErrs := parseCalcForm(r.PostForm).request()
	decl := d.app.Declaration
	sec.apply(&decl, req)
	fig := estimateFigure(decl)
	if len(formErrs) > 0 {
		fig = estimateFig{Why: "本页有填写不正确的内容，暂时无法估算"}
	}
	why := fig.Why
	if fig.Total != "" {
		why = "按本页当前填写的内容估算（尚未保存）"
	}
	web.JSON(w, http.StatusOK, map[string]any{"finished": true, "fields": map[string]string{
		"estimate": fig.Text(), "eligible": fig.EligibleText(), "estimate-note": why,
	}})
}
