package check

import (
	"context"
	"database/sql"
)

// The connector settings the office edits (internal/agencyops) are written
// here, beside the run-time state the connectors write themselves (breaker,
// rate slot, probe, last error): this package owns agency_connectors and
// check_calls (docs/ARCHITECTURE.md, "Who writes which table").

// ConnectorSettings are the settings of one agency's connector an official
// sets in the office. KeyEnc "" keeps the stored key.
type ConnectorSettings struct {
	BaseURL    string
	RatePerSec int
	TimeoutMS  int
	Retries    int
	BatchSize  int
	Enabled    bool
	KeyEnc     string
	UpdatedBy  int64
}

// AddDefaultConnector creates an agency's connector with baseURL and an
// encrypted key unless it exists, and reports whether it created it.
func AddDefaultConnector(ctx context.Context, d querier, agency, baseURL, keyEnc string, now int64) (bool, error) {
	res, err := d.Exec(ctx, `INSERT INTO agency_connectors (agency, base_url, key_enc, updated_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (agency) DO NOTHING`, agency, baseURL, keyEnc, now)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// SaveConnector writes an agency's settings, creating its connector if it
// does not exist yet, in the caller's transaction.
func SaveConnector(ctx context.Context, d querier, agency string, in ConnectorSettings, now int64) error {
	if _, err := d.Exec(ctx, `INSERT INTO agency_connectors (agency, base_url, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (agency) DO NOTHING`, agency, in.BaseURL, now); err != nil {
		return err
	}
	_, err := d.Exec(ctx, `UPDATE agency_connectors SET base_url = $1, rate_per_sec = $2, timeout_ms = $3,
		retries = $4, batch_size = $5, enabled = $6, updated_by = $7, updated_at = $8,
		key_enc = CASE WHEN $9 = '' THEN key_enc ELSE $9 END WHERE agency = $10`,
		in.BaseURL, in.RatePerSec, in.TimeoutMS, in.Retries, in.BatchSize, in.Enabled, in.UpdatedBy, now, in.KeyEnc, agency)
	return err
}

// PurgeCallsBefore deletes up to limit calls made before cutoff (Unix
// microseconds), oldest first, and returns how many it deleted.
func PurgeCallsBefore(ctx context.Context, d querier, cutoff int64, limit int) (int64, error) {
	res, err := d.Exec(ctx, `DELETE FROM check_calls WHERE id IN
		(SELECT id FROM check_calls WHERE at < $1 ORDER BY id LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// querier is the part of *db.DB these functions use.
type querier interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
}
