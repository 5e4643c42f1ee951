package mail

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
)

// Outbox is the mail_outbox table: where notices are queued and where the
// office reads the mail log.
type Outbox struct {
	db    *db.DB
	clock clock.Clock
	// jobs, set by NewWorker, receives a delivery job with each message
	// queued; without it (tests of other packages, tools) messages are only
	// logged, and the sweep gives them jobs once a worker runs.
	jobs *jobs.Jobs
}

// NewOutbox returns the outbox stored in d, dating messages by c.
func NewOutbox(d *db.DB, c clock.Clock) *Outbox {
	return &Outbox{db: d, clock: c}
}

// columns lists the stored fields in the order scanMessage reads them.
const columns = `id, created_at, to_addr, to_name, subject, body_text, body_html, category, ref,
	idempotency_key, status, attempts, next_attempt_at, last_error, sent_at, locked_until, campaign_id, vars, last_code`

type scanner interface{ Scan(dest ...any) error }

func scanMessage(s scanner) (Message, error) {
	var m Message
	var created, next, sent, locked int64
	var status string
	err := s.Scan(&m.ID, &created, &m.To, &m.ToName, &m.Subject, &m.Text, &m.HTML, &m.Category, &m.Ref,
		&m.IdempotencyKey, &status, &m.Attempts, &next, &m.LastError, &sent, &locked, &m.CampaignID, &m.Vars, &m.LastCode)
	if err != nil {
		return Message{}, err
	}
	m.Status = Status(status)
	m.CreatedAt = db.FromMicros(created)
	m.NextAttemptAt = db.FromMicros(next)
	m.SentAt = db.FromMicros(sent)
	m.LockedUntil = db.FromMicros(locked)
	return m, nil
}

const insertMessage = `INSERT INTO mail_outbox
	(created_at, to_addr, to_name, subject, body_text, body_html, category, ref, idempotency_key,
	 status, attempts, next_attempt_at, last_error, sent_at, locked_until)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', 0, $10, '', 0, 0)
ON CONFLICT (idempotency_key) WHERE idempotency_key <> '' DO NOTHING
RETURNING id`

// Enqueue validates m and queues it for sending at once. It writes in the
// transaction carried by ctx (or in one of its own), so a notice caused by
// a state change commits or rolls back with that change. When m has an
// IdempotencyKey already in the outbox, Enqueue returns the id of the
// message queued first and adds nothing; the conflict is absorbed by the
// INSERT itself, so an enclosing PostgreSQL transaction stays usable.
// Invalid content is reported as an apperr.Invalid naming the fields.
func (o *Outbox) Enqueue(ctx context.Context, m Message) (int64, error) {
	m = m.normalize()
	if err := m.validate(); err != nil {
		return 0, err
	}
	now := db.Micros(o.clock.Now())
	var id int64
	err := o.db.WithTx(ctx, func(ctx context.Context) error {
		err := o.db.QueryRow(ctx, insertMessage, now, m.To, m.ToName, m.Subject, m.Text, m.HTML,
			m.Category, m.Ref, m.IdempotencyKey, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) && m.IdempotencyKey != "" {
			// Queued before, with its job then.
			return o.db.QueryRow(ctx, `SELECT id FROM mail_outbox WHERE idempotency_key = $1`,
				m.IdempotencyKey).Scan(&id)
		}
		if err != nil {
			return err
		}
		return o.insertJobs(ctx, []int64{id})
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue mail: %w", err)
	}
	return id, nil
}

// insertJobs inserts the delivery jobs of messages in ctx's transaction,
// all in one statement; a message whose job is live already keeps it.
func (o *Outbox) insertJobs(ctx context.Context, ids []int64) error {
	if o.jobs == nil || len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: SendArgs{ID: id}}
	}
	return o.jobs.InsertMany(ctx, params)
}

func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Get returns one message; a missing one is an apperr.NotFound that also
// matches db.ErrNotFound.
func (o *Outbox) Get(ctx context.Context, id int64) (Message, error) {
	row := o.db.QueryRow(ctx, `SELECT `+columns+` FROM mail_outbox WHERE id = $1`, id)
	m, err := scanMessage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, errMessageNotFound()
	}
	if err != nil {
		return Message{}, fmt.Errorf("get mail %d: %w", id, err)
	}
	return m, nil
}

func errMessageNotFound() error {
	return &apperr.Error{Code: apperr.NotFound, Message: "邮件不存在", Err: db.ErrNotFound}
}

// List returns the messages that match f, newest first.
func (o *Outbox) List(ctx context.Context, f Filter) ([]Message, error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, apperr.Field("status", "邮件状态只能是 queued、sending、sent 或 failed")
	}
	if f.Limit < 0 || f.Offset < 0 {
		return nil, apperr.Field("limit", "分页参数不能为负数")
	}
	if f.Limit == 0 {
		f.Limit = DefaultListLimit
	}
	f.Limit = min(f.Limit, MaxListLimit)

	var w db.Where
	if f.Status != "" {
		w.And("status = ?", string(f.Status))
	}
	if f.To != "" {
		w.And("lower(to_addr) = lower(?)", strings.TrimSpace(f.To))
	}
	if f.Category != "" {
		w.And("category = ?", f.Category)
	}
	if f.Ref != "" {
		w.And("ref = ?", f.Ref)
	}
	if f.Campaign != 0 {
		w.And("campaign_id = ?", f.Campaign)
	}
	if f.Code != 0 {
		w.And("last_code = ?", f.Code)
	}
	if !f.Since.IsZero() {
		w.And("created_at >= ?", db.Micros(f.Since))
	}
	if !f.Until.IsZero() {
		w.And("created_at < ?", db.Micros(f.Until))
	}
	q := `SELECT ` + columns + ` FROM mail_outbox` + w.SQL() + ` ORDER BY id DESC LIMIT ` + w.Arg(f.Limit) + ` OFFSET ` + w.Arg(f.Offset)
	args := w.Args()

	rows, err := o.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("list mail: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	return out, nil
}

// Counts returns how many messages are in each status; every status is
// present in the map, with 0 when none is.
func (o *Outbox) Counts(ctx context.Context) (map[Status]int, error) {
	out := make(map[Status]int, len(Statuses))
	for _, s := range Statuses {
		out[s] = 0
	}
	rows, err := o.db.Query(ctx, `SELECT status, count(*) FROM mail_outbox GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count mail: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count mail: %w", err)
		}
		out[Status(s)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count mail: %w", err)
	}
	return out, nil
}

// Retry puts a failed message back in the queue, due at once and with its
// attempts reset, for an operator who has fixed the cause (a wrong address
// corrected at the source, a mail server back up). The last error is kept
// for the record until the next attempt replaces it. Only failed messages
// can be retried: anything else is an apperr.Conflict. A new delivery job
// is inserted with the reset, in the same transaction.
func (o *Outbox) Retry(ctx context.Context, id int64) error {
	now := db.Micros(o.clock.Now())
	return o.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := o.db.Exec(ctx, `UPDATE mail_outbox
			SET status = 'queued', attempts = 0, next_attempt_at = $1, locked_until = 0
			WHERE id = $2 AND status = 'failed'`, now, id)
		if err != nil {
			return fmt.Errorf("retry mail %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			// The failed message's job ended cancelled, so a new one is
			// not a duplicate. A campaign's message has no job: its
			// campaign's sender takes it up again.
			var campaign int64
			if err := o.db.QueryRow(ctx, `SELECT campaign_id FROM mail_outbox WHERE id = $1`, id).Scan(&campaign); err != nil {
				return err
			}
			if campaign != 0 {
				return nil
			}
			return o.insertJobs(ctx, []int64{id})
		}
		m, err := o.Get(ctx, id)
		if err != nil {
			return err
		}
		return apperr.New(apperr.Conflict,
			fmt.Sprintf("只有发送失败的邮件可以重新发送，这封邮件的状态是 %s", m.Status))
	})
}
