package office

// The mass-mail campaigns in the office (邮件群发, docs/mailing.md): the
// list and a new campaign, a campaign's page with its actions, figures,
// charts and exports, the send log and the daily summary, and the JSON
// API. For the mail operators (permission mail.send).

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"jifen/internal/account"
	"jifen/internal/mailing"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/mail"
	"jifen/internal/platform/sheet"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// MailOption is a list or a template offered in the new campaign's form.
type MailOption struct {
	ID   int64
	Name string
}

// MailCatalog offers the lists and templates a campaign can use.
type MailCatalog interface {
	ListOptions(r *http.Request) ([]MailOption, error)
	TemplateOptions(r *http.Request) ([]MailOption, error)
}

// WithCampaigns gives the office the mass-mail campaigns.
func (o *Office) WithCampaigns(c *mailing.Campaigns, cat MailCatalog) *Office {
	o.campaigns, o.mailCatalog = c, cat
	return o
}

func (o *Office) registerCampaigns(mux *web.Mux) {
	if o.campaigns == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/mail/campaigns", sh.RequireUser(account.PermMailSend, o.campaignsPage))
	mux.Handle("POST /office/mail/campaigns", sh.RequireUser(account.PermMailSend, o.campaignCreate))
	mux.Handle("GET /office/mail/campaigns/{id}", sh.RequireUser(account.PermMailSend, o.campaignPage))
	mux.Handle("POST /office/mail/campaigns/{id}/{action}", sh.RequireUser(account.PermMailSend, o.campaignAction))
	mux.Handle("GET /office/mail/campaigns/{id}/stats.csv", sh.RequireUser(account.PermMailSend, o.campaignCSV))
	mux.Handle("GET /office/mail/campaigns/{id}/stats.xlsx", sh.RequireUser(account.PermMailSend, o.campaignExcel))
	mux.Handle("GET /office/mail/log", sh.RequireUser(account.PermMailSend, o.sendLog))
	mux.Handle("GET /office/mail/summary", sh.RequireUser(account.PermMailSend, o.mailSummary))
	mux.Handle("GET /api/v1/office/mail/campaigns", sh.RequireUser(account.PermMailSend, o.apiCampaigns))
	mux.Handle("POST /api/v1/office/mail/campaigns", sh.RequireUser(account.PermMailSend, o.apiCampaignCreate))
	mux.Handle("GET /api/v1/office/mail/campaigns/{id}", sh.RequireUser(account.PermMailSend, o.apiCampaign))
	mux.Handle("POST /api/v1/office/mail/campaigns/{id}/{action}", sh.RequireUser(account.PermMailSend, o.apiCampaignAction))
}

type campaignsView struct {
	Campaigns []*mailing.Campaign
	Lists     []MailOption
	Templates []MailOption
}

func (o *Office) campaignsPage(w http.ResponseWriter, r *http.Request) {
	o.renderCampaigns(w, r, http.StatusOK, nil)
}

func (o *Office) renderCampaigns(w http.ResponseWriter, r *http.Request, status int, formErr error) {
	v := campaignsView{}
	var err error
	if v.Campaigns, err = o.campaigns.List(r.Context(), 200); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if o.mailCatalog != nil {
		if v.Lists, err = o.mailCatalog.ListOptions(r); err != nil {
			web.WriteError(w, r, err)
			return
		}
		if v.Templates, err = o.mailCatalog.TemplateOptions(r); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	p := o.sh.Page(r, "群发活动")
	if formErr != nil {
		p.SetError(formErr)
		p.Form = map[string]string{}
		for _, k := range []string{"name", "list", "template", "from", "from_name", "rate", "hourly", "pause_after", "scheduled_at"} {
			p.Form[k] = r.FormValue(k)
		}
	}
	p.Data = v
	o.sh.Render(w, r, status, "office_mail_campaigns", p)
}

// campaignInput reads a new campaign from a form or a JSON body's fields.
func campaignInput(get func(string) string) (mailing.Input, error) {
	in := mailing.Input{Name: get("name"), From: strings.TrimSpace(get("from")), FromName: strings.TrimSpace(get("from_name"))}
	var fe []apperr.FieldError
	num := func(field, label string) int64 {
		s := strings.TrimSpace(get(field))
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			fe = append(fe, apperr.FieldError{Field: field, Message: label + "须是正整数"})
		}
		return n
	}
	in.ListID = num("list", "收件人列表")
	in.TemplateID = num("template", "邮件模板")
	in.Rate, in.Hourly, in.PauseAfter = int(num("rate", "每秒发送量")), int(num("hourly", "每小时发送量")), int(num("pause_after", "连续失败暂停阈值"))
	if in.ListID == 0 {
		fe = append(fe, apperr.FieldError{Field: "list", Message: "请选择收件人列表"})
	}
	if in.TemplateID == 0 {
		fe = append(fe, apperr.FieldError{Field: "template", Message: "请选择邮件模板"})
	}
	if s := strings.TrimSpace(get("scheduled_at")); s != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", s, clock.Beijing)
		if err != nil {
			fe = append(fe, apperr.FieldError{Field: "scheduled_at", Message: "定时发送时间格式不正确"})
		}
		in.ScheduledAt = t
	}
	return in, apperr.Fields(fe)
}

func (o *Office) campaignCreate(w http.ResponseWriter, r *http.Request) {
	in, err := campaignInput(r.FormValue)
	if err == nil {
		var c *mailing.Campaign
		if c, err = o.campaigns.Create(r.Context(), shell.Actor(r.Context()), in); err == nil {
			o.sh.Flash(w, r, fmt.Sprintf("/office/mail/campaigns/%d", c.ID), "saved")
			return
		}
	}
	if shownHere(err) {
		o.renderCampaigns(w, r, web.Status(err), err)
		return
	}
	web.WriteError(w, r, err)
}

// shownHere is an error a form shows beside its fields.
func shownHere(err error) bool {
	return apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) || apperr.Is(err, apperr.Forbidden)
}

type campaignView struct {
	C          *mailing.Campaign
	Stats      *mailing.Stats
	Events     []mailing.Event
	Domains    []mailing.DomainLimit
	RateChart  template.HTML
	MeID       int64
	Delivery   string
	BounceRate string
	Error      string
}

func (o *Office) campaignOf(w http.ResponseWriter, r *http.Request) (*mailing.Campaign, bool) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return nil, false
	}
	c, err := o.campaigns.Get(r.Context(), id)
	if err != nil {
		web.WriteError(w, r, err)
		return nil, false
	}
	return c, true
}

func (o *Office) campaignPage(w http.ResponseWriter, r *http.Request) {
	c, ok := o.campaignOf(w, r)
	if !ok {
		return
	}
	o.renderCampaign(w, r, c, http.StatusOK, nil)
}

func (o *Office) renderCampaign(w http.ResponseWriter, r *http.Request, c *mailing.Campaign, status int, actionErr error) {
	ctx := r.Context()
	v := campaignView{C: c, MeID: shell.Actor(ctx).UserID}
	var err error
	if v.Stats, err = o.campaigns.Stats(ctx, c); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if v.Events, err = o.campaigns.Events(ctx, c.ID); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if v.Domains, err = o.campaigns.DomainLimits(ctx); err != nil {
		web.WriteError(w, r, apperr.Wrap(err))
		return
	}
	v.Delivery = fmt.Sprintf("%.1f%%", v.Stats.DeliveryRate*100)
	v.BounceRate = fmt.Sprintf("%.1f%%", v.Stats.BounceRate*100)
	if n := len(v.Stats.PerMinute); n > 0 {
		sent := make([]float64, n)
		errs := make([]float64, n)
		for i, m := range v.Stats.PerMinute {
			sent[i], errs[i] = float64(m.Sent), float64(m.Deferred+m.Failed)
		}
		first := v.Stats.PerMinute[0].Minute.In(clock.Beijing).Format("01-02 15:04")
		last := v.Stats.PerMinute[n-1].Minute.In(clock.Beijing).Format("01-02 15:04")
		v.RateChart = (lineChart("每分钟发送量（成功、失败与暂缓）", "封", first, last,
			chartSeries{Class: "line-ok", Color: "#00703c", Values: sent},
			chartSeries{Class: "line-err", Color: "#d4351c", Values: errs}))
	}
	if actionErr != nil {
		v.Error = apperr.As(actionErr).Message
	}
	p := o.sh.Page(r, "群发活动："+c.Name)
	p.Data = v
	o.sh.Render(w, r, status, "office_mail_campaign", p)
}

// act runs one action on a campaign.
func (o *Office) act(r *http.Request, c *mailing.Campaign, action string, version int, get func(string) string) (*mailing.Campaign, error) {
	ctx := r.Context()
	by := shell.Actor(ctx)
	switch action {
	case "start":
		return o.campaigns.Start(ctx, by, c.ID, version, true)
	case "approve":
		return o.campaigns.Approve(ctx, by, c.ID, version, true, get("note"))
	case "reject":
		return o.campaigns.Approve(ctx, by, c.ID, version, false, get("note"))
	case "pause":
		return o.campaigns.Pause(ctx, by, c.ID, version, get("reason"))
	case "resume":
		return o.campaigns.Resume(ctx, by, c.ID, version)
	case "cancel":
		return o.campaigns.Cancel(ctx, by, c.ID, version, get("reason"))
	}
	return nil, apperr.New(apperr.NotFound, "您访问的页面不存在")
}

func formVersion(s string) int {
	n, _ := strconv.Atoi(s)
	return max(n, 0)
}

func (o *Office) campaignAction(w http.ResponseWriter, r *http.Request) {
	c, ok := o.campaignOf(w, r)
	if !ok {
		return
	}
	action := r.PathValue("action")
	if action == "cancel" && !ui.Confirmed(r) {
		o.confirm(w, r, "取消群发活动？", ui.Confirm{Heading: "取消群发活动“" + c.Name + "”？", Button: "确认取消",
			Lead: "尚未发送的邮件将不再发送；已发送的不受影响。取消后不能恢复。", Action: r.URL.Path, Carry: ui.Carry(r.PostForm),
			Cancel: fmt.Sprintf("/office/mail/campaigns/%d", c.ID)})
		return
	}
	_, err := o.act(r, c, action, formVersion(r.FormValue("version")), r.FormValue)
	if err != nil {
		if shownHere(err) {
			o.renderCampaign(w, r, c, web.Status(err), err)
			return
		}
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, fmt.Sprintf("/office/mail/campaigns/%d", c.ID), "saved")
}

var campaignStatsHeader = []string{"分钟（北京时间）", "发送成功", "暂缓", "失败"}

func (o *Office) campaignTable(w http.ResponseWriter, r *http.Request) (*mailing.Campaign, [][]string, bool) {
	c, ok := o.campaignOf(w, r)
	if !ok {
		return nil, nil, false
	}
	st, err := o.campaigns.Stats(r.Context(), c)
	if err != nil {
		web.WriteError(w, r, err)
		return nil, nil, false
	}
	rows := make([][]string, 0, len(st.PerMinute))
	for _, m := range st.PerMinute {
		rows = append(rows, []string{m.Minute.In(clock.Beijing).Format("2006-01-02 15:04"), strconv.Itoa(m.Sent),
			strconv.Itoa(m.Deferred), strconv.Itoa(m.Failed)})
	}
	return c, rows, true
}

func (o *Office) campaignCSV(w http.ResponseWriter, r *http.Request) {
	c, rows, ok := o.campaignTable(w, r)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := sheet.WriteCSV(&b, campaignStatsHeader, rows); err != nil {
		web.WriteError(w, r, apperr.Wrap(err))
		return
	}
	download(w, "text/csv; charset=utf-8", fmt.Sprintf("campaign-%d.csv", c.ID), b.Bytes())
}

func (o *Office) campaignExcel(w http.ResponseWriter, r *http.Request) {
	c, rows, ok := o.campaignTable(w, r)
	if !ok {
		return
	}
	cells := make([][]any, len(rows))
	for i, row := range rows {
		cells[i] = []any{row[0]}
		for _, s := range row[1:] {
			n, _ := strconv.Atoi(s)
			cells[i] = append(cells[i], n)
		}
	}
	var b bytes.Buffer
	if err := sheet.WriteExcel(&b, "发送统计", campaignStatsHeader, cells); err != nil {
		web.WriteError(w, r, apperr.Wrap(err))
		return
	}
	download(w, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", fmt.Sprintf("campaign-%d.xlsx", c.ID), b.Bytes())
}

func download(w http.ResponseWriter, ctype, name string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

type sendLogView struct {
	Messages []mail.Message
	Filter   map[string]string
	Statuses []mail.Status
	Names    map[mail.Status]string // the mail log's names of the statuses
}

// sendLog searches the campaigns' messages: recipient, campaign, status,
// SMTP code, time.
func (o *Office) sendLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := mail.Filter{Status: mail.Status(q.Get("status")), To: strings.TrimSpace(q.Get("to")), Limit: 100, Category: mail.CampaignCategory}
	var fe []apperr.FieldError
	if s := q.Get("campaign"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			fe = append(fe, apperr.FieldError{Field: "campaign", Message: "活动编号须是正整数"})
		}
		f.Campaign = n
	}
	if s := q.Get("code"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 999 {
			fe = append(fe, apperr.FieldError{Field: "code", Message: "SMTP 代码须是三位数字"})
		}
		f.Code = n
	}
	for field, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if s := q.Get(field); s != "" {
			t, err := time.ParseInLocation("2006-01-02", s, clock.Beijing)
			if err != nil {
				fe = append(fe, apperr.FieldError{Field: field, Message: "日期格式须为 YYYY-MM-DD"})
			}
			if field == "until" {
				t = t.AddDate(0, 0, 1)
			}
			*dst = t
		}
	}
	if err := apperr.Fields(fe); err != nil {
		web.WriteError(w, r, err)
		return
	}
	msgs, err := o.outbox.List(r.Context(), f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := sendLogView{Messages: msgs, Statuses: mail.Statuses, Names: mailStatusNames, Filter: map[string]string{}}
	for _, k := range []string{"to", "campaign", "status", "code", "since", "until"} {
		v.Filter[k] = q.Get(k)
	}
	p := o.sh.Page(r, "群发日志")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_mail_sendlog", p)
}

func (o *Office) mailSummary(w http.ResponseWriter, r *http.Request) {
	day := r.URL.Query().Get("day")
	now := o.sh.Clock.Now().In(clock.Beijing)
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, clock.Beijing)
	if day != "" {
		t, err := time.ParseInLocation("2006-01-02", day, clock.Beijing)
		if err != nil {
			web.WriteError(w, r, apperr.Field("day", "日期格式须为 YYYY-MM-DD"))
			return
		}
		from = t
	}
	sum, err := o.campaigns.DailySummary(r.Context(), from)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	p := o.sh.Page(r, "群发日报 "+sum.Day)
	p.Data = sum
	o.sh.Render(w, r, http.StatusOK, "office_mail_summary", p)
}

// campaignJSON is a campaign with its figures, as the API answers.
type campaignJSON struct {
	*mailing.Campaign
	Stats *mailing.Stats `json:"stats"`
}

func (o *Office) apiCampaigns(w http.ResponseWriter, r *http.Request) {
	cs, err := o.campaigns.List(r.Context(), 200)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if cs == nil {
		cs = []*mailing.Campaign{}
	}
	web.JSON(w, http.StatusOK, map[string]any{"campaigns": cs})
}

func (o *Office) apiCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := o.campaignOf(w, r)
	if !ok {
		return
	}
	st, err := o.campaigns.Stats(r.Context(), c)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, campaignJSON{c, st})
}

func (o *Office) apiCampaignCreate(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := web.DecodeJSON(r, &body); err != nil {
		web.WriteError(w, r, err)
		return
	}
	get := func(k string) string {
		switch v := body[k].(type) {
		case string:
			return v
		case float64:
			if v == math.Trunc(v) {
				return strconv.FormatInt(int64(v), 10)
			}
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	in, err := campaignInput(get)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	c, err := o.campaigns.Create(r.Context(), shell.Actor(r.Context()), in)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusCreated, c)
}

func (o *Office) apiCampaignAction(w http.ResponseWriter, r *http.Request) {
	c, ok := o.campaignOf(w, r)
	if !ok {
		return
	}
	var body struct {
		Version int    `json:"version"`
		Note    string `json:"note"`
		Reason  string `json:"reason"`
	}
	if err := web.DecodeJSON(r, &body); err != nil {
		web.WriteError(w, r, err)
		return
	}
	get := func(k string) string {
		if k == "note" {
			return body.Note
		}
		return body.Reason
	}
	c, err := o.act(r, c, r.PathValue("action"), body.Version, get)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, c)
}
