package employer

import "context"

// SetMarketCheck records the outcome of the 市场监管 single check of a
// registering employer (internal/check asks the agency; this package owns
// the row): outcome is match, mismatch, not_found or unavailable.
func (s *Service) SetMarketCheck(ctx context.Context, id int64, outcome, detail string, at int64) error {
	_, err := s.db.Exec(ctx, `UPDATE employers SET market_check = $1, market_detail = $2, market_checked_at = $3 WHERE id = $4`,
		outcome, detail, at, id)
	return err
}
