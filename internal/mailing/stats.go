package mailing

// A campaign's figures (docs/mailing.md, "Statistics"): the sender and the
// bounce handler add to per-minute counters and to errors by domain and
// code; the page, the exports and the daily summary read those small
// tables, never the outbox's rows.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	pmail "jifen/internal/platform/mail"
)

func minuteOf(t time.Time) int64 { return t.Unix() / 60 * 60 }

// add adds to a campaign's counters of the current minute; column is one
// of the counters (never a value from outside).
func (s *Campaigns) add(ctx context.Context, id int64, counts map[string]int) error {
	if len(counts) == 0 {
		return nil
	}
	var sent, deferred, failed, hard, soft, compl, unsub int
	for k, v := range counts {
		switch k {
		case "sent":
			sent = v
		case "deferred":
			deferred = v
		case "failed":
			failed = v
		case "bounced_hard":
			hard = v
		case "bounced_soft":
			soft = v
		case "complaints":
			compl = v
		case "unsubscribes":
			unsub = v
		default:
			return fmt.Errorf("mailing: unknown counter %q", k)
		}
	}
	_, err := s.db.Exec(ctx, `INSERT INTO mail_campaign_minutes (campaign_id, minute, sent, deferred, failed, bounced_hard, bounced_soft,
		complaints, unsubscribes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (campaign_id, minute) DO UPDATE SET sent = mail_campaign_minutes.sent + $3,
		deferred = mail_campaign_minutes.deferred + $4, failed = mail_campaign_minutes.failed + $5,
		bounced_hard = mail_campaign_minutes.bounced_hard + $6, bounced_soft = mail_campaign_minutes.bounced_soft + $7,
		complaints = mail_campaign_minutes.complaints + $8, unsubscribes = mail_campaign_minutes.unsubscribes + $9`,
		id, minuteOf(s.clock.Now()), sent, deferred, failed, hard, soft, compl, unsub)
	return err
}

// tally adds a batch's outcome to the figures.
func (s *Campaigns) tally(ctx context.Context, id int64, t batchTally) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.add(ctx, id, map[string]int{"sent": t.sent, "deferred": t.deferred, "failed": t.failed}); err != nil {
			return err
		}
		for k, n := range t.errors {
			code, _ := strconv.Atoi(k[1])
			if _, err := s.db.Exec(ctx, `INSERT INTO mail_campaign_errors (campaign_id, domain, code, count) VALUES ($1, $2, $3, $4)
				ON CONFLICT (campaign_id, domain, code) DO UPDATE SET count = mail_campaign_errors.count + $4`, id, k[0], code, n); err != nil {
				return err
			}
		}
		return nil
	})
}

// sentSince is how many messages the campaign sent since t (by minute).
func (s *Campaigns) sentSince(ctx context.Context, id int64, t time.Time) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COALESCE(SUM(sent), 0) FROM mail_campaign_minutes WHERE campaign_id = $1 AND minute >= $2`,
		id, minuteOf(t)).Scan(&n)
	return n, err
}

// Stats are a campaign's figures.
type Stats struct {
	Recipients   int     `json:"recipients"`
	Suppressed   int     `json:"suppressed"`
	Queued       int     `json:"queued"` // not yet sent or given up
	Sent         int     `json:"sent"`
	Deferred     int     `json:"deferred"` // temporary failures (each retried)
	Failed       int     `json:"failed"`
	BouncedHard  int     `json:"bounced_hard"`
	BouncedSoft  int     `json:"bounced_soft"`
	Bounced      int     `json:"bounced"`
	Complaints   int     `json:"complaints"`
	Unsubscribes int     `json:"unsubscribes"`
	DeliveryRate float64 `json:"delivery_rate"` // (sent − hard bounces) / recipients
	BounceRate   float64 `json:"bounce_rate"`   // bounces / sent
	// PerMinute is the send rate over time (oldest first).
	PerMinute []MinuteCount `json:"per_minute"`
	ByCode    []ErrorCount  `json:"errors_by_code"`
	ByDomain  []ErrorCount  `json:"errors_by_domain"`
}

// MinuteCount is one minute's figures.
type MinuteCount struct {
	Minute   time.Time `json:"minute"`
	Sent     int       `json:"sent"`
	Deferred int       `json:"deferred"`
	Failed   int       `json:"failed"`
}

// ErrorCount is errors by one SMTP code or one domain.
type ErrorCount struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Stats reads a campaign's figures.
func (s *Campaigns) Stats(ctx context.Context, c *Campaign) (*Stats, error) {
	st := &Stats{Recipients: c.Recipients, Suppressed: c.Suppressed}
	rows, err := s.db.Query(ctx, `SELECT minute, sent, deferred, failed, bounced_hard, bounced_soft, complaints, unsubscribes
		FROM mail_campaign_minutes WHERE campaign_id = $1 ORDER BY minute`, c.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	for rows.Next() {
		var m MinuteCount
		var at int64
		var hard, soft, compl, unsub int
		if err := rows.Scan(&at, &m.Sent, &m.Deferred, &m.Failed, &hard, &soft, &compl, &unsub); err != nil {
			rows.Close()
			return nil, apperr.Wrap(err)
		}
		m.Minute = time.Unix(at, 0)
		st.Sent += m.Sent
		st.Deferred += m.Deferred
		st.Failed += m.Failed
		st.BouncedHard += hard
		st.BouncedSoft += soft
		st.Complaints += compl
		st.Unsubscribes += unsub
		if m.Sent+m.Deferred+m.Failed > 0 {
			st.PerMinute = append(st.PerMinute, m)
		}
	}
	rows.Close()
	st.Bounced = st.BouncedHard + st.BouncedSoft
	// What is left, from the counters rather than a count of the outbox's
	// rows (a range of up to every recipient while the campaign runs): the
	// page stays fast during the send. The exact figures by status are
	// the outbox's (jifen mail report).
	if c.Status == Running || c.Status == Paused || c.Status == Queuing {
		st.Queued = max(0, c.Recipients-st.Sent-st.Failed)
	}
	if st.Recipients > 0 {
		st.DeliveryRate = float64(st.Sent-st.BouncedHard) / float64(st.Recipients)
	}
	if st.Sent > 0 {
		st.BounceRate = float64(st.Bounced) / float64(st.Sent)
	}
	byCode, byDomain := map[string]int{}, map[string]int{}
	erows, err := s.db.Query(ctx, `SELECT domain, code, count FROM mail_campaign_errors WHERE campaign_id = $1`, c.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	for erows.Next() {
		var d string
		var code, n int
		if err := erows.Scan(&d, &code, &n); err != nil {
			erows.Close()
			return nil, apperr.Wrap(err)
		}
		k := strconv.Itoa(code)
		if code == 0 {
			k = "无应答"
		}
		byCode[k] += n
		byDomain[d] += n
	}
	erows.Close()
	st.ByCode, st.ByDomain = sortedCounts(byCode), sortedCounts(byDomain)
	return st, nil
}

func sortedCounts(m map[string]int) []ErrorCount {
	out := make([]ErrorCount, 0, len(m))
	for k, v := range m {
		out = append(out, ErrorCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Bounce records a bounce or complaint for outbox message id (from the
// bounce listener): a hard bounce or a complaint puts the address on the
// suppression list; the campaign's figures count it; past the bounce-rate
// threshold the campaign's operators are alerted once.
func (s *Campaigns) Bounce(ctx context.Context, outboxID int64, kind string, complaint bool, detail string) error {
	campaign, to, err := s.outbox.CampaignOf(ctx, outboxID)
	if err != nil {
		return err
	}
	sys := actor.Actor{Login: "system:bounce"}
	counter := ""
	switch {
	case complaint:
		counter = "complaints"
		err = s.lists.Suppress(ctx, sys, to, "complaint", "收件人投诉（反馈报告）")
	case kind == "hard":
		counter = "bounced_hard"
		err = s.lists.Suppress(ctx, sys, to, "hard_bounce", "退信："+detail)
	case kind == "soft":
		counter = "bounced_soft"
	default:
		return nil
	}
	if err != nil || campaign == 0 {
		return err
	}
	if err := s.add(ctx, campaign, map[string]int{counter: 1}); err != nil {
		return err
	}
	return s.checkBounceRate(ctx, campaign)
}

// Unsubscribed counts an unsubscribe from campaign id's message.
func (s *Campaigns) Unsubscribed(ctx context.Context, id int64) error {
	if id == 0 {
		return nil
	}
	return s.add(ctx, id, map[string]int{"unsubscribes": 1})
}

// minAlertSent is how many messages a campaign must have sent before its
// bounce rate can raise an alert.
const minAlertSent = 100

// checkBounceRate raises the campaign's bounce alert once: an event on
// its timeline and a mail to the mail operators.
func (s *Campaigns) checkBounceRate(ctx context.Context, id int64) error {
	c, err := s.Get(ctx, id)
	if err != nil || c.BounceAlert {
		return err
	}
	st, err := s.Stats(ctx, c)
	if err != nil {
		return err
	}
	if st.Sent < minAlertSent || st.BounceRate < s.cfg.BounceAlert {
		return nil
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `UPDATE mail_campaigns SET bounce_alert = TRUE WHERE id = $1 AND NOT bounce_alert`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		text := fmt.Sprintf("群发活动“%s”（编号 %d）退信率 %.1f%%，超过告警阈值 %.1f%%（已发送 %d 封，退信 %d 封）。请检查收件人列表质量，必要时暂停活动。",
			c.Name, id, st.BounceRate*100, s.cfg.BounceAlert*100, st.Sent, st.Bounced)
		if err := s.event(ctx, actor.Actor{}, id, "alert", text); err != nil {
			return err
		}
		return s.mailOperators(ctx, fmt.Sprintf("【群发告警】活动 %d 退信率超过阈值", id), text, fmt.Sprintf("mail-alert:%d", id))
	})
}

// mailOperators queues a notice to every active mail operator.
func (s *Campaigns) mailOperators(ctx context.Context, subject, text, key string) error {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT u.email, u.display_name FROM users u JOIN user_roles r ON r.user_id = u.id
		WHERE r.role = 'mail_operator' AND u.email <> '' AND u.disabled = FALSE`)
	if err != nil {
		return err
	}
	var msgs []pmail.Message
	for rows.Next() {
		var to, name string
		if err := rows.Scan(&to, &name); err != nil {
			rows.Close()
			return err
		}
		msgs = append(msgs, pmail.Message{To: to, ToName: name, Subject: subject, Text: name + "，您好：\n\n" + text + "\n",
			Category: "mail.operations", IdempotencyKey: key + ":" + to})
	}
	rows.Close()
	_, err = s.outbox.EnqueueMany(ctx, msgs)
	return err
}

// Summary is a day's figures over every campaign (日志巡检).
type Summary struct {
	Day       string     `json:"day"` // YYYY-MM-DD, Beijing
	Sent      int        `json:"sent"`
	Deferred  int        `json:"deferred"`
	Failed    int        `json:"failed"`
	Bounced   int        `json:"bounced"`
	Campaigns []DayCount `json:"campaigns"`
	Alerts    []Event    `json:"alerts"`
}

// DayCount is one campaign's figures of a day.
type DayCount struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Sent     int    `json:"sent"`
	Deferred int    `json:"deferred"`
	Failed   int    `json:"failed"`
	Bounced  int    `json:"bounced"`
}

// DailySummary sums the figures of the day [from, from+24h).
func (s *Campaigns) DailySummary(ctx context.Context, from time.Time) (*Summary, error) {
	to := from.Add(24 * time.Hour)
	sum := &Summary{Day: from.Format("2006-01-02")}
	rows, err := s.db.Query(ctx, `SELECT c.id, c.name, SUM(m.sent), SUM(m.deferred), SUM(m.failed), SUM(m.bounced_hard + m.bounced_soft)
		FROM mail_campaign_minutes m JOIN mail_campaigns c ON c.id = m.campaign_id WHERE m.minute >= $1 AND m.minute < $2
		GROUP BY c.id, c.name ORDER BY c.id`, minuteOf(from), minuteOf(to))
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	for rows.Next() {
		var d DayCount
		if err := rows.Scan(&d.ID, &d.Name, &d.Sent, &d.Deferred, &d.Failed, &d.Bounced); err != nil {
			rows.Close()
			return nil, apperr.Wrap(err)
		}
		sum.Sent += d.Sent
		sum.Deferred += d.Deferred
		sum.Failed += d.Failed
		sum.Bounced += d.Bounced
		sum.Campaigns = append(sum.Campaigns, d)
	}
	rows.Close()
	arows, err := s.db.Query(ctx, `SELECT at, actor_id, kind, detail FROM mail_campaign_events WHERE kind IN ('alert', 'autopause')
		AND at >= $1 AND at < $2 ORDER BY id`, db.Micros(from), db.Micros(to))
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	for arows.Next() {
		var e Event
		var at int64
		if err := arows.Scan(&at, &e.Actor, &e.Kind, &e.Detail); err != nil {
			arows.Close()
			return nil, apperr.Wrap(err)
		}
		e.At = db.FromMicros(at)
		sum.Alerts = append(sum.Alerts, e)
	}
	arows.Close()
	return sum, nil
}

// MailDailySummary mails yesterday's summary (Beijing days) to the mail
// operators, once per day (the key names the day).
func (s *Campaigns) MailDailySummary(ctx context.Context, beijingMidnight time.Time) error {
	from := beijingMidnight.Add(-24 * time.Hour)
	sum, err := s.DailySummary(ctx, from)
	if err != nil {
		return err
	}
	if len(sum.Campaigns) == 0 && len(sum.Alerts) == 0 {
		return nil // a day without mass mail: nothing to inspect
	}
	text := fmt.Sprintf("%s 群发邮件日报：发送成功 %d 封，暂缓 %d 封，失败 %d 封，退信 %d 封。\n", sum.Day, sum.Sent, sum.Deferred, sum.Failed, sum.Bounced)
	for _, c := range sum.Campaigns {
		text += fmt.Sprintf("  · 活动 %d “%s”：成功 %d，暂缓 %d，失败 %d，退信 %d\n", c.ID, c.Name, c.Sent, c.Deferred, c.Failed, c.Bounced)
	}
	for _, a := range sum.Alerts {
		text += "  ! " + a.Detail + "\n"
	}
	return s.mailOperators(ctx, "【群发日报】"+sum.Day, text, "mail-daily:"+sum.Day)
}
