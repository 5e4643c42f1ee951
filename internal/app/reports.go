package app

import (
	"jifen/internal/reports"
	"jifen/internal/surface/office"
	"jifen/internal/surface/shell"
)

// buildReports builds the ready-made reports (常用统计报表) over the owners
// that answer them. The registry only reads; it asks accessstats and
// mailing rather than their tables.
func (a *App) buildReports() {
	d := reports.Deps{DB: a.DB, Clock: a.Clock}
	if a.AccessStats != nil {
		d.Access = a.AccessStats
	}
	if a.Campaigns != nil {
		d.Mail = a.Campaigns
	}
	if a.Cases.Casework != nil {
		d.Due = a.Cases.Casework
	}
	a.Reports = reports.New(d)
}

// reportPages are the office pages of the ready-made reports.
func (a *App) reportPages(sh *shell.Shell) *office.ReportPages {
	return office.NewReports(sh, a.Reports, a.Cfg.StatsMinCell)
}
