// Package agencysim plays the partner agencies (委办局) for the demo, the
// tests and load runs: one HTTP server that answers the cross-check wire
// contract of docs/agencies.md (package agency) from the agencies' own
// records that `jifen synth` wrote, with per-agency latency, errors,
// timeouts, outages and rate limits that can be set at start and changed
// while it runs.
package agencysim

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"jifen/internal/agency"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
)

// Server is the simulator.
type Server struct {
	db       *db.DB
	key      []byte
	adminKey string
	now      func() time.Time
	log      *slog.Logger

	agencies map[string]*agencyState
	mu       sync.Mutex
	seen     map[string]seenAnswer // request id → answer (idempotency)
	rng      *rand.Rand
}

type seenAnswer struct {
	at   time.Time
	body []byte
}

// New returns a simulator reading the agencies' records from d. key signs
// the clients' requests; adminKey guards the settings endpoint.
func New(d *db.DB, key []byte, adminKey string, log *slog.Logger) *Server {
	s := &Server{db: d, key: key, adminKey: adminKey, now: time.Now, log: log, agencies: map[string]*agencyState{},
		seen: map[string]seenAnswer{}, rng: rand.New(rand.NewPCG(1, 2))}
	for _, a := range agency.Codes() {
		s.agencies[a] = &agencyState{}
	}
	return s
}

// SetFaults sets the faults of one agency ("*" for all).
func (s *Server) SetFaults(code string, f Faults) error {
	if code == "*" {
		for _, a := range s.agencies {
			a.set(f)
		}
		return nil
	}
	a, ok := s.agencies[code]
	if !ok {
		return errors.New("unknown agency " + code)
	}
	a.set(f)
	return nil
}

// Handler serves the contract and the admin endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/{agency}/query", s.query)
	mux.HandleFunc("GET /v1/{agency}/health", s.health)
	mux.HandleFunc("GET /admin/agencies", s.adminList)
	mux.HandleFunc("PUT /admin/agencies/{agency}", s.adminSet)
	return mux
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	var b agency.ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(b)
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("agency")
	st, ok := s.agencies[name]
	if !ok {
		writeErr(w, http.StatusNotFound, "unknown_agency", "no such agency")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, "too_large", "body over 1 MiB")
		return
	}
	now := s.now()
	ts, fresh := agency.Fresh(r.Header.Get(agency.HeaderTimestamp), now)
	if !fresh {
		writeErr(w, http.StatusUnauthorized, "stale_timestamp", "timestamp missing or outside the replay window")
		return
	}
	if !agency.Verify(s.key, r.Method, r.URL.Path, ts, body, r.Header.Get(agency.HeaderSignature)) {
		writeErr(w, http.StatusUnauthorized, "bad_signature", "signature does not match")
		return
	}
	var q agency.Query
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil || q.RequestID == "" || len(q.Subjects) == 0 || len(q.Subjects) > agency.MaxBatch {
		writeErr(w, http.StatusBadRequest, "bad_request", "need request_id and 1–500 subjects")
		return
	}
	key := name + "/" + q.RequestID
	s.mu.Lock()
	prev, dup := s.seen[key]
	s.mu.Unlock()
	if dup {
		// The same request id gets the same answer: a retried query is
		// harmless.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(agency.HeaderReplayed, "true")
		_, _ = w.Write(prev.body)
		return
	}
	s.mu.Lock()
	d, delay := st.decide(now, s.rng)
	s.mu.Unlock()
	if !s.sleep(r.Context(), delay) {
		return
	}
	switch d {
	case outage:
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "agency system is down")
		return
	case limited:
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusTooManyRequests, "rate_limited", "too many requests")
		return
	case fail:
		writeErr(w, http.StatusInternalServerError, "internal", "injected failure")
		return
	case hang:
		<-r.Context().Done()
		return
	case malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"request_id": "` + q.RequestID + `", "results": [{"subj`))
		return
	}
	ans, err := s.lookup(r.Context(), name, q)
	if err != nil {
		s.log.Error("agencysim lookup", "err", err)
		writeErr(w, http.StatusInternalServerError, "internal", "lookup failed")
		return
	}
	out, _ := json.Marshal(ans)
	s.mu.Lock()
	s.seen[key] = seenAnswer{at: now, body: out}
	for k, v := range s.seen {
		if now.Sub(v.at) > 10*time.Minute {
			delete(s.seen, k)
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) lookup(ctx context.Context, code string, q agency.Query) (agency.Answer, error) {
	ans := agency.Answer{RequestID: q.RequestID, Agency: code, Results: make([]agency.Result, 0, len(q.Subjects))}
	for _, subj := range q.Subjects {
		var payload string
		err := s.db.QueryRow(ctx, `SELECT payload FROM agency_records WHERE agency = $1 AND subject = $2`,
			code, crypto.SM3Hex([]byte(subj))).Scan(&payload)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			ans.Results = append(ans.Results, agency.Result{Subject: subj})
		case err != nil:
			return ans, err
		default:
			ans.Results = append(ans.Results, agency.Result{Subject: subj, Found: true, Record: json.RawMessage(payload)})
		}
	}
	return ans, nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	st, ok := s.agencies[r.PathValue("agency")]
	if !ok {
		writeErr(w, http.StatusNotFound, "unknown_agency", "no such agency")
		return
	}
	f := st.get()
	now := s.now()
	if f.Down || (!f.DownFrom.IsZero() && !now.Before(f.DownFrom) && now.Before(f.DownUntil)) {
		writeErr(w, http.StatusServiceUnavailable, "unavailable", "agency system is down")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

func (s *Server) admin(w http.ResponseWriter, r *http.Request) bool {
	if s.adminKey == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Admin-Key")), []byte(s.adminKey)) != 1 {
		writeErr(w, http.StatusUnauthorized, "unauthorized", "admin key required")
		return false
	}
	return true
}

func (s *Server) adminList(w http.ResponseWriter, r *http.Request) {
	if !s.admin(w, r) {
		return
	}
	out := map[string]any{}
	for _, name := range agency.Codes() {
		st := s.agencies[name]
		st.mu.Lock()
		out[name] = map[string]any{"faults": st.faults, "calls": st.calls}
		st.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) adminSet(w http.ResponseWriter, r *http.Request) {
	if !s.admin(w, r) {
		return
	}
	var f Faults
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || f.ErrorRate < 0 || f.TimeoutRate < 0 || f.MalformedRate < 0 || f.ErrorRate+f.TimeoutRate+f.MalformedRate > 1 ||
		f.LatencyMS < 0 || f.JitterMS < 0 || f.RatePerSec < 0 {
		writeErr(w, http.StatusBadRequest, "bad_request", "invalid faults")
		return
	}
	name := r.PathValue("agency")
	if name != "*" && !agency.Known(name) {
		writeErr(w, http.StatusNotFound, "unknown_agency", "no such agency")
		return
	}
	_ = s.SetFaults(name, f)
	w.WriteHeader(http.StatusNoContent)
}
