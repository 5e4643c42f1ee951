package mail

import (
	"context"
	"encoding/json"
	"fmt"

	"jifen/internal/platform/db"
)

// EnqueueMany queues messages and their delivery jobs in two statements, in
// the caller's transaction if there is one: a batch job that tells hundreds
// of applicants of a result writes one row set and one job set, not a
// statement per message. A message the outbox
// refuses (an invalid address) is skipped, as one person's address must not
// hold up the others; one whose idempotency key is queued already is not
// queued again. It returns how many messages were valid.
func (o *Outbox) EnqueueMany(ctx context.Context, msgs []Message) (int, error) {
	type row struct {
		To       string `json:"to_addr"`
		ToName   string `json:"to_name"`
		Subject  string `json:"subject"`
		Text     string `json:"body_text"`
		HTML     string `json:"body_html"`
		Category string `json:"category"`
		Ref      string `json:"ref"`
		Key      string `json:"idempotency_key"`
	}
	rows := make([]row, 0, len(msgs))
	for _, m := range msgs {
		m = m.normalize()
		if m.validate() != nil {
			continue
		}
		rows = append(rows, row{m.To, m.ToName, m.Subject, m.Text, m.HTML, m.Category, m.Ref, m.IdempotencyKey})
	}
	if len(rows) == 0 {
		return 0, nil
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return 0, err
	}
	now := db.Micros(o.clock.Now())
	// "WHERE TRUE" tells SQLite's parser that ON CONFLICT belongs to the
	// INSERT, not to a join of the SELECT. The ids of the rows inserted
	// (not those skipped by their key) get their delivery jobs in the
	// second statement.
	err = o.db.WithTx(ctx, func(ctx context.Context) error {
		rows, err := o.db.Query(ctx, `INSERT INTO mail_outbox
	(created_at, to_addr, to_name, subject, body_text, body_html, category, ref, idempotency_key,
	 status, attempts, next_attempt_at, last_error, sent_at, locked_until)
	SELECT $1, r.to_addr, r.to_name, r.subject, r.body_text, r.body_html, r.category, r.ref, r.idempotency_key, 'queued', 0, $1, '', 0, 0
	FROM `+o.db.JSONRows("$2", "to_addr TEXT", "to_name TEXT", "subject TEXT", "body_text TEXT", "body_html TEXT", "category TEXT",
			"ref TEXT", "idempotency_key TEXT")+` r WHERE TRUE
	ON CONFLICT (idempotency_key) WHERE idempotency_key <> '' DO NOTHING
	RETURNING id`, now, string(b))
		if err != nil {
			return err
		}
		ids, err := scanIDs(rows)
		if err != nil {
			return err
		}
		return o.insertJobs(ctx, ids)
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue mail: %w", err)
	}
	return len(rows), nil
}
