package app

import (
	"context"
	"path/filepath"
	"time"

	"jifen/internal/application"
	"jifen/internal/calendar"
	"jifen/internal/casework"
	"jifen/internal/discrepancy"
	"jifen/internal/employer"
	"jifen/internal/person"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/mail"
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
		Calendar:      cal,
		Casework:      cw,
	}
	return nil
}

func (a *App) portalServices() portal.Services {
	return portal.Services{
		Employers: a.Cases.Employers, Persons: a.Cases.Persons, Applications: a.Cases.Applications,
		Attachments: a.Cases.Attachments, Discrepancies: a.Cases.Discrepancies,
		CurrentRound: func(ctx context.Context) (int64, int, error) {
			r, err := a.Rounds.Current(ctx)
			if err != nil {
				return 0, 0, err
			}
			return r.ID, r.Year, nil
		},
		RequireOpen: a.Rounds.RequireOpen,
		Statement:   a.Check.StatementOf,
	}
}

// buildMailer makes mail delivery River jobs of a.Jobs: with no SMTP host
// the jobs wait unworked and mail stays readable in the office mail log.
func (a *App) buildMailer() (*mail.Worker, error) {
	var sender mail.Sender
	if a.Cfg.SMTP.Host != "" {
		s, err := mail.NewSMTPSender(mail.Config{Host: a.Cfg.SMTP.Host, Port: a.Cfg.SMTP.Port, Username: a.Cfg.SMTP.Username,
			Password: a.Cfg.SMTP.Password, TLS: mail.TLSMode(a.Cfg.SMTP.TLS), From: a.Cfg.SMTP.From})
		if err != nil {
			return nil, err
		}
		sender = s
	}
	return mail.NewWorker(a.Outbox, a.Jobs, sender, mail.WorkerConfig{}, a.Log)
}

func (a *App) smtpDescription() string {
	if a.Cfg.SMTP.Host == "" {
		return ""
	}
	return a.Cfg.SMTP.Host
}
