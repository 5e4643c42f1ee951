package agencyops_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/agencyops"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
)

// now is the fake clock's time in the tests: 2026-03-02 10:00 Beijing.
var now = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

type fixture struct {
	svc   *agencyops.Service
	db    *db.DB
	keys  *crypto.Keyring
	audit *audit.Log
	clock *clock.Fake
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	d := dbtest.Open(t)
	master := make([]byte, crypto.MasterKeySize)
	_, _ = rand.Read(master)
	keys, err := crypto.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	c := clock.NewFake(now)
	log := audit.New(d, c)
	return &fixture{svc: agencyops.New(d, log, c, keys), db: d, keys: keys, audit: log, clock: c}
}

// call is a row of check_calls to insert.
type call struct {
	agency, kind, status string
	at                   time.Time
	latency              time.Duration
	run, appFrom, appTo  int64
	digest, err          string
}

func (f *fixture) insert(t testing.TB, calls ...call) {
	t.Helper()
	err := f.db.WithTx(context.Background(), func(ctx context.Context) error {
		for _, c := range calls {
			if c.kind == "" {
				c.kind = "query"
			}
			if _, err := f.db.Exec(ctx, `INSERT INTO check_calls (at, agency, kind, run_id, app_from, app_to, subjects,
				attempt, latency_us, http_status, status, error, digest) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $10, $11, $12)`,
				db.Micros(c.at), c.agency, c.kind, c.run, c.appFrom, c.appTo, c.appTo-c.appFrom+1, c.latency.Microseconds(),
				200, c.status, c.err, c.digest); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// admin may change connectors; ID 7 is what updated_by records.
var admin = actor.Actor{UserID: 7, Roles: []actor.Role{actor.SystemAdmin}}

func validInput() agencyops.ConnectorInput {
	return agencyops.ConnectorInput{BaseURL: "https://tax.example.gov.cn/jifen", RatePerSec: 20, TimeoutMS: 10000, Retries: 3,
		BatchSize: 250, Enabled: true}
}

func TestConnectorValidation(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name  string
		edit  func(*agencyops.ConnectorInput)
		field string
		msg   string
	}{
		{"no url", func(in *agencyops.ConnectorInput) { in.BaseURL = "" }, "base_url", "http://"},
		{"ftp url", func(in *agencyops.ConnectorInput) { in.BaseURL = "ftp://x.cn" }, "base_url", "接口地址"},
		{"no host", func(in *agencyops.ConnectorInput) { in.BaseURL = "http://" }, "base_url", "接口地址"},
		{"rate 0", func(in *agencyops.ConnectorInput) { in.RatePerSec = 0 }, "rate_per_sec", "每秒调用上限应为 1 到 10000"},
		{"rate high", func(in *agencyops.ConnectorInput) { in.RatePerSec = 10001 }, "rate_per_sec", "每秒调用上限"},
		{"timeout low", func(in *agencyops.ConnectorInput) { in.TimeoutMS = 99 }, "timeout_ms", "超时时间应为 100 到 120000 毫秒"},
		{"timeout high", func(in *agencyops.ConnectorInput) { in.TimeoutMS = 120001 }, "timeout_ms", "超时时间"},
		{"retries neg", func(in *agencyops.ConnectorInput) { in.Retries = -1 }, "retries", "重试次数应为 0 到 10"},
		{"retries high", func(in *agencyops.ConnectorInput) { in.Retries = 11 }, "retries", "重试次数"},
		{"batch 0", func(in *agencyops.ConnectorInput) { in.BatchSize = 0 }, "batch_size", "每批人数应为 1 到 500"},
		{"batch high", func(in *agencyops.ConnectorInput) { in.BatchSize = 501 }, "batch_size", "每批人数"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := validInput()
			tc.edit(&in)
			_, err := f.svc.UpdateConnector(context.Background(), admin, "tax", in)
			e := apperr.As(err)
			if e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tc.field ||
				!strings.Contains(e.Fields[0].Message, tc.msg) {
				t.Fatalf("got %v, want one error on %s containing %q", err, tc.field, tc.msg)
			}
		})
	}
	t.Run("limits pass", func(t *testing.T) {
		in := agencyops.ConnectorInput{BaseURL: "http://127.0.0.1:9300", RatePerSec: 10000, TimeoutMS: 100, Retries: 10, BatchSize: 500}
		if _, err := f.svc.UpdateConnector(context.Background(), admin, "tax", in); err != nil {
			t.Fatal(err)
		}
		in = agencyops.ConnectorInput{BaseURL: "https://a.b", RatePerSec: 1, TimeoutMS: 120000, Retries: 0, BatchSize: 1}
		if _, err := f.svc.UpdateConnector(context.Background(), admin, "tax", in); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("without config.manage", func(t *testing.T) {
		city := actor.Actor{UserID: 8, Roles: []actor.Role{actor.CityOfficer}}
		if _, err := f.svc.UpdateConnector(context.Background(), city, "tax", validInput()); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("got %v, want forbidden", err)
		}
	})
	t.Run("unknown agency", func(t *testing.T) {
		if _, err := f.svc.UpdateConnector(context.Background(), admin, "nope", validInput()); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("got %v, want not found", err)
		}
	})
}

func TestConnectorKeyEncryptedAndAudited(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const secret = "k3y-of-the-tax-bureau-0123456789"
	in := validInput()
	in.Key = secret
	c, err := f.svc.UpdateConnector(ctx, admin, "tax", in)
	if err != nil {
		t.Fatal(err)
	}
	if !c.KeySet || c.BaseURL != in.BaseURL || c.RatePerSec != 20 || c.UpdatedBy != 7 || !c.UpdatedAt.Equal(now) {
		t.Fatalf("connector %+v", c)
	}
	var stored string
	if err := f.db.QueryRow(ctx, `SELECT key_enc FROM agency_connectors WHERE agency = 'tax'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == "" || strings.Contains(stored, secret) || strings.Contains(stored, "k3y") {
		t.Fatalf("key stored as %q", stored)
	}
	if got, err := f.svc.Key(ctx, "tax"); err != nil || got != secret {
		t.Fatalf("Key = %q, %v", got, err)
	}
	// An empty key keeps the old one; other fields change.
	in.Key, in.RatePerSec, in.Enabled = "", 50, false
	if c, err = f.svc.UpdateConnector(ctx, admin, "tax", in); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.Key(ctx, "tax"); got != secret || c.RatePerSec != 50 || c.Enabled {
		t.Fatalf("after second update: key %q, %+v", got, c)
	}
	// Saving the same settings again writes nothing, not even an audit entry.
	f.clock.Advance(time.Hour)
	if c, err = f.svc.UpdateConnector(ctx, admin, "tax", in); err != nil || !c.UpdatedAt.Equal(now) {
		t.Fatalf("no-change update: %+v, %v", c, err)
	}
	// A key copied to another agency's row does not decrypt there.
	if _, err := f.svc.UpdateConnector(ctx, admin, "science", validInput()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `UPDATE agency_connectors SET key_enc = $1 WHERE agency = 'science'`, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Key(ctx, "science"); err == nil {
		t.Fatal("a key moved to another agency decrypted")
	}
	entries, err := f.audit.Search(ctx, audit.Filter{Action: "agency.connector_update", ObjectID: "tax"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d audit entries, want 2", len(entries))
	}
	if !strings.Contains(entries[0].Reason, "rate_per_sec: 20 → 50") || strings.Contains(entries[0].Reason, "base_url") {
		t.Fatalf("second entry reason %q", entries[0].Reason)
	}
	if !strings.Contains(entries[1].Reason, "key: replaced") {
		t.Fatalf("first entry reason %q", entries[1].Reason)
	}
	for _, e := range entries {
		if strings.Contains(e.Reason, secret) {
			t.Fatal("the key is in the audit trail")
		}
	}
	if _, err := f.svc.Connector(ctx, "honors"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("missing connector: %v", err)
	}
}

func TestEnsureDefaults(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := validInput()
	if _, err := f.svc.UpdateConnector(ctx, admin, "tax", in); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call adds nothing
		if err := f.svc.EnsureDefaults(ctx, "http://127.0.0.1:9300", "demo-key"); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := f.audit.Search(ctx, audit.Filter{Action: "agency.connector_defaults"})
	if err != nil || len(entries) != 1 || !strings.HasPrefix(entries[0].Reason, "8 connectors") {
		t.Fatalf("audit of defaults: %+v, %v", entries, err)
	}
	list, err := f.svc.Connectors(ctx)
	codes := agency.Codes()
	if err != nil || len(list) != len(codes) {
		t.Fatalf("%d connectors, %v", len(list), err)
	}
	for i, c := range list {
		if c.Agency != codes[i] {
			t.Fatalf("connector %d is %s, want %s", i, c.Agency, codes[i])
		}
		want := "http://127.0.0.1:9300"
		if c.Agency == "tax" {
			want = in.BaseURL
		}
		if c.BaseURL != want {
			t.Fatalf("%s at %s", c.Agency, c.BaseURL)
		}
	}
	if k, _ := f.svc.Key(ctx, "education"); k != "demo-key" {
		t.Fatalf("education key %q", k)
	}
	if k, _ := f.svc.Key(ctx, "tax"); k != "" {
		t.Fatalf("tax key %q, want none", k)
	}
}

func TestPurgeCallsBoundary(t *testing.T) {
	f := newFixture(t)
	cutoff := now.Add(-agencyops.Retention)
	f.insert(t,
		call{agency: "tax", status: "ok", at: cutoff.Add(-time.Microsecond)},
		call{agency: "tax", status: "ok", at: cutoff.Add(-48 * time.Hour)},
		call{agency: "tax", status: "ok", at: cutoff},
		call{agency: "tax", status: "ok", at: now},
	)
	n, err := f.svc.PurgeCalls(context.Background(), cutoff)
	if err != nil || n != 2 {
		t.Fatalf("purged %d, %v; want 2", n, err)
	}
	left, err := f.svc.SearchCalls(context.Background(), agencyops.CallFilter{})
	if err != nil || len(left) != 2 || !left[1].At.Equal(cutoff) {
		t.Fatalf("left %+v, %v", left, err)
	}
}

func TestPurgeCallsChunks(t *testing.T) {
	f := newFixture(t)
	var calls []call
	for i := range 12000 {
		calls = append(calls, call{agency: "tax", status: "ok", at: now.Add(-400*24*time.Hour + time.Duration(i)*time.Second)})
	}
	calls = append(calls, call{agency: "tax", status: "ok", at: now})
	f.insert(t, calls...)
	n, err := f.svc.PurgeCalls(context.Background(), now.Add(-agencyops.Retention))
	if err != nil || n != 12000 {
		t.Fatalf("purged %d, %v", n, err)
	}
}
