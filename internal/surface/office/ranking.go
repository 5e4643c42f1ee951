package office

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/publicity"
	"jifen/internal/ranking"
	"jifen/internal/round"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// WithRanking gives the office the round's freeze and ranking pages.
func (o *Office) WithRanking(r *ranking.Service) *Office {
	o.ranking = r
	return o
}

// WithPublisher adds the publication of a committed ranking to the ranking
// page.
func (o *Office) WithPublisher(p *publicity.Publisher) *Office {
	o.publisher = p
	return o
}

// registerRanking adds the city bureau's freeze, what-if, draft and commit
// pages and their JSON API (docs/api.md, "Freeze and ranking").
func (o *Office) registerRanking(mux *web.Mux) {
	if o.ranking == nil {
		return
	}
	sh := o.sh
	mux.Handle("GET /office/rounds/{id}/ranking", sh.RequireUser(account.PermRoundsManage, o.rankingPage))
	mux.Handle("POST /office/rounds/{id}/ranking/{action}", sh.RequireUser(account.PermRoundsManage, o.rankingAction))
	mux.Handle("POST /office/reopenings/{id}/{decision}", sh.RequireUser(account.PermRoundsManage, o.reopeningDecide))

	mux.Handle("GET /api/v1/office/rounds", sh.RequireUser(account.PermRoundsManage, o.apiRounds))
	mux.Handle("GET /api/v1/office/rounds/{id}/ranking", sh.RequireUser(account.PermRoundsManage, o.apiRanking))
	mux.Handle("GET /api/v1/office/rounds/{id}/ranking/what-if", sh.RequireUser(account.PermRoundsManage, o.apiWhatIf))
	mux.Handle("POST /api/v1/office/rounds/{id}/{action}", sh.RequireUser(account.PermRoundsManage, o.apiRoundAction))
	mux.Handle("POST /api/v1/office/reopenings/{id}/{decision}", sh.RequireUser(account.PermRoundsManage, o.apiReopeningDecide))
}

type rankingView struct {
	Round      *round.Round
	Draft      *ranking.Summary
	Committed  *ranking.Summary
	Reopenings []*round.Reopening
	Quota      ui.FieldView
	Outcome    *ranking.Outcome
	// WhatIfErr is why the what-if could not be computed (no final
	// application yet, a quota out of range).
	WhatIfErr  string
	Exclusions []ranking.Exclusion
	UserID     int64
	Reason     ui.FieldView
	// Publication (积分公示): the versions published, and the form.
	Publications []*publicity.Publication
	CanPublish   bool
	NoticeStart  ui.FieldView
	NoticeEnd    ui.FieldView
	PubReason    ui.FieldView
}

func (o *Office) rankingPage(w http.ResponseWriter, r *http.Request) {
	o.renderRanking(w, r, http.StatusOK, nil)
}

// renderRanking draws the round's freeze and ranking page; formErr, when
// set, is shown beside the form it came from.
func (o *Office) renderRanking(w http.ResponseWriter, r *http.Request, status int, formErr error) {
	ctx := r.Context()
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	by := shell.Actor(ctx)
	v := rankingView{Round: rd, UserID: by.UserID, Reason: ui.FieldView{Name: "reason", Label: "解除冻结的理由",
		Hint: "10到1000字；须由另一名经办人员批准，批准后未确认的排名作废", Required: true}}
	var err error
	if v.Draft, v.Committed, err = o.ranking.Stored(ctx, by, rd.ID); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if v.Reopenings, err = o.sh.Rounds.Reopenings(ctx, rd.ID); err != nil {
		web.WriteError(w, r, err)
		return
	}
	quota := rd.Quota
	q := strings.TrimSpace(r.FormValue("quota"))
	v.Quota = ui.FieldView{Name: "quota", Label: "名额", Hint: "默认为本批次的落户指标", Value: q, Type: "text", Inputmode: "numeric", Required: true}
	if q == "" {
		v.Quota.Value = strconv.Itoa(quota)
	} else if n, err := strconv.Atoi(q); err != nil || n <= 0 {
		v.Quota.Error = "名额必须是大于 0 的整数"
		quota = 0
	} else {
		quota = n
	}
	if quota > 0 {
		o, err := o.ranking.WhatIf(ctx, by, rd.ID, quota)
		switch {
		case err == nil:
			v.Outcome = o
		case apperr.Is(err, apperr.Invalid):
			v.Quota.Error = firstFieldMessage(err)
		case apperr.Is(err, apperr.Conflict):
			v.WhatIfErr = apperr.As(err).Message
		default:
			web.WriteError(w, r, err)
			return
		}
	}
	shown := v.Committed
	if shown == nil {
		shown = v.Draft
	}
	if shown != nil && shown.Excluded > 0 {
		if v.Exclusions, err = o.ranking.Exclusions(ctx, shown.ID); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	if o.publisher != nil {
		if v.Publications, err = o.publisher.Publications(ctx, rd.ID); err != nil {
			web.WriteError(w, r, err)
			return
		}
		v.CanPublish = v.Committed != nil && rd.Frozen()
		for _, p := range v.Publications {
			if v.Committed != nil && p.RankingID == v.Committed.ID {
				v.CanPublish = false
			}
		}
		today := o.sh.Clock.Now().In(clock.Beijing)
		v.NoticeStart = ui.FieldView{Name: "notice_start", Label: "公示开始日期", Type: "date", Required: true,
			Value: today.AddDate(0, 0, 1).Format("2006-01-02"), Hint: "名单于该日零时（北京时间）起公开"}
		v.NoticeEnd = ui.FieldView{Name: "notice_end", Label: "公示结束日期", Type: "date", Required: true,
			Value: today.AddDate(0, 0, 7).Format("2006-01-02"), Hint: fmt.Sprintf("含该日；公示期不超过 %d 天", publicity.MaxNoticeDays)}
		v.PubReason = ui.FieldView{Name: "pub_reason", Label: "更正说明", Hint: "发布更正后的新版本时必填（10到1000字），随名单公布"}
		if r.Method == http.MethodPost {
			v.NoticeStart.Value, v.NoticeEnd.Value, v.PubReason.Value = r.FormValue("notice_start"), r.FormValue("notice_end"), r.FormValue("pub_reason")
		}
	}
	if formErr != nil {
		e := apperr.As(formErr)
		field := ""
		if len(e.Fields) > 0 {
			field = e.Fields[0].Field
		}
		switch field {
		case "reason":
			v.Reason.Value, v.Reason.Error = r.FormValue("reason"), e.Fields[0].Message
		case "notice_start":
			v.NoticeStart.Error = e.Fields[0].Message
		case "notice_end":
			v.NoticeEnd.Error = e.Fields[0].Message
		case "pub_reason", "reason_pub":
			v.PubReason.Error = e.Fields[0].Message
		default:
			v.WhatIfErr = e.Message
		}
	}
	p := o.sh.Page(r, fmt.Sprintf("%d年度冻结与排名", rd.Year))
	p.Data = v
	o.sh.Render(w, r, status, "office_ranking", p)
}

func firstFieldMessage(err error) string {
	e := apperr.As(err)
	if len(e.Fields) > 0 {
		return e.Fields[0].Message
	}
	return e.Message
}

// rankingAction freezes, asks to reopen, prepares a draft or commits,
// after a confirmation page for the three that cannot be taken back.
func (o *Office) rankingAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	by := shell.Actor(ctx)
	back := "/office/rounds/" + strconv.FormatInt(rd.ID, 10) + "/ranking"
	action := r.PathValue("action")
	var err error
	switch action {
	case "freeze":
		if !ui.Confirmed(r) {
			o.confirmRanking(w, r, rd, action, back)
			return
		}
		_, err = o.sh.Rounds.Freeze(ctx, by, rd.ID)
	case "reopen":
		_, err = o.sh.Rounds.RequestReopening(ctx, by, rd.ID, r.FormValue("reason"))
	case "draft":
		quota, qerr := formQuota(r)
		if qerr != nil {
			err = qerr
			break
		}
		if !ui.Confirmed(r) {
			o.confirmRanking(w, r, rd, action, back)
			return
		}
		_, err = o.ranking.Prepare(ctx, by, rd.ID, quota)
		back += "?quota=" + strconv.Itoa(quota)
	case "commit":
		if !ui.Confirmed(r) {
			o.confirmRanking(w, r, rd, action, back)
			return
		}
		_, err = o.ranking.Commit(ctx, by, rd.ID)
	case "publish":
		if o.publisher == nil {
			err = apperr.New(apperr.NotFound, "您访问的页面不存在")
			break
		}
		if !ui.Confirmed(r) {
			o.confirmRanking(w, r, rd, action, back)
			return
		}
		_, err = o.publisher.Publish(ctx, by, rd.ID, strings.TrimSpace(r.FormValue("notice_start")),
			strings.TrimSpace(r.FormValue("notice_end")), r.FormValue("pub_reason"))
		if apperr.Is(err, apperr.Invalid) && len(apperr.As(err).Fields) > 0 && apperr.As(err).Fields[0].Field == "reason" {
			err = apperr.Field("pub_reason", apperr.As(err).Fields[0].Message)
		}
	default:
		err = apperr.New(apperr.NotFound, "您访问的页面不存在")
	}
	if err != nil {
		if shownHere(err) {
			o.renderRanking(w, r, web.Status(err), err)
			return
		}
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, back, "saved")
}

func formQuota(r *http.Request) (int, error) {
	q := strings.TrimSpace(r.FormValue("quota"))
	if q == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(q)
	if err != nil || n <= 0 {
		return 0, apperr.Field("quota", "名额必须是大于 0 的整数")
	}
	return n, nil
}

// confirmRanking says what a freeze, a draft or a commit does before it is
// done.
func (o *Office) confirmRanking(w http.ResponseWriter, r *http.Request, rd *round.Round, action, back string) {
	y := strconv.Itoa(rd.Year)
	c := ui.Confirm{Action: back + "/" + action, Carry: ui.Carry(r.PostForm), Cancel: back}
	switch action {
	case "freeze":
		c.Heading, c.Button = "确认冻结"+y+"年度批次？", "确认冻结"
		c.Lead = "冻结后积分不能再变更，才能生成和确认排名。"
		c.Effects = []string{"填报、单位提交、数据比对和复查立即关闭；尚未审核完成的申请不参加排名。",
			"冻结后如需变更积分，须提出解除冻结申请，由另一名市人力社保局经办人员批准；解除冻结会作废未确认的排名。"}
	case "draft":
		c.Heading, c.Button = "按所填名额生成"+y+"年度排名？", "生成排名"
		c.Lead = "排名按冻结时的最终积分生成，保存为待确认的排名，供核对后确认。"
		c.Effects = []string{"已有的待确认排名将被替换。", "生成排名不会通知申请人；排名、分数线和是否取得资格在公示前只在本系统内可见。"}
	case "commit":
		c.Heading, c.Button = "确认"+y+"年度排名？", "确认排名"
		c.Lead = "确认后排名不可更改：数据库拒绝任何修改，公示将以此排名为准。"
		c.Effects = []string{"确认后如需更正（如公示异议成立），须经另一名经办人员批准解除冻结；原排名作废但保留存档，更正后重新排名、确认并发布新版本的公示。"}
	case "publish":
		c.Heading, c.Button = "发布"+y+"年度积分落户公示？", "发布公示"
		c.Lead = fmt.Sprintf("公示期 %s 至 %s。发布后名单不可更改：更正只能发布新的版本，各版本均公开。", r.FormValue("notice_start"), r.FormValue("notice_end"))
		c.Effects = []string{"公示开始日起名单在互联网公开（公示编号、姓名、出生年月、单位名称、积分及各项指标分值），并公布规范文本的 SM3、SHA-256 摘要和 Merkle 根。",
			"公示开始后，申请状态变为“已公示”，申请人和单位可看到排名、分数线和是否取得资格，并收到邮件通知。",
			"公示期内公众可提出异议或举报。"}
	}
	o.confirm(w, r, c.Heading, c)
}

func (o *Office) reopeningDecide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	ro, err := o.decideReopening(r, id, r.FormValue("note"))
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/rounds/"+strconv.FormatInt(ro.RoundID, 10)+"/ranking", "saved")
}

func (o *Office) decideReopening(r *http.Request, id int64, note string) (*round.Reopening, error) {
	switch r.PathValue("decision") {
	case "approve":
		return o.sh.Rounds.DecideReopening(r.Context(), shell.Actor(r.Context()), id, true, note)
	case "reject":
		return o.sh.Rounds.DecideReopening(r.Context(), shell.Actor(r.Context()), id, false, note)
	}
	return nil, apperr.New(apperr.NotFound, "您访问的页面不存在")
}

// roundJSON is a round as the office API shows it.
type roundJSON struct {
	ID       int64  `json:"id"`
	Year     int    `json:"year"`
	Title    string `json:"title"`
	Rulebook string `json:"rulebook"`
	Quota    int    `json:"quota"`
	Frozen   bool   `json:"frozen"`
	FrozenAt string `json:"frozen_at,omitempty"`
}

func roundOut(rd *round.Round) roundJSON {
	out := roundJSON{ID: rd.ID, Year: rd.Year, Title: rd.Title, Rulebook: rd.Rulebook, Quota: rd.Quota, Frozen: rd.Frozen()}
	if rd.Frozen() {
		out.FrozenAt = rd.FrozenAt.Format("2006-01-02T15:04:05Z07:00")
	}
	return out
}

func (o *Office) apiRounds(w http.ResponseWriter, r *http.Request) {
	list, err := o.sh.Rounds.List(r.Context())
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	out := make([]roundJSON, 0, len(list))
	for _, rd := range list {
		out = append(out, roundOut(rd))
	}
	web.JSON(w, http.StatusOK, map[string]any{"rounds": out})
}

func (o *Office) apiRanking(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	d, c, err := o.ranking.Stored(ctx, shell.Actor(ctx), rd.ID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	ros, err := o.sh.Rounds.Reopenings(ctx, rd.ID)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"round": roundOut(rd), "draft": d, "committed": c, "reopenings": ros})
}

func (o *Office) apiWhatIf(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	quota, err := formQuota(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	out, err := o.ranking.WhatIf(r.Context(), shell.Actor(r.Context()), rd.ID, quota)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, out)
}

// apiRoundAction: POST /api/v1/office/rounds/{id}/{freeze|reopen|ranking-draft|ranking-commit}.
func (o *Office) apiRoundAction(w http.ResponseWriter, r *http.Request) {
	rd, ok := o.roundOf(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	by := shell.Actor(ctx)
	var body struct {
		Reason string `json:"reason"`
		Quota  int    `json:"quota"`
	}
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &body); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	var out any
	var err error
	switch r.PathValue("action") {
	case "freeze":
		var fr *round.Round
		if fr, err = o.sh.Rounds.Freeze(ctx, by, rd.ID); err == nil {
			out = roundOut(fr)
		}
	case "reopen":
		out, err = o.sh.Rounds.RequestReopening(ctx, by, rd.ID, body.Reason)
	case "ranking-draft":
		if body.Quota < 0 {
			err = apperr.Field("quota", "名额必须是大于 0 的整数")
			break
		}
		out, err = o.ranking.Prepare(ctx, by, rd.ID, body.Quota)
	case "ranking-commit":
		out, err = o.ranking.Commit(ctx, by, rd.ID)
	default:
		err = apperr.New(apperr.NotFound, "您访问的页面不存在")
	}
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, out)
}

func (o *Office) apiReopeningDecide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var body struct {
		Note string `json:"note"`
	}
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(r, &body); err != nil {
			web.WriteError(w, r, err)
			return
		}
	}
	ro, err := o.decideReopening(r, id, body.Note)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, ro)
}
