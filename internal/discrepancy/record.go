package discrepancy

import (
	"context"
	"encoding/json"

	"jifen/internal/platform/db"
)

// Finding is the outcome of one check item of one application in a
// cross-check run, as the engine (internal/check) found it.
type Finding struct {
	ApplicationID int64  `json:"application_id"`
	Item          string `json:"item"`
	Outcome       string `json:"outcome"` // mismatch | not_found | match
	Declared      string `json:"declared"`
	Verified      string `json:"verified"`
	District      string `json:"district"`
}

// Record brings the queue up to date with the findings of run runID, in the
// caller's transaction, with one statement for the whole batch per kind: a
// mismatch or not_found opens a discrepancy, or refreshes it — a finding
// that changed reopens, the same finding keeps whatever an officer decided;
// a match clears the item's discrepancy if there is one.
func (s *Service) Record(ctx context.Context, runID int64, findings []Finding) error {
	var open, match []Finding
	for _, f := range findings {
		switch f.Outcome {
		case Mismatch, NotFound:
			open = append(open, f)
		case "match":
			match = append(match, f)
		}
	}
	now := db.Micros(s.clock.Now())
	if len(open) > 0 {
		b, _ := json.Marshal(open)
		// "WHERE TRUE" tells SQLite's parser that ON CONFLICT belongs to the
		// INSERT, not to a join of the SELECT.
		if _, err := s.db.Exec(ctx, `INSERT INTO discrepancies (application_id, run_id, item, outcome, declared, verified,
			district, status, created_at, updated_at)
			SELECT f.application_id, $2, f.item, f.outcome, f.declared, f.verified, f.district, 'open', $3, $3
			FROM `+s.db.JSONRows("$1", "application_id BIGINT", "item TEXT", "outcome TEXT", "declared TEXT", "verified TEXT",
			"district TEXT")+` f WHERE TRUE
			ON CONFLICT (application_id, item) DO UPDATE SET run_id = excluded.run_id, outcome = excluded.outcome,
			status = CASE WHEN discrepancies.declared = excluded.declared AND discrepancies.verified = excluded.verified
				AND discrepancies.status <> 'cleared' THEN discrepancies.status ELSE 'open' END,
			declared = excluded.declared, verified = excluded.verified, district = excluded.district, updated_at = excluded.updated_at`,
			string(b), runID, now); err != nil {
			return err
		}
	}
	if len(match) > 0 {
		b, _ := json.Marshal(match)
		if _, err := s.db.Exec(ctx, `UPDATE discrepancies SET status = 'cleared', run_id = $2, updated_at = $3
			FROM `+s.db.JSONRows("$1", "application_id BIGINT", "item TEXT")+` f
			WHERE discrepancies.application_id = f.application_id AND discrepancies.item = f.item
			AND discrepancies.status <> 'cleared'`, string(b), runID, now); err != nil {
			return err
		}
	}
	return nil
}
