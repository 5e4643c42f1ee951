package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// Count is one line of a digest: what, and how many times.
type Count struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// Digest summarises one Beijing day of the logs.
type Digest struct {
	Day       string    `json:"day"` // 2026-03-02
	CreatedAt time.Time `json:"created_at"`
	Warnings  int       `json:"warnings"`
	Errors    int       `json:"errors"`
	// Messages counts the warnings and errors by level and message
	// ("ERROR agency timeout"), most first.
	Messages []Count `json:"messages"`
	// SecurityTotal counts the security events; Kinds by kind; Top the
	// most frequent kind and user pairs ("login_failure zhang"), the first
	// few, so a password guesser stands out.
	SecurityTotal int     `json:"security_total"`
	Kinds         []Count `json:"kinds"`
	Top           []Count `json:"top"`
}

// digestTop bounds the lists of a digest.
const digestTop = 10

// Summarize reads one Beijing day (the day of dayStart) of both logs in dir.
func Summarize(ctx context.Context, dir string, dayStart time.Time) (Digest, error) {
	dayStart = clock.BeijingDay(dayStart)
	from, to := dayStart, dayStart.AddDate(0, 0, 1)
	d := Digest{Day: dayStart.In(clock.Beijing).Format(time.DateOnly)}
	msgs, kinds, top := map[string]int{}, map[string]int{}, map[string]int{}
	err := each(ctx, dir, App, from, to, func(r Record) {
		switch r.Level {
		case "WARN":
			d.Warnings++
		case "ERROR":
			d.Errors++
		default:
			return
		}
		msgs[r.Level+" "+r.Msg]++
	})
	if err != nil {
		return d, err
	}
	err = each(ctx, dir, Security, from, to, func(r Record) {
		kind, _ := r.Fields["kind"].(string)
		d.SecurityTotal++
		kinds[kind]++
		top[strings.TrimSpace(kind+" "+r.User)]++
	})
	d.Messages, d.Kinds, d.Top = counts(msgs, digestTop), counts(kinds, 0), counts(top, digestTop)
	return d, err
}

func counts(m map[string]int, limit int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Key < out[j].Key
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// each calls f with every record of log in [from, to), streaming.
func each(ctx context.Context, dir, log string, from, to time.Time, f func(Record)) error {
	q := Query{Log: log, From: from, To: to, Limit: MaxResults}
	for {
		res, err := Search(ctx, dir, q)
		if err != nil {
			return err
		}
		for _, r := range res.Records {
			f(r)
		}
		if !res.More {
			return nil
		}
		q.After = res.Next
	}
}

// Digests stores the daily digests (table log_digests) and mails them.
type Digests struct {
	db     *db.DB
	clock  clock.Clock
	outbox *mail.Outbox
	dir    string
	oncall []string
}

// NewDigests returns the digests of the logs in dir, mailed to oncall.
func NewDigests(d *db.DB, c clock.Clock, outbox *mail.Outbox, dir string, oncall []string) *Digests {
	return &Digests{db: d, clock: c, outbox: outbox, dir: dir, oncall: oncall}
}

// DigestHour is the Beijing hour from which yesterday's digest is made.
const DigestHour = 7

// RunDaily makes yesterday's digest once it is 07:00 in Beijing, unless it
// exists: the row and its mail are written in one transaction, and only
// by the run whose insert took. It reports whether it made one.
func (s *Digests) RunDaily(ctx context.Context) (bool, error) {
	now := s.clock.Now()
	if now.In(clock.Beijing).Hour() < DigestHour {
		return false, nil
	}
	yesterday := clock.BeijingDay(now).AddDate(0, 0, -1)
	day := yesterday.In(clock.Beijing).Format(time.DateOnly)
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM log_digests WHERE day = $1`, day).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	d, err := Summarize(ctx, s.dir, yesterday)
	if err != nil {
		return false, err
	}
	d.CreatedAt = now.Truncate(time.Microsecond)
	body, err := json.Marshal(d)
	if err != nil {
		return false, err
	}
	made := false
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `INSERT INTO log_digests (day, created_at, warnings, errors, security, body)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (day) DO NOTHING`,
			d.Day, db.Micros(d.CreatedAt), d.Warnings, d.Errors, d.SecurityTotal, string(body))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return nil
		}
		made = true
		for _, to := range s.oncall {
			if _, err := s.outbox.Enqueue(ctx, mail.Message{To: to, Subject: "积分落户系统日志日报 " + d.Day,
				Text: d.Text(), Category: "ops.log_digest", Ref: "log_digest:" + d.Day,
				IdempotencyKey: "log_digest:" + d.Day + ":" + to}); err != nil {
				return err
			}
		}
		return nil
	})
	return made, err
}

// List returns the latest digests, newest first.
func (s *Digests) List(ctx context.Context, limit int) ([]Digest, error) {
	rows, err := s.db.Query(ctx, `SELECT body FROM log_digests ORDER BY day DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Digest
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var d Digest
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			return nil, fmt.Errorf("log digest: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Text is the digest as the mail's plain text, in Chinese.
func (d Digest) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s 日志日报\n\n警告 %d 条，错误 %d 条，安全事件 %d 条。\n", d.Day, d.Warnings, d.Errors, d.SecurityTotal)
	if len(d.Messages) > 0 {
		b.WriteString("\n警告与错误（按消息，最多的在前）：\n")
		for _, c := range d.Messages {
			fmt.Fprintf(&b, "  %6d  %s\n", c.N, c.Key)
		}
	}
	if len(d.Kinds) > 0 {
		b.WriteString("\n安全事件（按类别）：\n")
		for _, c := range d.Kinds {
			name := KindNames[c.Key]
			if name == "" {
				name = c.Key
			}
			fmt.Fprintf(&b, "  %6d  %s\n", c.N, name)
		}
		b.WriteString("\n最多的安全事件（类别与用户）：\n")
		for _, c := range d.Top {
			fmt.Fprintf(&b, "  %6d  %s\n", c.N, c.Key)
		}
	}
	b.WriteString("\n详情请在办公端“日志巡检”页面按时间查询。\n")
	return b.String()
}
