package application

import (
	"context"
	"encoding/json"
	"fmt"

	"jifen/internal/platform/apperr"
)

// The freeze (internal/round) fixes every score of a round: the ranking is
// computed from them. Every write of a score in this package (the
// cross-check's results, an approved override, a 复查's approved change)
// asks unfrozen first, in its own transaction, holding the round's row in
// share mode on PostgreSQL: a freeze (which locks the row for update)
// waits for the write to commit, or the write waits for the freeze and
// then sees it. Callers check earlier for a friendlier message; this is
// the guarantee.

// unfrozen answers Conflict when the round of any of the applications ids
// is frozen.
func (s *Service) unfrozen(ctx context.Context, ids []int64) error {
	idj, _ := json.Marshal(ids)
	rows, err := s.db.Query(ctx, `SELECT year, frozen_at FROM rounds WHERE id IN (SELECT a.round_id FROM applications a
		WHERE a.id IN (SELECT x.id FROM `+s.db.JSONIDs("$1")+` x))`+s.db.ForShare(), string(idj))
	if err != nil {
		return apperr.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var year int
		var frozen int64
		if err := rows.Scan(&year, &frozen); err != nil {
			return apperr.Wrap(err)
		}
		if frozen != 0 {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次已冻结，积分不能再变更；如确需变更，请由市人力社保局申请解除冻结", year))
		}
	}
	if err := rows.Err(); err != nil {
		return apperr.Wrap(err)
	}
	return nil
}
