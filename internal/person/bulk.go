package person

import (
	"context"
	"encoding/json"
	"fmt"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
)

// FullIDNumbers decrypts the ID numbers of many persons for an official
// hand-off (the settlement list sent to the public security bureau): one
// audit row names the purpose and how many numbers were revealed, written
// before any number is returned, and each person's file gets its read row
// (buffered, as every audited read). Only city officers may ask.
func (s *Service) FullIDNumbers(ctx context.Context, by actor.Actor, ids []int64, why string) (map[int64]string, error) {
	if !by.Can(actor.PermCasesCity) {
		return nil, ErrNotFound
	}
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	if err := s.audit.Record(ctx, audit.Entry{ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()),
		ClientAddr: by.ClientAddr, RequestID: by.RequestID, Action: audit.ViewIDNumber, ObjectType: "person",
		ObjectID: fmt.Sprintf("%d persons", len(ids)), Reason: why}); err != nil {
		return nil, apperr.Wrap(err)
	}
	b, _ := json.Marshal(ids)
	rows, err := s.db.Query(ctx, `SELECT id, id_enc FROM persons WHERE id IN (SELECT r.id FROM `+s.db.JSONIDs("$1")+` r)`, string(b))
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var enc string
		if err := rows.Scan(&id, &enc); err != nil {
			return nil, apperr.Wrap(err)
		}
		n, err := s.keys.DecryptString(enc, "id_number")
		if err != nil {
			return nil, apperr.Wrap(fmt.Errorf("person %d: %w", id, err))
		}
		out[id] = n
		// Each applicant's own record of who read their file ("who opened
		// my file") names this reveal too, through the buffered reads.
		s.audit.RecordRead(ctx, by, audit.Read{Action: audit.ViewIDNumber, PersonID: id, What: why})
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}
