package mail

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"jifen/internal/platform/db"
)

// The worker's side of the outbox. A claim moves due messages to sending
// under a lease (locked_until) in one short transaction; the worker sends
// them outside any transaction and records each outcome in another. The
// lease value doubles as the claim's token: the outcome of a failed attempt
// is written only while the row still carries that token, so a worker that
// outlived its lease cannot undo the work of the one that took over.

// claim leases up to limit due messages until now+lease and counts the
// attempt. A message is due when it is queued and its time has come, or
// when it is sending but its lease has expired (its worker died). On
// PostgreSQL, SKIP LOCKED lets concurrent workers take disjoint batches
// without waiting for each other; on SQLite the single writer connection
// serialises the claims.
func (o *Outbox) claim(ctx context.Context, now time.Time, lease time.Duration, maxAttempts, limit int) ([]Message, time.Time, error) {
	until := now.Add(lease)
	skipLocked := o.db.SkipLocked()
	q := `UPDATE mail_outbox SET status = 'sending', attempts = attempts + 1, locked_until = $1
		WHERE id IN (
			SELECT id FROM mail_outbox
			WHERE status IN ('queued', 'sending') AND next_attempt_at <= $2 AND locked_until <= $3
			  AND attempts < $4
			ORDER BY next_attempt_at, id
			LIMIT $5` + skipLocked + `)
		RETURNING ` + columns
	var out []Message
	err := o.db.WithTx(ctx, func(ctx context.Context) error {
		rows, err := o.db.Query(ctx, q, db.Micros(until), db.Micros(now), db.Micros(now), maxAttempts, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("claim mail: %w", err)
	}
	// RETURNING gives no order; send the oldest first.
	slices.SortFunc(out, func(a, b Message) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, until, nil
}

// abandonStale fails the messages whose worker died while sending them on
// their last allowed attempt: claim no longer takes them, and they must not
// stay "sending" for ever.
func (o *Outbox) abandonStale(ctx context.Context, now time.Time, maxAttempts int) (int64, error) {
	res, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'failed', locked_until = 0, last_error = $1
		WHERE status = 'sending' AND locked_until <= $2 AND attempts >= $3`,
		fmt.Sprintf("发送过程中断（工作进程停止），已尝试 %d 次，不再重试", maxAttempts), db.Micros(now), maxAttempts)
	if err != nil {
		return 0, fmt.Errorf("abandon stale mail: %w", err)
	}
	return res.RowsAffected()
}

// markSent records delivery. It does not check the token: the server has
// accepted the message, and that is true whoever holds the lease now.
func (o *Outbox) markSent(ctx context.Context, id int64, at time.Time) error {
	_, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'sent', sent_at = $1, locked_until = 0, last_error = ''
		WHERE id = $2 AND status = 'sending'`, db.Micros(at), id)
	if err != nil {
		return fmt.Errorf("mark mail %d sent: %w", id, err)
	}
	return nil
}

// markRetry puts the message back in the queue, due at next.
func (o *Outbox) markRetry(ctx context.Context, id int64, token, next time.Time, lastErr string) error {
	_, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'queued', next_attempt_at = $1, last_error = $2, locked_until = 0
		WHERE id = $3 AND status = 'sending' AND locked_until = $4`,
		db.Micros(next), truncate(lastErr), id, db.Micros(token))
	if err != nil {
		return fmt.Errorf("reschedule mail %d: %w", id, err)
	}
	return nil
}

// markFailed gives the message up.
func (o *Outbox) markFailed(ctx context.Context, id int64, token time.Time, lastErr string) error {
	_, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'failed', last_error = $1, locked_until = 0
		WHERE id = $2 AND status = 'sending' AND locked_until = $3`,
		truncate(lastErr), id, db.Micros(token))
	if err != nil {
		return fmt.Errorf("mark mail %d failed: %w", id, err)
	}
	return nil
}

// release hands back claimed messages that were not tried (the worker
// paused or is stopping), without counting an attempt against them.
func (o *Outbox) release(ctx context.Context, ms []Message, token time.Time) error {
	if len(ms) == 0 {
		return nil
	}
	return o.db.WithTx(ctx, func(ctx context.Context) error {
		for _, m := range ms {
			_, err := o.db.Exec(ctx, `UPDATE mail_outbox SET status = 'queued', attempts = attempts - 1, locked_until = 0
				WHERE id = $1 AND status = 'sending' AND locked_until = $2`, m.ID, db.Micros(token))
			if err != nil {
				return fmt.Errorf("release mail %d: %w", m.ID, err)
			}
		}
		return nil
	})
}

// maxErrorLen bounds the stored error text; SMTP replies can be long.
const maxErrorLen = 1000

func truncate(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	i := maxErrorLen
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
