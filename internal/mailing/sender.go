package mailing

// The campaign sender: one River job per running campaign claims its due
// messages in batches, renders each, sends it over the SMTP pool with a
// few messages in flight, and records each outcome the moment the server
// has answered (docs/mailing.md, "Exactly once"). It keeps to the
// campaign's rate per second and per hour and to each domain's limit, and
// pauses the campaign after too many consecutive errors.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/time/rate"

	"jifen/internal/actor"
	"jifen/internal/platform/db"
	pmail "jifen/internal/platform/mail"
)

// SendArgs is the sender job of one campaign.
type SendArgs struct {
	CampaignID int64 `json:"campaign_id"`
}

func (SendArgs) Kind() string { return "mail_campaign_send" }

var liveStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled}

// InsertOpts: a sender job is not unique. The minute schedule adds one per
// running campaign; the campaign's hold (holdCampaign) lets one sender at a
// time work it, and a job that finds it held by a live sender ends at once.
// (A unique job would not do: the job of a killed process stays "running"
// until River rescues it, a quarter of an hour later.)
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 1000}
}

// Tuning of the sender.
const (
	batchSize = 200
	// sliceLimit bounds one run of the job; it then snoozes a moment, so a
	// long campaign gives the queue's other campaigns their turn.
	sliceLimit = 2 * time.Minute
	deferBase  = 5 * time.Minute
	maxTries   = 8
)

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	s *Campaigns
}

// Timeout: the job bounds itself (sliceLimit).
func (w *sendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return sliceLimit + time.Minute }

func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	return w.s.sender.run(ctx, job)
}

// sender keeps the per-process pacing state: a limiter per campaign and
// per domain.
type sender struct {
	s       *Campaigns
	mu      sync.Mutex
	rates   map[int64]*rate.Limiter
	domains *domainLimits
}

func newSender(s *Campaigns) *sender {
	return &sender{s: s, rates: map[int64]*rate.Limiter{}, domains: newDomainLimits(s)}
}

func (x *sender) limiter(c *Campaign) *rate.Limiter {
	x.mu.Lock()
	defer x.mu.Unlock()
	l := x.rates[c.ID]
	if l == nil || l.Limit() != rate.Limit(c.Rate) {
		l = rate.NewLimiter(rate.Limit(c.Rate), max(1, c.Rate/10))
		x.rates[c.ID] = l
	}
	return l
}

// batchTally is what one batch adds to the campaign's figures.
type batchTally struct {
	sent, deferred, failed int
	errors                 map[[2]string]int // (domain, code) → count
	consecutive            int               // errors in a row at the end of the batch
}

func (x *sender) run(ctx context.Context, job *river.Job[SendArgs]) error {
	s := x.s
	if s.transport == nil {
		return river.JobSnooze(time.Minute) // no SMTP server in this process
	}
	c, err := s.Get(ctx, job.Args.CampaignID)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if c.Status != Running {
		return nil // paused, cancelled or finished: Resume inserts a new job
	}
	token := fmt.Sprintf("%d", job.ID)
	if _, ok, err := s.holdCampaign(ctx, c.ID, token); err != nil {
		return err
	} else if !ok {
		return nil // another sender works it; if it dies, a later job takes over
	}
	defer s.releaseCampaign(context.WithoutCancel(ctx), c.ID, token)
	tmpl, err := Compile(Template{ID: c.TemplateID, Subject: c.Subject, HTML: c.HTML, Text: c.Text, Mandatory: c.Mandatory})
	if err != nil {
		return river.JobCancel(err)
	}
	lim := x.limiter(c)
	start := time.Now()
	consecutive := 0
	for time.Since(start) < sliceLimit {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The hour's window: what was sent in the last sixty minutes.
		sentHour, err := s.sentSince(ctx, c.ID, s.clock.Now().Add(-time.Hour))
		if err != nil {
			return err
		}
		room := c.Hourly - sentHour
		if room <= 0 {
			return river.JobSnooze(time.Minute)
		}
		// A batch is at most two seconds of sending at the campaign's
		// rate, far inside the claim's lease.
		if _, ok, err := s.holdCampaign(ctx, c.ID, token); err != nil || !ok {
			return err // the hold was lost (the clock jumped): the holder goes on
		}
		claim, err := s.outbox.ClaimCampaign(ctx, c.ID, s.cfg.ClaimLease, min(batchSize, room, max(1, 2*c.Rate)))
		if err != nil {
			return err
		}
		if len(claim.Messages) == 0 {
			return x.idle(ctx, c)
		}
		t := x.sendBatch(ctx, c, tmpl, lim, claim, token, &consecutive)
		if err := s.tally(context.WithoutCancel(ctx), c.ID, t); err != nil {
			return err
		}
		if consecutive >= c.PauseAfter {
			reason := fmt.Sprintf("连续 %d 封发送失败，已自动暂停；请检查邮件服务器后恢复", consecutive)
			err := s.db.WithTx(context.WithoutCancel(ctx), func(ctx context.Context) error {
				if err := s.move(ctx, c.ID, 0, []Status{Running}, Paused, `, paused_reason = $3`, reason); err != nil {
					return err
				}
				return s.event(ctx, actor.Actor{}, c.ID, "autopause", reason)
			})
			if err != nil && !errors.Is(err, errMoved) {
				return err
			}
			return nil
		}
		if cur, err := s.Get(ctx, c.ID); err != nil {
			return err
		} else if cur.Status != Running {
			return nil
		}
	}
	return river.JobSnooze(time.Millisecond) // the next slice, after others had their turn
}

// holdCampaign takes or renews the campaign's hold for the sender token:
// one sender at a time over every process. It reports until when another
// sender holds it when it cannot.
func (s *Campaigns) holdCampaign(ctx context.Context, id int64, token string) (time.Time, bool, error) {
	now := s.clock.Now()
	res, err := s.db.Exec(ctx, `UPDATE mail_campaigns SET sender_token = $1, sender_until = $2
		WHERE id = $3 AND (sender_token = $1 OR sender_until < $4)`, token, db.Micros(now.Add(s.cfg.ClaimLease)), id, db.Micros(now))
	if err != nil {
		return time.Time{}, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return time.Time{}, true, nil
	}
	var until int64
	if err := s.db.QueryRow(ctx, `SELECT sender_until FROM mail_campaigns WHERE id = $1`, id).Scan(&until); err != nil {
		return time.Time{}, false, err
	}
	return db.FromMicros(until), false, nil
}

func (s *Campaigns) releaseCampaign(ctx context.Context, id int64, token string) {
	if _, err := s.db.Exec(ctx, `UPDATE mail_campaigns SET sender_token = '', sender_until = 0 WHERE id = $1 AND sender_token = $2`,
		id, token); err != nil {
		s.log.Error("mail campaign: release", "campaign", id, "err", err)
	}
}

// idle is the sender's answer when nothing is due: the campaign is done
// when nothing is pending; else it waits for the soonest due message.
func (x *sender) idle(ctx context.Context, c *Campaign) error {
	s := x.s
	n, next, err := s.outbox.CampaignPending(ctx, c.ID)
	if err != nil {
		return err
	}
	if n > 0 {
		wait := max(time.Second, min(next.Sub(s.clock.Now()), 5*time.Second))
		return river.JobSnooze(wait)
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.move(ctx, c.ID, 0, []Status{Running}, Finished, `, finished_at = $3`, db.Micros(s.clock.Now())); err != nil {
			return err
		}
		counts, err := s.outbox.CampaignCounts(ctx, c.ID)
		if err != nil {
			return err
		}
		return s.event(ctx, actor.Actor{}, c.ID, "finish", fmt.Sprintf("发送完成：成功 %d 封，失败 %d 封", counts[pmail.StatusSent],
			counts[pmail.StatusFailed]))
	})
	if errors.Is(err, errMoved) {
		return nil
	}
	return err
}

// sendBatch sends a claimed batch with Config.Workers messages in flight,
// recording each outcome at once.
func (x *sender) sendBatch(ctx context.Context, c *Campaign, tmpl *Compiled, lim *rate.Limiter, claim *pmail.Claim,
	token string, consecutive *int) batchTally {
	s := x.s
	t := batchTally{errors: map[[2]string]int{}}
	var mu sync.Mutex
	work := make(chan pmail.Message)
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				res := x.sendOne(ctx, c, tmpl, lim, m)
				// The outcome is written even when ctx ends: a message the
				// server took must not stay "sending".
				held, err := s.outbox.RecordCampaign(context.WithoutCancel(ctx), claim, res)
				if err != nil {
					s.log.Error("mail campaign: record outcome", "campaign", c.ID, "id", m.ID, "err", err)
				}
				if !held {
					// Another sender took the row over (this one's claim ran
					// out): its outcome and its count are that sender's.
					continue
				}
				mu.Lock()
				switch res.Outcome {
				case pmail.OutcomeSent:
					t.sent++
					*consecutive = 0
				case pmail.OutcomeDeferred, pmail.OutcomeFailed:
					if res.Outcome == pmail.OutcomeDeferred {
						t.deferred++
					} else {
						t.failed++
					}
					t.errors[[2]string{domainOf(m.To), fmt.Sprint(res.Code)}]++
					*consecutive++
				}
				mu.Unlock()
				x.domains.observe(domainOf(m.To), res.Outcome)
			}
		}()
	}
	// The claim and the campaign's hold are renewed while the batch is
	// sent: a slow server must not let another sender take what this live
	// one is sending.
	stop := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(max(time.Second, s.cfg.ClaimLease/3))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				bg := context.WithoutCancel(ctx)
				if err := s.outbox.RenewClaim(bg, claim, s.cfg.ClaimLease); err != nil {
					s.log.Error("mail campaign: renew claim", "campaign", c.ID, "err", err)
				}
				if _, _, err := s.holdCampaign(bg, c.ID, token); err != nil {
					s.log.Error("mail campaign: renew hold", "campaign", c.ID, "err", err)
				}
			}
		}
	}()
	for _, m := range claim.Messages {
		work <- m
	}
	close(work)
	wg.Wait()
	close(stop)
	<-renewed
	t.consecutive = *consecutive
	return t
}

// sendOne renders and sends one message under the campaign's and its
// domain's limits.
func (x *sender) sendOne(ctx context.Context, c *Campaign, tmpl *Compiled, lim *rate.Limiter, m pmail.Message) pmail.CampaignResult {
	s := x.s
	now := s.clock.Now()
	res := pmail.CampaignResult{ID: m.ID}
	if ctx.Err() != nil {
		res.Outcome, res.Next = pmail.OutcomeHeld, now
		return res
	}
	if wait, ok := x.domains.take(domainOf(m.To)); !ok {
		res.Outcome, res.Next = pmail.OutcomeHeld, now.Add(wait)
		return res
	}
	if err := lim.Wait(ctx); err != nil {
		res.Outcome, res.Next = pmail.OutcomeHeld, now
		return res
	}
	var vars map[string]string
	_ = json.Unmarshal([]byte(m.Vars), &vars)
	r := Recipient{Email: m.To, Name: m.ToName, Vars: vars}
	unsub := ""
	if !c.Mandatory && s.cfg.UnsubscribeURL != "" {
		unsub = s.cfg.UnsubscribeURL + "?t=" + UnsubscribeToken(s.cfg.UnsubscribeKey, c.ID, m.To)
	}
	subject, html, text, err := tmpl.Render(r, unsub)
	if err != nil {
		res.Outcome, res.Error = pmail.OutcomeFailed, "模板渲染失败："+err.Error()
		return res
	}
	env := pmail.Envelope{MessageID: fmt.Sprintf("<campaign.%d.%d@%s>", c.ID, m.ID, s.cfg.MessageIDHost), DSN: true,
		From: c.From, FromName: c.FromName,
		Headers: map[string]string{"Precedence": "bulk", "X-Jifen-Campaign": fmt.Sprint(c.ID)}}
	if s.cfg.BounceDomain != "" {
		env.ReturnPath = pmail.VERPAddress(s.cfg.VERPKey, "bounce", s.cfg.BounceDomain, m.ID)
	}
	if unsub != "" {
		env.Headers["List-Unsubscribe"] = "<" + unsub + ">"
		env.Headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
	}
	msg := m
	msg.Subject, msg.HTML, msg.Text = subject, html, text
	err = s.transport.Send(ctx, env, msg)
	if err == nil {
		res.Outcome, res.At = pmail.OutcomeSent, s.clock.Now()
		return res
	}
	res.Code, res.Error = pmail.CodeOf(err), err.Error()
	switch {
	case ctx.Err() != nil && !pmail.IsPermanent(err):
		res.Outcome, res.Next = pmail.OutcomeHeld, now
	case pmail.IsPermanent(err) || m.Attempts >= maxTries:
		res.Outcome = pmail.OutcomeFailed
	default:
		res.Outcome, res.Next = pmail.OutcomeDeferred, now.Add(deferBase<<min(m.Attempts-1, 6))
	}
	return res
}

// domainOf is the lower-cased domain of an address.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}
