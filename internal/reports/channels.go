package reports

import (
	"context"
	"slices"
	"strconv"
	"time"

	"jifen/internal/accessstats"
	"jifen/internal/actor"
	"jifen/internal/mailing"
	"jifen/internal/platform/clock"
	"jifen/internal/stats"
)

// AccessReader answers the publication access statistics
// (accessstats.Stats.Read, which checks check.monitor itself).
type AccessReader interface {
	Read(ctx context.Context, who actor.Actor, from, to time.Time, by string) (*accessstats.Report, error)
}

// MailReader answers a day's mail figures per campaign
// (mailing.Campaigns.DailySummary).
type MailReader interface {
	DailySummary(ctx context.Context, from time.Time) (*mailing.Summary, error)
}

func (r *Registry) access() Report {
	return Report{Code: "access", Title: "公示系统访问情况（按天）",
		Description: "互联网端（公示与申报）每天的浏览次数、独立访客、查询次数、有结果的查询、错误和异议举报。人数为独立访客数。",
		Params:      []Param{fromParam, toParam}, Chart: "line", Permission: actor.PermCheckMonitor, Run: r.runAccess}
}

func (r *Registry) runAccess(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) {
	if r.d.Access == nil {
		return nil, errNotWired("访问统计")
	}
	from, to, err := r.dateRange(p, 30)
	if err != nil {
		return nil, err
	}
	rep, err := r.d.Access.Read(ctx, by, from, to, accessstats.ByDay)
	if err != nil {
		return nil, err
	}
	dim := stats.DimInfo{Name: "day", Label: "日期"}
	values := func(t accessstats.Totals) []stats.Value {
		return []stats.Value{num(float64(t.Views)), num(float64(t.Visitors)), num(float64(t.Searches)),
			num(float64(t.SearchesFound)), num(float64(t.Errors4xx + t.Errors5xx)), num(float64(t.Objections))}
	}
	var out []stats.Row
	for _, b := range rep.Buckets {
		d := b.Start.In(clock.Beijing).Format("2006-01-02")
		dim.Values = append(dim.Values, stats.Level{Code: d, Label: d})
		out = append(out, stats.Row{Keys: []string{d}, Labels: []string{d}, Count: int(b.Visitors), Values: values(b.Totals)})
	}
	ms := []stats.MeasureInfo{m("views", "浏览次数", "次"), m("visitors", "独立访客", "人"), m("searches", "查询次数", "次"),
		m("searches_found", "有结果查询", "次"), m("errors", "错误", "次"), m("objections", "异议举报", "件")}
	return r.result("", []stats.DimInfo{dim}, ms, out, stats.Row{Count: int(rep.Totals.Visitors), Values: values(rep.Totals)}), nil
}

// mailDays is the longest range of the mail report: one read per day.
const mailDays = 92

func (r *Registry) mail() Report {
	return Report{Code: "mail", Title: "邮件群发投递情况（按任务和日期）",
		Description: "每个群发任务每天（北京时间）发出、送达（发出减退信）、退信和发送失败的邮件数。系统不跟踪邮件是否被打开。",
		Params:      []Param{fromParam, toParam}, Chart: "bar", Permission: actor.PermMailSend, Run: r.runMail}
}

func (r *Registry) runMail(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) {
	if err := by.Require(actor.PermMailSend); err != nil {
		return nil, err
	}
	if r.d.Mail == nil {
		return nil, errNotWired("邮件群发")
	}
	from, to, err := r.dateRange(p, 7)
	if err != nil {
		return nil, err
	}
	if to.Sub(from) > mailDays*24*time.Hour {
		return nil, fieldErr("from", "邮件投递报表的日期范围最多 "+strconv.Itoa(mailDays)+" 天")
	}
	cdim := stats.DimInfo{Name: "campaign", Label: "群发任务"}
	ddim := stats.DimInfo{Name: "day", Label: "日期"}
	seen := map[int64]string{}
	var out []stats.Row
	var total [4]int
	for t := from; t.Before(to); t = t.AddDate(0, 0, 1) {
		d := t.In(clock.Beijing).Format("2006-01-02")
		ddim.Values = append(ddim.Values, stats.Level{Code: d, Label: d})
		sum, err := r.d.Mail.DailySummary(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, c := range sum.Campaigns {
			seen[c.ID] = c.Name
			v := [4]int{c.Sent, c.Sent - c.Bounced, c.Bounced, c.Failed}
			for i := range v {
				total[i] += v[i]
			}
			out = append(out, stats.Row{Keys: []string{strconv.FormatInt(c.ID, 10), d}, Labels: []string{c.Name, d}, Count: c.Sent,
				Values: ints(v[:]...)})
		}
	}
	for id, name := range seen {
		cdim.Values = append(cdim.Values, stats.Level{Code: strconv.FormatInt(id, 10), Label: name})
	}
	slices.SortFunc(cdim.Values, func(a, b stats.Level) int { return compareStrings(a.Label, b.Label) })
	slices.SortStableFunc(out, func(a, b stats.Row) int { return compareStrings(a.Labels[0], b.Labels[0]) })
	ms := []stats.MeasureInfo{m("sent", "发出", "封"), m("delivered", "送达", "封"), m("bounced", "退信", "封"), m("failed", "发送失败", "封")}
	return r.result("", []stats.DimInfo{cdim, ddim}, ms, out, stats.Row{Count: total[0], Values: ints(total[:]...)}), nil
}
