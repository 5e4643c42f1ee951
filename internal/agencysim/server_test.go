package agencysim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/agency"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db/dbtest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func setup(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	d := dbtest.Open(t)
	for _, subj := range []string{"110101199003071234", "110101198001011111"} {
		if _, err := d.Exec(context.Background(), `INSERT INTO agency_records (agency, subject, payload, updated_at) VALUES ($1, $2, $3, 0)`,
			"public_security", crypto.SM3Hex([]byte(subj)), `{"residence_permit":true,"name":"测试"}`); err != nil {
			t.Fatal(err)
		}
	}
	s := New(d, testKey, "admin-secret", slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

func send(t *testing.T, hs *httptest.Server, code string, q agency.Query, mutate func(*http.Request)) (*http.Response, []byte) {
	t.Helper()
	body, _ := json.Marshal(q)
	path := agency.QueryPath(code)
	req, _ := http.NewRequest("POST", hs.URL+path, bytes.NewReader(body))
	agency.Sign(req.Header, testKey, "POST", path, time.Now().Unix(), body)
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestSignedBatchQueryAnswersFromTheRecords(t *testing.T) {
	_, hs := setup(t)
	resp, body := send(t, hs, "public_security", agency.Query{RequestID: "r1", Subjects: []string{"110101199003071234", "999"}}, nil)
	var a agency.Answer
	if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if len(a.Results) != 2 || !a.Results[0].Found || a.Results[1].Found || !strings.Contains(string(a.Results[0].Record), "residence_permit") {
		t.Fatalf("%+v", a)
	}
	// The same request id: the same answer, marked as replayed.
	resp2, body2 := send(t, hs, "public_security", agency.Query{RequestID: "r1", Subjects: []string{"110101199003071234", "999"}}, nil)
	if resp2.Header.Get(agency.HeaderReplayed) != "true" || !bytes.Equal(body, body2) {
		t.Fatal("a repeated request id was not answered the same")
	}
}

func TestSignatureTimestampAndInputAreChecked(t *testing.T) {
	_, hs := setup(t)
	q := agency.Query{RequestID: "r2", Subjects: []string{"1"}}
	cases := map[string]struct {
		agency string
		q      agency.Query
		mutate func(*http.Request)
		status int
	}{
		"wrong signature": {"public_security", q, func(r *http.Request) { r.Header.Set(agency.HeaderSignature, strings.Repeat("0", 64)) }, 401},
		"old timestamp": {"public_security", q, func(r *http.Request) {
			r.Header.Set(agency.HeaderTimestamp, strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10))
		}, 401},
		"unknown agency": {"nasa", q, nil, 404},
		"no subjects":    {"public_security", agency.Query{RequestID: "r3"}, nil, 400},
		"too many":       {"public_security", agency.Query{RequestID: "r4", Subjects: make([]string, agency.MaxBatch+1)}, nil, 400},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if resp, body := send(t, hs, c.agency, c.q, c.mutate); resp.StatusCode != c.status {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		})
	}
}

func TestInjectedFaults(t *testing.T) {
	s, hs := setup(t)
	q := func(id string) agency.Query {
		return agency.Query{RequestID: id, Subjects: []string{"110101199003071234"}}
	}
	_ = s.SetFaults("public_security", Faults{ErrorRate: 1})
	if resp, _ := send(t, hs, "public_security", q("e1"), nil); resp.StatusCode != 500 {
		t.Fatalf("error rate 1: %d", resp.StatusCode)
	}
	_ = s.SetFaults("public_security", Faults{Down: true})
	if resp, _ := send(t, hs, "public_security", q("e2"), nil); resp.StatusCode != 503 {
		t.Fatalf("down: %d", resp.StatusCode)
	}
	_ = s.SetFaults("public_security", Faults{RatePerSec: 0.001, Burst: 1})
	send(t, hs, "public_security", q("e3"), nil)
	resp, _ := send(t, hs, "public_security", q("e4"), nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("rate limit: %d", resp.StatusCode)
	}
	_ = s.SetFaults("public_security", Faults{LatencyMS: 150})
	t0 := time.Now()
	if resp, _ := send(t, hs, "public_security", q("e5"), nil); resp.StatusCode != 200 || time.Since(t0) < 150*time.Millisecond {
		t.Fatalf("latency: %d after %s", resp.StatusCode, time.Since(t0))
	}
	// Other agencies are not affected.
	if resp, _ := send(t, hs, "tax", q("e6"), nil); resp.StatusCode != 200 {
		t.Fatalf("tax: %d", resp.StatusCode)
	}
}

func TestAdminEndpointChangesFaultsWhileRunning(t *testing.T) {
	_, hs := setup(t)
	put := func(key, body string) int {
		req, _ := http.NewRequest("PUT", hs.URL+"/admin/agencies/public_security", strings.NewReader(body))
		req.Header.Set("X-Admin-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := put("wrong", `{"down": true}`); c != 401 {
		t.Fatalf("wrong admin key: %d", c)
	}
	if c := put("admin-secret", `{"error_rate": 2}`); c != 400 {
		t.Fatalf("invalid faults: %d", c)
	}
	if c := put("admin-secret", `{"down": true}`); c != 204 {
		t.Fatalf("set: %d", c)
	}
	resp, err := http.Get(hs.URL + "/v1/public_security/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("health while down: %d", resp.StatusCode)
	}
}
