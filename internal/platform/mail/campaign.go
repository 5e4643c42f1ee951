package mail

// The outbox's side of mass-mail campaigns (docs/mailing.md). A campaign's
// messages are outbox rows like any other — the mail log shows them — but
// they get no River job each: the campaign's sender claims them in batches
// and records each outcome the moment the SMTP server has answered. Each
// write is conditional on the claim (locked_until), so a sender whose claim
// ran out — its process killed — cannot overwrite the outcome of the one
// that took the row over.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"jifen/internal/platform/db"
)

// CampaignRow is one recipient of a campaign as the outbox keeps it.
type CampaignRow struct {
	To     string `json:"to_addr"`
	ToName string `json:"to_name"`
	Vars   string `json:"vars"` // the recipient's template variables, JSON
	Key    string `json:"idempotency_key"`
}

// CampaignCategory is the category of every campaign message.
const CampaignCategory = "campaign"

// EnqueueCampaign writes a campaign's recipients as queued outbox rows, a
// few thousand a statement, in the caller's transaction if there is one. A
// row whose key is in the outbox already (a queuing interrupted and run
// again) is skipped. It returns how many rows it wrote. subject is what the
// mail log shows until the message is rendered and sent.
func (o *Outbox) EnqueueCampaign(ctx context.Context, campaignID int64, subject string, rows []CampaignRow) (int, error) {
	const chunk = 2000
	now := db.Micros(o.clock.Now())
	total := 0
	for lo := 0; lo < len(rows); lo += chunk {
		b, err := json.Marshal(rows[lo:min(lo+chunk, len(rows))])
		if err != nil {
			return total, err
		}
		res, err := o.db.Exec(ctx, `INSERT INTO mail_outbox
	(created_at, to_addr, to_name, subject, body_text, body_html, category, ref, idempotency_key,
	 status, attempts, next_attempt_at, last_error, sent_at, locked_until, campaign_id, vars, last_code)
	SELECT $1, r.to_addr, r.to_name, $2, '', '', $3, $4, r.idempotency_key, 'queued', 0, $1, '', 0, 0, $5, r.vars, 0
	FROM `+o.db.JSONRows("$6", "to_addr TEXT", "to_name TEXT", "vars TEXT", "idempotency_key TEXT")+` r WHERE TRUE
	ON CONFLICT (idempotency_key) WHERE idempotency_key <> '' DO NOTHING`,
			now, subject, CampaignCategory, fmt.Sprintf("campaign:%d", campaignID), campaignID, string(b))
		if err != nil {
			return total, fmt.Errorf("enqueue campaign %d: %w", campaignID, err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

// Claim is a batch of a campaign's messages taken by one sender until
// Until: each row's locked_until holds it. A sender renews it (RenewClaim)
// while it works, so a slow server never lets another sender take rows a
// live one is sending; the lock keeps a renewal from slipping between an
// outcome's read of Until and its write.
type Claim struct {
	mu         sync.RWMutex
	Until      time.Time
	CampaignID int64
	Messages   []Message
}

// ClaimCampaign takes up to limit of a campaign's messages that are due:
// queued ones whose time has come, and ones left "sending" by a sender whose
// claim ran out (its process died mid-send: sent again with the same
// Message-ID, so a receiver can tell the duplicate). Each counts an attempt.
func (o *Outbox) ClaimCampaign(ctx context.Context, campaignID int64, lease time.Duration, limit int) (*Claim, error) {
	now := o.clock.Now()
	until := now.Add(lease)
	rows, err := o.db.Query(ctx, `UPDATE mail_outbox SET status = 'sending', attempts = attempts + 1, locked_until = $1
		WHERE id IN (SELECT id FROM mail_outbox WHERE campaign_id = $2 AND
			((status = 'queued' AND next_attempt_at <= $3) OR (status = 'sending' AND locked_until < $3)) ORDER BY id LIMIT $4)
		AND (status = 'queued' OR (status = 'sending' AND locked_until < $3)) RETURNING `+columns,
		db.Micros(until), campaignID, db.Micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim campaign %d: %w", campaignID, err)
	}
	defer rows.Close()
	c := &Claim{Until: until, CampaignID: campaignID}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		c.Messages = append(c.Messages, m)
	}
	return c, rows.Err()
}

// Outcome is what became of one claimed message.
type Outcome int

// The outcomes a campaign sender records.
const (
	OutcomeSent     Outcome = iota // the server took it
	OutcomeDeferred                // a temporary failure: queued again at Next
	OutcomeFailed                  // a permanent failure, or attempts used up
	OutcomeHeld                    // not tried (a domain's or the hour's limit): queued again at Next, the attempt not counted
)

// CampaignResult is the outcome of one claimed message.
type CampaignResult struct {
	ID      int64
	Outcome Outcome
	At      time.Time // when sent
	Next    time.Time // when due again (deferred, held)
	Code    int       // the SMTP code (0: none)
	Error   string
}

// RecordCampaign records one outcome under claim c. It reports false when
// the row is no longer held by this claim (another sender took it over),
// in which case nothing was written.
func (o *Outbox) RecordCampaign(ctx context.Context, c *Claim, r CampaignResult) (bool, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	lock := db.Micros(c.Until)
	var q string
	var args []any
	switch r.Outcome {
	case OutcomeSent:
		q, args = `UPDATE mail_outbox SET status = 'sent', sent_at = $1, last_error = '', last_code = 0, locked_until = 0
			WHERE id = $2 AND status = 'sending' AND locked_until = $3`, []any{db.Micros(r.At), r.ID, lock}
	case OutcomeDeferred:
		q, args = `UPDATE mail_outbox SET status = 'queued', next_attempt_at = $1, last_error = $2, last_code = $3, locked_until = 0
			WHERE id = $4 AND status = 'sending' AND locked_until = $5`, []any{db.Micros(r.Next), truncate(r.Error), r.Code, r.ID, lock}
	case OutcomeFailed:
		q, args = `UPDATE mail_outbox SET status = 'failed', last_error = $1, last_code = $2, locked_until = 0
			WHERE id = $3 AND status = 'sending' AND locked_until = $4`, []any{truncate(r.Error), r.Code, r.ID, lock}
	case OutcomeHeld:
		q, args = `UPDATE mail_outbox SET status = 'queued', attempts = attempts - 1, next_attempt_at = $1, locked_until = 0
			WHERE id = $2 AND status = 'sending' AND locked_until = $3`, []any{db.Micros(r.Next), r.ID, lock}
	default:
		return false, fmt.Errorf("mail: unknown outcome %d", r.Outcome)
	}
	res, err := o.db.Exec(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("record campaign mail %d: %w", r.ID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RenewClaim extends claim c's rows still being sent by lease from now.
func (o *Outbox) RenewClaim(ctx context.Context, c *Claim, lease time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	until := o.clock.Now().Add(lease)
	if !until.After(c.Until) {
		return nil
	}
	if _, err := o.db.Exec(ctx, `UPDATE mail_outbox SET locked_until = $1 WHERE campaign_id = $2 AND status = 'sending' AND locked_until = $3`,
		db.Micros(until), c.CampaignID, db.Micros(c.Until)); err != nil {
		return fmt.Errorf("renew campaign %d claim: %w", c.CampaignID, err)
	}
	c.Until = until
	return nil
}

// CampaignPending counts a campaign's messages not yet sent or failed, and
// the soonest time one is due.
func (o *Outbox) CampaignPending(ctx context.Context, campaignID int64) (int, time.Time, error) {
	var n int
	var next int64
	err := o.db.QueryRow(ctx, `SELECT count(*), COALESCE(MIN(CASE WHEN status = 'queued' THEN next_attempt_at ELSE locked_until END), 0)
		FROM mail_outbox WHERE campaign_id = $1 AND status IN ('queued', 'sending')`, campaignID).Scan(&n, &next)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("campaign %d pending: %w", campaignID, err)
	}
	return n, db.FromMicros(next), nil
}

// CampaignCounts counts a campaign's messages by status.
func (o *Outbox) CampaignCounts(ctx context.Context, campaignID int64) (map[Status]int, error) {
	out := make(map[Status]int, len(Statuses))
	for _, s := range Statuses {
		out[s] = 0
	}
	rows, err := o.db.Query(ctx, `SELECT status, count(*) FROM mail_outbox WHERE campaign_id = $1 GROUP BY status`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("campaign %d counts: %w", campaignID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[Status(s)] = n
	}
	return out, rows.Err()
}

// CancelCampaign gives up a campaign's queued messages; one being sent
// finishes its send.
func (o *Outbox) CancelCampaign(ctx context.Context, campaignID int64, reason string) (int, error) {
	res, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'failed', last_error = $1 WHERE campaign_id = $2 AND status = 'queued'`,
		truncate(reason), campaignID)
	if err != nil {
		return 0, fmt.Errorf("cancel campaign %d: %w", campaignID, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// CampaignOf returns the campaign of outbox message id (0: transactional)
// and its recipient, for a bounce naming the message.
func (o *Outbox) CampaignOf(ctx context.Context, id int64) (campaignID int64, to string, err error) {
	err = o.db.QueryRow(ctx, `SELECT campaign_id, to_addr FROM mail_outbox WHERE id = $1`, id).Scan(&campaignID, &to)
	if db.IsNoRows(err) {
		return 0, "", db.ErrNotFound
	}
	return campaignID, to, err
}
