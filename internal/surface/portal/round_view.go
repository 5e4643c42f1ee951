package portal

import (
	"context"
	"fmt"
	"strings"
	"time"

	"jifen/internal/round"
)

// RoundView is what the portal home says about the current round: which
// year, what applicants and employers can do now and until when, and what
// opens next.
type RoundView struct {
	Year  int
	Title string
	// Open lists the windows open now, in procedure order.
	Open []WindowView
	// Next is the window that opens next; nil once every window has opened.
	Next *WindowView
	// Over is true once every window of the round has closed.
	Over bool
}

// WindowView is one window of the round as people read it. Times are UTC;
// templates show them in Beijing time with the datetime helper.
type WindowView struct {
	Kind     round.Kind
	Name     string // Chinese, e.g. 个人填报
	What     string // who does what in it, in plain Chinese
	OpensAt  time.Time
	ClosesAt time.Time
}

// windowWhat says, for the public, what happens in each window.
var windowWhat = map[round.Kind]string{
	round.EmployerRegistration: "用人单位在网上注册，核验通过后取得单位注册码",
	round.Application:          "申请人注册账号，填写单位注册码关联单位，填报各项积分指标并提交单位",
	round.EmployerSubmission:   "用人单位确认本单位申请人的信息，提交或退回",
	round.Crosscheck:           "各部门比对申报信息，申请人和单位无需操作",
	round.ResultViewing:        "申请人和用人单位查看初核结果",
	round.Review:               "对初核结果有异议的可申请复查，需现场审核的由单位到区服务窗口办理",
	round.Publication:          "公布最终积分和落户分值，申请人可查看本人积分和排名",
	round.PublicNotice:         "公示拟落户人员名单",
	round.Settlement:           "公示无异议的人员办理落户手续",
}

// OpenText is one line for an open window: "个人填报开放中，截止 2026-05-15 17:00".
func (w WindowView) OpenText() string {
	return fmt.Sprintf("%s开放中，截止 %s", w.Name, round.BeijingTime(w.ClosesAt))
}

// NextText is one line for the window to come: "下一阶段：数据比对，2026-05-25 09:00 开始".
func (w WindowView) NextText() string {
	return fmt.Sprintf("下一阶段：%s，%s 开始", w.Name, round.BeijingTime(w.OpensAt))
}

// Summary says in one sentence where the round stands, for the page's
// heading or a screen reader: what is open now (or that nothing is), and
// what comes next.
func (v *RoundView) Summary() string {
	var parts []string
	for _, w := range v.Open {
		parts = append(parts, w.OpenText())
	}
	switch {
	case v.Over:
		parts = append(parts, "各阶段均已结束")
	case len(v.Open) == 0 && v.Next != nil:
		parts = append(parts, "目前没有开放的阶段")
	}
	if v.Next != nil {
		parts = append(parts, v.Next.NextText())
	}
	return v.Title + "：" + strings.Join(parts, "；") + "。"
}

// CurrentRoundView describes the current round (round.Service.Current) at
// now. With no round at all it returns round.ErrNoRound, which the home page
// treats as "no round announced yet" (test with errors.Is).
func CurrentRoundView(ctx context.Context, svc *round.Service, now time.Time) (*RoundView, error) {
	r, err := svc.Current(ctx)
	if err != nil {
		return nil, err
	}
	return roundViewAt(r, now), nil
}

// roundViewAt builds the view of r at now.
func roundViewAt(r *round.Round, now time.Time) *RoundView {
	v := &RoundView{Year: r.Year, Title: r.Title, Over: len(r.Windows) > 0}
	for _, w := range r.Windows {
		if w.Open(now) {
			v.Open = append(v.Open, windowView(w))
		}
		if now.Before(w.ClosesAt) {
			v.Over = false
		}
	}
	if w, ok := r.Next(now); ok {
		wv := windowView(w)
		v.Next = &wv
	}
	return v
}

func windowView(w round.Window) WindowView {
	return WindowView{Kind: w.Kind, Name: w.Name(), What: windowWhat[w.Kind], OpensAt: w.OpensAt, ClosesAt: w.ClosesAt}
}
