// Package agencyops is the operations side of the cross-check (业务比对): the
// connector settings of the partner agencies, their health measured from the
// call log, the call log search, the daily inspection report (日巡检报告) and
// the call log's retention. It owns agency_connectors, settings and run-time
// state alike: the engine in internal/check reads its connectors and records
// breaker, rate slot, last error and probe through Store. The engine writes
// the call log (check_calls); this package reads it.
package agencyops

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
)

// Retention is how long calls stay in the log (12 months, as the audit trail).
const Retention = 365 * 24 * time.Hour

// Service reads and configures the agencies' connectors and call log.
type Service struct {
	db    *db.DB
	store *Store
	audit *audit.Log
	clock clock.Clock
	keys  crypto.KeyProvider
}

// New returns the service on d, auditing to log and encrypting keys with keys.
func New(d *db.DB, log *audit.Log, c clock.Clock, keys crypto.KeyProvider) *Service {
	return &Service{db: d, store: NewStore(d), audit: log, clock: c, keys: keys}
}

// Now is the service's clock, for pages that show "as of".
func (s *Service) Now() time.Time { return s.clock.Now() }

// Connector is one agency's row of agency_connectors: the connection
// settings the office configures and the state the engine keeps (breaker,
// last error, probe). The key itself is never part of it, only whether one
// is set. It is the one type of the table: the engine reads it too.
type Connector struct {
	Agency      string
	Name        string
	BaseURL     string
	KeySet      bool
	RatePerSec  int
	TimeoutMS   int
	Retries     int
	BatchSize   int
	Enabled     bool
	Breaker     string // closed | open | half-open
	BreakerAt   time.Time
	LastError   string
	LastErrorAt time.Time
	ProbeOK     bool
	ProbeAt     time.Time
	UpdatedBy   int64
	UpdatedAt   time.Time
}

// Timeout is how long the engine waits for one answer of the agency.
func (c Connector) Timeout() time.Duration { return time.Duration(c.TimeoutMS) * time.Millisecond }

const connectorColumns = `agency, base_url, key_enc, rate_per_sec, timeout_ms, retries, batch_size, enabled,
	breaker, breaker_at, last_error, last_error_at, probe_ok, probe_at, updated_by, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanConnector(s scanner) (Connector, error) {
	var c Connector
	var key string
	var breakerAt, errAt, probeAt, updAt int64
	if err := s.Scan(&c.Agency, &c.BaseURL, &key, &c.RatePerSec, &c.TimeoutMS, &c.Retries, &c.BatchSize, &c.Enabled,
		&c.Breaker, &breakerAt, &c.LastError, &errAt, &c.ProbeOK, &probeAt, &c.UpdatedBy, &updAt); err != nil {
		return Connector{}, err
	}
	c.Name = agency.Name(c.Agency)
	c.KeySet = key != ""
	c.BreakerAt, c.LastErrorAt, c.ProbeAt, c.UpdatedAt = db.FromMicros(breakerAt), db.FromMicros(errAt),
		db.FromMicros(probeAt), db.FromMicros(updAt)
	return c, nil
}

// Connectors returns every configured connector in the order of
// docs/agencies.md (unknown agencies last, by code).
func (s *Service) Connectors(ctx context.Context) ([]Connector, error) {
	rows, err := s.db.Query(ctx, `SELECT `+connectorColumns+` FROM agency_connectors`)
	if err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	defer rows.Close()
	var out []Connector
	for rows.Next() {
		c, err := scanConnector(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Connector) int {
		ia, ib := agencyOrder(a.Agency), agencyOrder(b.Agency)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a.Agency, b.Agency)
	})
	return out, nil
}

func agencyOrder(a string) int {
	if i := agency.Index(a); i >= 0 {
		return i
	}
	return len(agency.Codes())
}

// Connector returns one agency's connector; a missing one is apperr.NotFound.
func (s *Service) Connector(ctx context.Context, agency string) (Connector, error) {
	return s.store.Connector(ctx, agency)
}

// Key returns the decrypted shared key of an agency for signing requests,
// "" when none is set.
func (s *Service) Key(ctx context.Context, agency string) (string, error) {
	enc, err := s.store.encryptedKey(ctx, agency)
	if err != nil || enc == "" {
		return "", err
	}
	key, err := s.keys.DecryptString(enc, KeyAD(agency))
	if err != nil {
		return "", fmt.Errorf("decrypt key of %s: %w", agency, err)
	}
	return key, nil
}

// EnsureDefaults adds a connector for every agency that has none, all at
// baseURL with key (the demo points them at the in-process simulator).
// Existing connectors are left as they are.
func (s *Service) EnsureDefaults(ctx context.Context, baseURL, key string) error {
	now := db.Micros(s.clock.Now())
	added := 0
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		for _, a := range agency.Codes() {
			enc := ""
			if key != "" {
				var err error
				if enc, err = s.keys.EncryptString(key, KeyAD(a)); err != nil {
					return err
				}
			}
			res, err := s.db.Exec(ctx, `INSERT INTO agency_connectors (agency, base_url, key_enc, updated_at)
				VALUES ($1, $2, $3, $4) ON CONFLICT (agency) DO NOTHING`, a, baseURL, enc, now)
			if err != nil {
				return fmt.Errorf("default connector %s: %w", a, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				added++
			}
		}
		if added == 0 {
			return nil
		}
		return s.audit.Record(ctx, audit.Entry{Action: "agency.connector_defaults", ObjectType: "agency_connector",
			ActorLogin: "system", Reason: strconv.Itoa(added) + " connectors at " + baseURL})
	})
	return err
}

// ConnectorInput is what an operator sets on a connector. An empty Key keeps
// the stored key.
type ConnectorInput struct {
	BaseURL    string
	Key        string
	RatePerSec int
	TimeoutMS  int
	Retries    int
	BatchSize  int
	Enabled    bool
}

// Limits of the settings.
const (
	MinRate, MaxRate       = 1, 10000
	MinTimeout, MaxTimeout = 100, 120000 // milliseconds
	MinRetries, MaxRetries = 0, 10
	MinBatch, MaxBatch     = 1, agency.MaxBatch
	MaxKeyLen              = 512
)

// Validate checks every field and names each one that is wrong, in Chinese.
func (in *ConnectorInput) Validate() error {
	in.BaseURL = strings.TrimSpace(in.BaseURL)
	in.Key = strings.TrimSpace(in.Key)
	var fe []apperr.FieldError
	add := func(f, m string) { fe = append(fe, apperr.FieldError{Field: f, Message: m}) }
	if u, err := url.Parse(in.BaseURL); in.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		add("base_url", "接口地址应为以 http:// 或 https:// 开头的网址，如 https://gaj.bj.gov.cn/jifen（不含查询参数）")
	}
	if len(in.Key) > MaxKeyLen {
		add("key", fmt.Sprintf("密钥最长 %d 个字符", MaxKeyLen))
	}
	if in.RatePerSec < MinRate || in.RatePerSec > MaxRate {
		add("rate_per_sec", fmt.Sprintf("每秒调用上限应为 %d 到 %d 之间的整数", MinRate, MaxRate))
	}
	if in.TimeoutMS < MinTimeout || in.TimeoutMS > MaxTimeout {
		add("timeout_ms", fmt.Sprintf("超时时间应为 %d 到 %d 毫秒之间的整数（0.1 秒到 120 秒）", MinTimeout, MaxTimeout))
	}
	if in.Retries < MinRetries || in.Retries > MaxRetries {
		add("retries", fmt.Sprintf("重试次数应为 %d 到 %d 之间的整数", MinRetries, MaxRetries))
	}
	if in.BatchSize < MinBatch || in.BatchSize > MaxBatch {
		add("batch_size", fmt.Sprintf("每批人数应为 %d 到 %d 之间的整数", MinBatch, MaxBatch))
	}
	return apperr.Fields(fe)
}

// UpdateConnector validates in and saves it for agency (creating the
// connector if the agency has none yet), with an audit entry naming what
// changed, in one transaction; by needs config.manage. The key is encrypted
// at rest and never logged. An update that changes nothing writes nothing.
func (s *Service) UpdateConnector(ctx context.Context, by actor.Actor, code string, in ConnectorInput) (Connector, error) {
	if !by.Can(actor.PermConfigManage) {
		return Connector{}, apperr.New(apperr.Forbidden, "您没有修改委办局接口配置的权限")
	}
	if !agency.Known(code) {
		return Connector{}, apperr.New(apperr.NotFound, "没有该委办局")
	}
	if err := in.Validate(); err != nil {
		return Connector{}, err
	}
	enc := ""
	if in.Key != "" {
		var err error
		if enc, err = s.keys.EncryptString(in.Key, KeyAD(code)); err != nil {
			return Connector{}, apperr.Wrap(err)
		}
	}
	now := db.Micros(s.clock.Now())
	var out Connector
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		old, err := s.Connector(ctx, code)
		exists := err == nil
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			return err
		}
		what := changes(old, exists, in)
		if what == "" {
			out = old
			return nil
		}
		if !exists {
			if _, err := s.db.Exec(ctx, `INSERT INTO agency_connectors (agency, base_url, updated_at) VALUES ($1, $2, $3)`,
				code, in.BaseURL, now); err != nil {
				return err
			}
		}
		if _, err := s.db.Exec(ctx, `UPDATE agency_connectors SET base_url = $1, rate_per_sec = $2, timeout_ms = $3,
			retries = $4, batch_size = $5, enabled = $6, updated_by = $7, updated_at = $8,
			key_enc = CASE WHEN $9 = '' THEN key_enc ELSE $9 END WHERE agency = $10`,
			in.BaseURL, in.RatePerSec, in.TimeoutMS, in.Retries, in.BatchSize, in.Enabled, by.UserID, now, enc, code); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "agency.connector_update", ObjectType: "agency_connector",
			ObjectID: code, Reason: what}); err != nil {
			return err
		}
		out, err = s.Connector(ctx, code)
		return err
	})
	if err != nil {
		return Connector{}, fmt.Errorf("update connector %s: %w", code, err)
	}
	return out, nil
}

// changes describes an update for the audit trail, without the key; "" when
// nothing changes.
func changes(old Connector, exists bool, in ConnectorInput) string {
	if !exists {
		old = Connector{}
	}
	var parts []string
	diff := func(name, a, b string) {
		if a != b || !exists {
			parts = append(parts, name+": "+a+" → "+b)
		}
	}
	diff("base_url", old.BaseURL, in.BaseURL)
	diff("rate_per_sec", strconv.Itoa(old.RatePerSec), strconv.Itoa(in.RatePerSec))
	diff("timeout_ms", strconv.Itoa(old.TimeoutMS), strconv.Itoa(in.TimeoutMS))
	diff("retries", strconv.Itoa(old.Retries), strconv.Itoa(in.Retries))
	diff("batch_size", strconv.Itoa(old.BatchSize), strconv.Itoa(in.BatchSize))
	diff("enabled", strconv.FormatBool(old.Enabled), strconv.FormatBool(in.Enabled))
	if in.Key != "" {
		parts = append(parts, "key: replaced")
	}
	return strings.Join(parts, "; ")
}
