package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"jifen/internal/mailing"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/mail"
	"jifen/internal/platform/mail/bounce"
	"jifen/internal/surface/office"
	"jifen/internal/surface/shell"
)

// buildCampaigns makes the mass-mail campaigns (邮件群发) on the outbox:
// their jobs on a.Jobs, sent over an SMTP pool when a server is configured
// (else running campaigns wait, as transactional mail does).
func (a *App) buildCampaigns() error {
	var transport mailing.Transport
	if a.Cfg.SMTP.Host != "" {
		servers := []mail.ServerConfig{{Config: a.smtpConfig(), Conns: 4}}
		for _, hp := range a.Cfg.SMTP.More {
			host, port, _ := net.SplitHostPort(hp) // checked by the configuration
			c := a.smtpConfig()
			c.Host, c.Port = host, 0
			if n, err := strconv.Atoi(port); err == nil {
				c.Port = n
			}
			servers = append(servers, mail.ServerConfig{Config: c, Conns: 4})
		}
		pool, err := mail.NewPool(servers)
		if err != nil {
			return err
		}
		a.mailPool = pool
		transport = pool
	}
	cfg := mailing.Config{
		ApprovalOver:   a.Cfg.MailApprovalOver,
		From:           a.Cfg.SMTP.From,
		BounceDomain:   a.Cfg.BounceDomain,
		VERPKey:        a.mailKey("verp"),
		UnsubscribeURL: a.publicURL() + "/mail/unsubscribe",
		UnsubscribeKey: a.UnsubscribeKey(),
		ClaimLease:     a.Cfg.MailClaimLease,
	}
	if cfg.From == "" {
		cfg.From = "noreply@jifen.local"
	}
	a.Campaigns = mailing.NewCampaigns(a.DB, a.Audit, a.Clock, a.Outbox, a.Mailing, a.Jobs, transport, cfg, a.Log)
	if a.Cfg.BounceAddr != "" {
		a.bounces = bounce.NewListener(a.Cfg.BounceAddr, a.Cfg.BounceDomain, cfg.VERPKey,
			func(ctx context.Context, outboxID int64, r bounce.Report) error {
				return a.Campaigns.Bounce(ctx, outboxID, r.Kind, r.Complaint, r.Status+" "+r.Diagnostic)
			})
		a.bounces.Log = a.Log
	}
	return nil
}

// mailKey is a key of the mass mail's signatures (VERP addresses,
// unsubscribe links), derived from the master key: the same in every
// process, unknown outside.
func (a *App) mailKey(purpose string) []byte {
	return []byte(a.Keys.BlindIndex("mail."+purpose, "v1"))
}

// publicURL is the internet site's address for links in mail.
func (a *App) publicURL() string {
	if a.Cfg.PublicURL != "" {
		return a.Cfg.PublicURL
	}
	addr := a.Cfg.InternetAddr
	if strings.HasPrefix(addr, ":") {
		addr = "localhost" + addr
	}
	scheme := "http://"
	if a.Cfg.TLSCert != "" {
		scheme = "https://"
	}
	return scheme + addr
}

// mailSchedules are the campaigns' periodic work: scheduled campaigns
// started and running ones kept with their sender (every minute), and the
// daily summary (the key of its mail names the day, so the hourly run
// mails it once).
func (a *App) mailSchedules() []schedule {
	return []schedule{
		{"mail_campaigns", time.Minute, func(ctx context.Context) error { return a.Campaigns.Tick(ctx) }},
		{"mail_daily_summary", time.Hour, func(ctx context.Context) error {
			now := a.Clock.Now().In(clock.Beijing)
			midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, clock.Beijing)
			return a.Campaigns.MailDailySummary(ctx, midnight)
		}},
	}
}

// mailCatalog offers the office's new-campaign form the lists and
// templates.
type mailCatalog struct{ l *mailing.Lists }

func (c mailCatalog) ListOptions(r *http.Request) ([]office.MailOption, error) {
	ls, err := c.l.All(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		return nil, err
	}
	out := make([]office.MailOption, 0, len(ls))
	for _, l := range ls {
		out = append(out, office.MailOption{ID: l.ID, Name: fmt.Sprintf("%s（%s，%d人）", l.Name, l.KindName(), l.Members)})
	}
	return out, nil
}

func (c mailCatalog) TemplateOptions(r *http.Request) ([]office.MailOption, error) {
	ts, err := c.l.Templates(r.Context(), shell.Actor(r.Context()))
	if err != nil {
		return nil, err
	}
	out := make([]office.MailOption, 0, len(ts))
	for _, t := range ts {
		name := t.Name
		if t.Mandatory {
			name += "（必要通知）"
		}
		out = append(out, office.MailOption{ID: t.ID, Name: name})
	}
	return out, nil
}

// BounceAddr is the bound address of the bounce listener ("" when off).
func (a *App) BounceAddr() string {
	if a.bounces == nil {
		return ""
	}
	return a.bounces.Addr()
}
