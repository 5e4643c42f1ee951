package mailing

// Per-domain limits (docs/mailing.md, "Domains"). The large domestic
// providers throttle bulk senders hard: a domain has a limit in messages
// per minute, and the sender lowers it by itself when the domain's
// deferrals rise, and raises it back slowly when they fall.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"jifen/internal/platform/db"
	pmail "jifen/internal/platform/mail"
)

// DefaultDomainLimits are the starting limits, messages per minute, of the
// providers known to throttle; other domains are held only by the
// campaign's own rate.
var DefaultDomainLimits = map[string]int{
	"qq.com": 300, "foxmail.com": 300, "163.com": 200, "126.com": 200, "yeah.net": 100, "sina.com": 100, "sina.cn": 100,
	"sohu.com": 100, "139.com": 100, "189.cn": 100, "aliyun.com": 200,
}

// The adaptive rule, over a window of the last AdaptWindow:
//   - at least AdaptMinAttempts attempts to a domain and a share of
//     deferrals (4xx, dropped connections) of AdaptLowerAt or more: its
//     limit is halved (not below 1 a minute);
//   - at least AdaptRaiseAttempts attempts, deferrals under AdaptRaiseBelow
//     and a limit under its base: raised by half, up to the base.
//
// Each change is written with its reason (mail_domain_limits), which the
// campaign page shows.
const (
	AdaptWindow        = 10 * time.Minute
	AdaptMinAttempts   = 20
	AdaptLowerAt       = 0.20
	AdaptRaiseAttempts = 100
	AdaptRaiseBelow    = 0.02
)

type domainState struct {
	perMinute, base  int
	lim              *rate.Limiter
	windowStart      time.Time
	attempts, defer_ int
}

type domainLimits struct {
	s      *Campaigns
	mu     sync.Mutex
	loaded time.Time
	state  map[string]*domainState
}

func newDomainLimits(s *Campaigns) *domainLimits {
	return &domainLimits{s: s, state: map[string]*domainState{}}
}

// DomainLimit is one domain's limit as stored.
type DomainLimit struct {
	Domain    string    `json:"domain"`
	PerMinute int       `json:"per_minute"`
	Base      int       `json:"base"`
	Reason    string    `json:"reason"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DomainLimits lists the stored limits (changed from their defaults).
func (s *Campaigns) DomainLimits(ctx context.Context) ([]DomainLimit, error) {
	rows, err := s.db.Query(ctx, `SELECT domain, per_minute, base, reason, updated_at FROM mail_domain_limits ORDER BY domain`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DomainLimit
	for rows.Next() {
		var d DomainLimit
		var at int64
		if err := rows.Scan(&d.Domain, &d.PerMinute, &d.Base, &d.Reason, &at); err != nil {
			return nil, err
		}
		d.UpdatedAt = db.FromMicros(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// reload reads the stored limits at most every half minute (another
// process may have lowered one).
func (d *domainLimits) reload() {
	if time.Since(d.loaded) < 30*time.Second {
		return
	}
	d.loaded = time.Now()
	ls, err := d.s.DomainLimits(context.Background())
	if err != nil {
		return
	}
	for _, l := range ls {
		st := d.get(l.Domain)
		if st == nil {
			st = &domainState{base: l.Base}
			d.state[l.Domain] = st
		}
		d.set(st, l.PerMinute)
	}
}

func (d *domainLimits) set(st *domainState, perMinute int) {
	st.perMinute = perMinute
	st.lim = rate.NewLimiter(rate.Limit(float64(perMinute)/60), max(1, perMinute/10))
}

func (d *domainLimits) get(domain string) *domainState {
	st, ok := d.state[domain]
	if !ok {
		base, known := DefaultDomainLimits[domain]
		if !known {
			return nil
		}
		st = &domainState{base: base}
		d.set(st, base)
		d.state[domain] = st
	}
	return st
}

// take reports whether a message to domain may go now; if not, how long
// until one may.
func (d *domainLimits) take(domain string) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reload()
	st := d.get(domain)
	if st == nil {
		return 0, true
	}
	r := st.lim.Reserve()
	if delay := r.Delay(); delay > 0 {
		r.Cancel()
		return max(delay, time.Second), false
	}
	return 0, true
}

// observe counts an outcome for the adaptive rule and applies it.
func (d *domainLimits) observe(domain string, o pmail.Outcome) {
	if o == pmail.OutcomeHeld {
		return
	}
	d.mu.Lock()
	st := d.get(domain)
	if st == nil {
		// An unknown domain gets a state once it defers: from then on
		// it has a limit like the known providers, based on what it took.
		if o != pmail.OutcomeDeferred {
			d.mu.Unlock()
			return
		}
		st = &domainState{base: 600}
		d.set(st, 600)
		d.state[domain] = st
	}
	now := time.Now()
	if now.Sub(st.windowStart) > AdaptWindow {
		st.windowStart, st.attempts, st.defer_ = now, 0, 0
	}
	st.attempts++
	if o == pmail.OutcomeDeferred {
		st.defer_++
	}
	share := float64(st.defer_) / float64(st.attempts)
	var reason string
	switch {
	case st.attempts >= AdaptMinAttempts && share >= AdaptLowerAt && st.perMinute > 1:
		old := st.perMinute
		d.set(st, max(1, st.perMinute/2))
		reason = fmt.Sprintf("近%d分钟发送 %d 封，暂缓（4xx 或断开）%.0f%%，达到 %.0f%%：限额由每分钟 %d 封降为 %d 封",
			int(AdaptWindow/time.Minute), st.attempts, share*100, AdaptLowerAt*100, old, st.perMinute)
	case st.attempts >= AdaptRaiseAttempts && share < AdaptRaiseBelow && st.perMinute < st.base:
		old := st.perMinute
		d.set(st, min(st.base, st.perMinute+max(1, st.perMinute/2)))
		reason = fmt.Sprintf("近%d分钟发送 %d 封，暂缓 %.1f%%，低于 %.0f%%：限额由每分钟 %d 封升为 %d 封",
			int(AdaptWindow/time.Minute), st.attempts, share*100, AdaptRaiseBelow*100, old, st.perMinute)
	}
	if reason == "" {
		d.mu.Unlock()
		return
	}
	st.windowStart, st.attempts, st.defer_ = now, 0, 0
	per, base := st.perMinute, st.base
	d.mu.Unlock()
	_, err := d.s.db.Exec(context.Background(), `INSERT INTO mail_domain_limits (domain, per_minute, base, reason, updated_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (domain) DO UPDATE SET per_minute = $2, reason = $4, updated_at = $5`,
		domain, per, base, reason, db.Micros(d.s.clock.Now()))
	if err != nil {
		d.s.log.Error("mail campaign: store domain limit", "domain", domain, "err", err)
	} else {
		d.s.log.Warn("mail campaign: domain limit changed", "domain", domain, "reason", reason)
	}
}
