package app

import (
	"context"
	"encoding/json"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/reports"
	"jifen/internal/stats"
	"jifen/internal/statsreport"
)

// statsRunner answers the saved queries of statsreport: kind "query" by
// the statistics engine, kind "report" by the ready reports. Each is a
// func so that the engine and the reports are plugged in here when they
// land (and faked in tests); one left nil answers that it is not ready.
type statsRunner struct {
	query  func(ctx context.Context, by actor.Actor, q stats.Query) (*stats.Result, error)
	report func(ctx context.Context, by actor.Actor, code string, params map[string]string) (*stats.Result, error)
}

var errStatsNotReady = apperr.New(apperr.Invalid, "统计功能尚未就绪，未生成报表")

func (r statsRunner) Run(ctx context.Context, by actor.Actor, kind, spec string) (*stats.Result, error) {
	dec := json.NewDecoder(strings.NewReader(spec))
	switch kind {
	case statsreport.KindQuery:
		var q stats.Query
		if err := dec.Decode(&q); err != nil {
			return nil, apperr.New(apperr.Invalid, "保存的统计查询无法读取，请重新保存")
		}
		if r.query == nil {
			return nil, errStatsNotReady
		}
		return r.query(ctx, by, q)
	case statsreport.KindReport:
		var rs struct {
			Code   string            `json:"code"`
			Params map[string]string `json:"params"`
		}
		if err := dec.Decode(&rs); err != nil {
			return nil, apperr.New(apperr.Invalid, "保存的报表设置无法读取，请重新保存")
		}
		if r.report == nil {
			return nil, errStatsNotReady
		}
		return r.report(ctx, by, rs.Code, rs.Params)
	}
	return nil, apperr.New(apperr.Invalid, "未知的统计查询类型")
}

// buildStatsReports makes the saved queries and scheduled reports
// (statsreport) and registers their jobs. The lead connects the engine
// (query: a.Stats.Run) and the ready reports (report) in the runner.
func (a *App) buildStatsReports() {
	// A saved query's file leaves the office (a download, a mail's link):
	// RunOut suppresses it with the adjusted totals; statsreport's own
	// Suppress then finds nothing more to hide.
	a.buildReports()
	run := statsRunner{query: func(ctx context.Context, by actor.Actor, q stats.Query) (*stats.Result, error) {
		return a.Stats.RunOut(ctx, by, q, a.Cfg.StatsMinCell)
	}, report: func(ctx context.Context, by actor.Actor, code string, params map[string]string) (*stats.Result, error) {
		return a.Reports.Run(ctx, by, code, reports.Params(params))
	}}
	a.StatsReports = statsreport.New(a.DB, a.Audit, a.Clock, a.Accounts, a.Outbox, run, a.Jobs)
	a.StatsReports.SuppressBelow = a.Cfg.StatsMinCell
	a.StatsReports.OfficeURL = a.officeURL()
	a.StatsReports.Register(a.Jobs)
}

// officeURL is the office site's address for links in mail to officers.
func (a *App) officeURL() string {
	addr := a.Cfg.OfficeAddr
	if strings.HasPrefix(addr, ":") {
		addr = "localhost" + addr
	}
	scheme := "http://"
	if a.Cfg.TLSCert != "" {
		scheme = "https://"
	}
	return scheme + addr
}
