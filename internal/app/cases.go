package app

import (
	"context"
	"path/filepath"
	"time"

	"jifen/internal/application"
	"jifen/internal/calendar"
	"jifen/internal/casefile"
	"jifen/internal/casework"
	"jifen/internal/discrepancy"
	"jifen/internal/employer"
	"jifen/internal/fraud"
	"jifen/internal/person"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/mail"
	"jifen/internal/platform/web"
	"jifen/internal/review"
	"jifen/internal/settlement"
	"jifen/internal/surface/portal"
)

// Cases are the services of the annual round's case work.
type Cases struct {
	Employers    *employer.Service
	Persons      *person.Service
	Applications *application.Service
	Attachments  *application.Attachments
	// Discrepancies is the queue of cross-check discrepancies.
	Discrepancies *discrepancy.Service
	// Review decides 复查 requests and books in-person checks; no score
	// changes after the round's freeze; only the officer holding a case
	// (casework) decides it.
	Review *review.Service
	// Casefile is the officers' case view (案件视图).
	Casefile *casefile.Service
	// Fraud is the fraud register (虚假材料库); the applications consult it.
	Fraud *fraud.Service
	// Calendar is the working-day calendar; Casework the queues, the
	// assignment of cases and the service clock's limits.
	Calendar *calendar.Service
	Casework *casework.Service
}

func (a *App) buildCases() error {
	store, err := blob.NewDir(filepath.Join(a.Cfg.DataDir, "blobs"))
	if err != nil {
		return err
	}
	// In-person checks' evidence in a store of its own: the attachments'
	// sweep removes every file no attachment row names.
	evidence, err := blob.NewDir(filepath.Join(a.Cfg.DataDir, "evidence"))
	if err != nil {
		return err
	}
	emp := employer.NewService(a.DB, a.Audit, a.Clock, a.Accounts).WithMail(a.Outbox)
	cal := calendar.NewService(a.DB, a.Audit, a.Clock)
	cw := casework.NewService(a.DB, a.Audit, a.Clock, cal, a.Keys).WithCountsTTL(30 * time.Second)
	apps := application.NewService(a.DB, a.Audit, a.Clock, a.Outbox, a.Rounds).WithDeadlines(cw)
	cw.WithTimeline(apps)
	a.Cases = Cases{
		Employers:     emp,
		Persons:       person.NewService(a.DB, a.Audit, a.Clock, a.Keys, a.Accounts, emp),
		Applications:  apps,
		Attachments:   application.NewAttachments(apps, store),
		Discrepancies: discrepancy.NewService(a.DB, a.Audit, a.Clock, a.Outbox, apps),
		Review:        review.NewService(a.DB, a.Audit, a.Clock, apps, evidence, cw, a.Rounds),
		Calendar:      cal,
		Casework:      cw,
	}
	a.Settlement = settlement.NewService(a.DB, a.Audit, a.Clock, a.Rounds, a.Cases.Persons, apps)
	a.Cases.Fraud = fraud.NewService(a.DB, a.Audit, a.Clock, a.Outbox, a.Cases.Persons, apps)
	apps.WithBans(a.Cases.Fraud)
	a.Ranking.WithBans(a.Cases.Fraud)
	cw.WithPublicNumbers(a.Ranking)
	return nil
}

func (a *App) portalServices() portal.Services {
	return portal.Services{
		Employers: a.Cases.Employers, Persons: a.Cases.Persons, Applications: a.Cases.Applications,
		Attachments: a.Cases.Attachments, Discrepancies: a.Cases.Discrepancies, Review: a.Cases.Review,
		CurrentRound: func(ctx context.Context) (int64, int, error) {
			r, err := a.Rounds.Current(ctx)
			if err != nil {
				return 0, 0, err
			}
			return r.ID, r.Year, nil
		},
		RequireOpen:      a.Rounds.RequireOpen,
		Statement:        a.Check.StatementOf,
		Precheck:         a.Check,
		Views:            a.Audit.ViewsOf,
		History:          a.PastLists,
		Board:            a.Board,
		PublicLimiter:    a.publicLimiter,
		PublicNumber:     a.publicNumber,
		Standing:         a.standing,
		Objections:       a.Objections,
		ObjectionLimiter: web.NewLimiter(a.Cfg.ObjectionRate, a.Cfg.ObjectionBurst),
		Mailing:          a.Mailing,
		UnsubscribeKey:   a.unsubscribeKey,
		Unsubscribed:     func(ctx context.Context, id int64) error { return a.Campaigns.Unsubscribed(ctx, id) },
	}
}

// buildMailer makes mail delivery River jobs of a.Jobs: with no SMTP host
// the jobs wait unworked and mail stays readable in the office mail log.
func (a *App) buildMailer() (*mail.Worker, error) {
	var sender mail.Sender
	if a.Cfg.SMTP.Host != "" {
		s, err := mail.NewSMTPSender(a.smtpConfig())
		if err != nil {
			return nil, err
		}
		sender = s
	}
	return mail.NewWorker(a.Outbox, a.Jobs, sender, mail.WorkerConfig{}, a.Log)
}

// smtpConfig is the configured SMTP server.
func (a *App) smtpConfig() mail.Config {
	return mail.Config{Host: a.Cfg.SMTP.Host, Port: a.Cfg.SMTP.Port, Username: a.Cfg.SMTP.Username,
		Password: a.Cfg.SMTP.Password, TLS: mail.TLSMode(a.Cfg.SMTP.TLS), From: a.Cfg.SMTP.From}
}

func (a *App) smtpDescription() string {
	if a.Cfg.SMTP.Host == "" {
		return ""
	}
	return a.Cfg.SMTP.Host
}
