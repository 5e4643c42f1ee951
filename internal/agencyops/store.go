package agencyops

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"jifen/internal/agency"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
)

// agencyops owns agency_connectors: the settings the office configures and
// the run-time state the cross-check engine (internal/check) keeps in the
// same row (breaker, rate slot, last error, probe). Store is the table's
// one writer; the engine calls it rather than writing the row itself.

// Store reads and writes agency_connectors. It needs neither the audit
// trail nor the keyring, so the engine uses it on its own.
type Store struct{ db *db.DB }

// NewStore returns the store on d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// KeyAD is the associated data an agency's key is encrypted with, so a key
// copied to another row does not decrypt.
func KeyAD(agency string) string { return "agency_connectors.key_enc:" + agency }

var errNoConnector = &apperr.Error{Code: apperr.NotFound, Message: "没有该委办局的接口配置", Err: db.ErrNotFound}

// Connector returns one agency's connector; a missing one is apperr.NotFound
// (wrapping db.ErrNotFound).
func (s *Store) Connector(ctx context.Context, agency string) (Connector, error) {
	c, err := scanConnector(s.db.QueryRow(ctx, `SELECT `+connectorColumns+` FROM agency_connectors WHERE agency = $1`, agency))
	if errors.Is(err, sql.ErrNoRows) {
		return Connector{}, errNoConnector
	}
	if err != nil {
		return Connector{}, fmt.Errorf("get connector %s: %w", agency, err)
	}
	return c, nil
}

// encryptedKey returns the stored, encrypted key of an agency ("" when none
// is set).
func (s *Store) encryptedKey(ctx context.Context, agency string) (string, error) {
	var enc string
	err := s.db.QueryRow(ctx, `SELECT key_enc FROM agency_connectors WHERE agency = $1`, agency).Scan(&enc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errNoConnector
	}
	return enc, err
}

// ReserveSlot takes the agency's next call slot (GCRA: each call moves
// next_slot on by interval), so the rate holds across every process that
// calls the agency, and returns when the slot begins.
func (s *Store) ReserveSlot(ctx context.Context, agency string, now time.Time, interval time.Duration) (time.Time, error) {
	var slot int64
	err := s.db.QueryRow(ctx, `UPDATE agency_connectors
		SET next_slot = CASE WHEN next_slot < $1 THEN $1 ELSE next_slot END + $2
		WHERE agency = $3 RETURNING next_slot - $2`, db.Micros(now), interval.Microseconds(), agency).Scan(&slot)
	if err != nil {
		return time.Time{}, fmt.Errorf("rate slot %s: %w", agency, err)
	}
	return time.UnixMicro(slot).UTC(), nil
}

// RecordBreaker notes the state the agency's breaker moved to, for the
// console.
func (s *Store) RecordBreaker(ctx context.Context, agency, state string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE agency_connectors SET breaker = $1, breaker_at = $2 WHERE agency = $3`,
		state, db.Micros(at), agency)
	return err
}

// RecordError notes the agency's last failed call.
func (s *Store) RecordError(ctx context.Context, agency, msg string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE agency_connectors SET last_error = $1, last_error_at = $2 WHERE agency = $3`,
		msg, db.Micros(at), agency)
	return err
}

// RecordProbe notes the outcome of a health probe.
func (s *Store) RecordProbe(ctx context.Context, agency string, ok bool, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE agency_connectors SET probe_ok = $1, probe_at = $2 WHERE agency = $3`, ok, db.Micros(at), agency)
	return err
}

// PointAll points every agency's connector at baseURL with key (encrypted
// at rest), creating the connectors that do not exist and keeping their
// other settings; rate and batch, when positive, set those too. The demo
// and `jifen check connect` use it; it writes no audit entry (the command
// line and the demo act as the operator of the machine, not an officer).
func (s *Store) PointAll(ctx context.Context, keys crypto.KeyProvider, baseURL, key string, rate, batch int, now time.Time) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		for _, ag := range agency.Codes() {
			enc, err := keys.EncryptString(key, KeyAD(ag))
			if err != nil {
				return err
			}
			if _, err := s.db.Exec(ctx, `INSERT INTO agency_connectors (agency, base_url, key_enc, updated_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (agency) DO UPDATE SET base_url = excluded.base_url, key_enc = excluded.key_enc, updated_at = excluded.updated_at`,
				ag, baseURL, enc, db.Micros(now)); err != nil {
				return err
			}
			if rate > 0 {
				if _, err := s.db.Exec(ctx, `UPDATE agency_connectors SET rate_per_sec = $1 WHERE agency = $2`, rate, ag); err != nil {
					return err
				}
			}
			if batch > 0 {
				if _, err := s.db.Exec(ctx, `UPDATE agency_connectors SET batch_size = $1 WHERE agency = $2`, batch, ag); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// CallRecord is one call to an agency for the call log (check_calls).
type CallRecord struct {
	At                    time.Time
	Agency, Kind          string
	RunID, JobID          int64
	AppFrom, AppTo        int64
	Subjects, Attempt     int
	Latency               time.Duration
	HTTPStatus            int
	Status, Error, Digest string
}

// LogCall writes one call to the call log. The connectors call it outside
// any transaction: the call happened whatever becomes of the job.
func (s *Store) LogCall(ctx context.Context, r CallRecord) error {
	_, err := s.db.Exec(ctx, `INSERT INTO check_calls (at, agency, kind, run_id, job_id, app_from, app_to, subjects, attempt, latency_us,
		http_status, status, error, digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		db.Micros(r.At), r.Agency, r.Kind, r.RunID, r.JobID, r.AppFrom, r.AppTo, r.Subjects, r.Attempt,
		r.Latency.Microseconds(), r.HTTPStatus, r.Status, r.Error, r.Digest)
	return err
}
