package casefile

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// Note is an officer's note on a case. Notes are the office's working
// record: they are added, never edited or removed, and never shown to the
// applicant or the employer.
type Note struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	AuthorID int64     `json:"author_id"`
	Author   string    `json:"author"` // display name, for colleagues
	Role     string    `json:"role"`   // Chinese
	Office   string    `json:"office"`
	Body     string    `json:"body"`
}

// AddNote adds an officer's note to a case they may open: one INSERT and
// its audit row (case.note) in one transaction. A note changes nothing of
// the application, so it is neither on the applicant's timeline nor mailed;
// two officers adding notes at once both succeed, in order.
func (s *Service) AddNote(ctx context.Context, viewer actor.Actor, id int64, body string) (*Note, error) {
	if _, err := s.scopeFor(ctx, viewer, id, "case.note"); err != nil {
		return nil, err
	}
	body, err := text("body", body, 1, MaxNote, "请填写备注内容")
	if err != nil {
		return nil, err
	}
	n := &Note{At: s.clock.Now().Truncate(time.Microsecond), AuthorID: viewer.UserID, Author: viewer.Name,
		Role: actor.RoleName(viewer.Role()), Office: audit.OfficeName(viewer.District), Body: body}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.QueryRow(ctx, `INSERT INTO case_notes (application_id, author_id, author_role, district, body, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, id, viewer.UserID, string(viewer.Role()), viewer.District, body,
			db.Micros(n.At)).Scan(&n.ID); err != nil {
			return err
		}
		return s.audit.Record(ctx, s.entry(viewer, "case.note", id, audit.Success, fmt.Sprintf("备注 %d（%d字）", n.ID, len([]rune(body)))))
	})
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return n, nil
}

// notes returns the notes of an application, oldest first.
func (s *Service) notes(ctx context.Context, appID int64) ([]Note, error) {
	rows, err := s.db.Query(ctx, `SELECT n.id, n.created_at, n.author_id, COALESCE(u.display_name, ''), n.author_role, n.district, n.body
		FROM case_notes n LEFT JOIN users u ON u.id = n.author_id WHERE n.application_id = $1 ORDER BY n.id`, appID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	out := []Note{}
	for rows.Next() {
		var n Note
		var at int64
		var role, district string
		if err := rows.Scan(&n.ID, &at, &n.AuthorID, &n.Author, &role, &district, &n.Body); err != nil {
			return nil, apperr.Wrap(err)
		}
		n.At, n.Role, n.Office = db.FromMicros(at), actor.RoleName(actor.Role(role)), audit.OfficeName(district)
		out = append(out, n)
	}
	return out, rows.Err()
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
