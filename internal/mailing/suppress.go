package mailing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// The sources of a suppression.
const (
	SourceUnsubscribe = "unsubscribe"
	SourceHardBounce  = "hard_bounce"
	SourceComplaint   = "complaint"
	SourceManual      = "manual"
)

// Sources lists the sources, for filters.
var Sources = []string{SourceUnsubscribe, SourceHardBounce, SourceComplaint, SourceManual}

var sourceNames = map[string]string{SourceUnsubscribe: "本人退订", SourceHardBounce: "硬退信", SourceComplaint: "投诉",
	SourceManual: "人工添加"}

// SourceName is the Chinese name of a source.
func SourceName(s string) string { return sourceNames[s] }

// Suppression is an address no campaign mails.
type Suppression struct {
	Email     string    `json:"email"`
	Reason    string    `json:"reason"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// SourceName is the source in Chinese.
func (s Suppression) SourceName() string { return SourceName(s.Source) }

const maxReason = 500

// suppressedChunk is how many addresses one lookup carries.
const suppressedChunk = 5000

// Suppressed returns which of emails are on the suppression list, address
// (lower-cased) → reason. The campaign sender asks before each batch.
func (l *Lists) Suppressed(ctx context.Context, emails []string) (map[string]string, error) {
	out := map[string]string{}
	for lo := 0; lo < len(emails); lo += suppressedChunk {
		part := emails[lo:min(lo+suppressedChunk, len(emails))]
		low := make([]string, len(part))
		for i, e := range part {
			low[i] = strings.ToLower(strings.TrimSpace(e))
		}
		rows, err := l.db.Query(ctx, `SELECT s.email, s.source, s.reason FROM mail_suppressions s
			JOIN `+l.db.JSONRows("$1", "email TEXT")+` q ON q.email = s.email`, jsonObjects(low))
		if err != nil {
			return nil, apperr.Wrap(fmt.Errorf("suppressed: %w", err))
		}
		for rows.Next() {
			var e, src, reason string
			if err := rows.Scan(&e, &src, &reason); err != nil {
				rows.Close()
				return nil, apperr.Wrap(err)
			}
			if reason == "" {
				reason = SourceName(src)
			}
			out[e] = reason
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, apperr.Wrap(err)
		}
	}
	return out, nil
}

// jsonObjects is the addresses as a JSON array of {"email": …} objects,
// the shape db.JSONRows reads.
func jsonObjects(emails []string) string {
	objs := make([]map[string]string, len(emails))
	for i, e := range emails {
		objs[i] = map[string]string{"email": e}
	}
	b, _ := json.Marshal(objs) // strings always marshal
	return string(b)
}

// Suppress puts email on the suppression list from source (unsubscribe,
// hard_bounce, complaint, manual). It is idempotent: an address already
// there keeps its first entry. by needs mail.send for a manual entry; the
// other sources come from the system (the unsubscribe page, the bounce
// listener) and are audited as by.
func (l *Lists) Suppress(ctx context.Context, by actor.Actor, email, source, reason string) error {
	if !slices.Contains(Sources, source) {
		return apperr.Field("source", "来源不正确")
	}
	if source == SourceManual {
		if err := by.Require(actor.PermMailSend); err != nil {
			return err
		}
	}
	e, ok := ValidEmail(email)
	if !ok {
		return apperr.Field("email", "请填写正确的邮箱地址")
	}
	reason = strings.TrimSpace(reason)
	if !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > maxReason {
		return apperr.Field("reason", fmt.Sprintf("原因不能超过%d个字", maxReason))
	}
	if source == SourceManual && reason == "" {
		return apperr.Field("reason", "请填写加入屏蔽名单的原因")
	}
	return l.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := l.db.Exec(ctx, `INSERT INTO mail_suppressions (email, reason, source, created_at, created_by)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING`, e, reason, source, db.Micros(l.clock.Now()), by.Login)
		if err != nil {
			return apperr.Wrap(fmt.Errorf("suppress: %w", err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return l.record(ctx, by, audit.Entry{Action: "mailing.suppress", ObjectType: "mail_suppression", ObjectID: e,
			Reason: source + " " + reason})
	})
}

// SuppressionFilter selects suppressions: Query is part of an address.
type SuppressionFilter struct {
	Query  string
	Source string
	Limit  int // default and at most 200
}

// likeEscape escapes LIKE's wildcards so a search is a plain substring.
var likeEscape = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Suppressions lists the suppression list, newest first.
func (l *Lists) Suppressions(ctx context.Context, by actor.Actor, f SuppressionFilter) ([]Suppression, error) {
	if err := by.Require(actor.PermMailSend); err != nil {
		return nil, err
	}
	var w db.Where
	if q := strings.ToLower(strings.TrimSpace(f.Query)); q != "" {
		if !utf8.ValidString(q) || len(q) > 254 {
			return nil, apperr.Field("q", "搜索内容过长")
		}
		w.And(`email LIKE ? ESCAPE '\'`, "%"+likeEscape.Replace(q)+"%")
	}
	if f.Source != "" {
		if !slices.Contains(Sources, f.Source) {
			return nil, apperr.Field("source", "来源不正确")
		}
		w.And("source = ?", f.Source)
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 200
	}
	rows, err := l.db.Query(ctx, `SELECT email, reason, source, created_at, created_by FROM mail_suppressions`+w.SQL()+
		` ORDER BY created_at DESC, email LIMIT `+w.Arg(f.Limit), w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("suppressions: %w", err))
	}
	defer rows.Close()
	out := []Suppression{}
	for rows.Next() {
		var s Suppression
		var at int64
		if err := rows.Scan(&s.Email, &s.Reason, &s.Source, &at, &s.CreatedBy); err != nil {
			return nil, apperr.Wrap(err)
		}
		s.CreatedAt = db.FromMicros(at)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// Unsuppress takes email off the suppression list by hand, with a reason
// kept in the audit trail (an address that hard-bounced or complained is
// mailed again only on purpose).
func (l *Lists) Unsuppress(ctx context.Context, by actor.Actor, email, reason string) error {
	if err := by.Require(actor.PermMailSend); err != nil {
		return err
	}
	e, ok := ValidEmail(email)
	if !ok {
		return apperr.Field("email", "请填写正确的邮箱地址")
	}
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); !utf8.ValidString(reason) || n < 2 || n > maxReason {
		return apperr.Field("reason", fmt.Sprintf("请填写移出屏蔽名单的原因（2到%d个字）", maxReason))
	}
	return l.db.WithTx(ctx, func(ctx context.Context) error {
		var src string
		if err := l.db.QueryRow(ctx, `SELECT source FROM mail_suppressions WHERE email = $1`, e).Scan(&src); err != nil {
			if db.IsNoRows(err) {
				return apperr.New(apperr.NotFound, "该地址不在屏蔽名单中")
			}
			return apperr.Wrap(err)
		}
		if _, err := l.db.Exec(ctx, `DELETE FROM mail_suppressions WHERE email = $1`, e); err != nil {
			return apperr.Wrap(fmt.Errorf("unsuppress: %w", err))
		}
		return l.record(ctx, by, audit.Entry{Action: "mailing.unsuppress", ObjectType: "mail_suppression", ObjectID: e,
			Reason: "was " + src + ": " + reason})
	})
}
