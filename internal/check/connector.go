package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"jifen/internal/agency"
	"jifen/internal/agencyops"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/retry"
)

// KeySource returns the shared signing key of an agency.
type KeySource func(ctx context.Context, agency string) ([]byte, error)

// CallMeta is what the call log records of a query besides the call itself.
type CallMeta struct {
	RunID, JobID   int64
	AppFrom, AppTo int64
	Kind           string // query | probe | employer | identity
}

// Answer is an agency's answer for one subject.
type Answer struct {
	Found  bool            `json:"found"`
	Record json.RawMessage `json:"record,omitempty"`
}

// Errors of a query that the caller tells apart.
var (
	// ErrDisabled: the connector is switched off in the office; the work
	// waits until it is switched on.
	ErrDisabled = errors.New("connector disabled")
	// ErrRejected: the agency refused the request itself (signature,
	// timestamp, malformed request); retrying the same request cannot help,
	// but the work still waits and is tried again after the settings are
	// fixed.
	ErrRejected = errors.New("request rejected by the agency")
)

// WaitError is a query that was not answered because the agency cannot be
// asked now: its circuit breaker is open (the agency is down as a whole) or
// it answered 429 (busy). Nothing is wrong with the work itself, so the
// caller puts it back until Until without counting an attempt.
type WaitError struct {
	Until  time.Time
	Reason string // breaker | rate_limited
	Cause  error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("waiting for the agency (%s) until %s: %v", e.Reason, e.Until.Format(time.TimeOnly), e.Cause)
}

func (e *WaitError) Unwrap() error { return e.Cause }

// callError is a failed call with its class for the log and the retry
// decision.
type callError struct {
	status     string // error | timeout | rate_limited | unavailable | rejected
	httpStatus int
	retryAfter time.Duration
	msg        string
}

func (e *callError) Error() string { return e.status + ": " + e.msg }

func (e *callError) retryable() bool { return e.status != "rejected" }

// Connectors calls the agencies: signing, timeouts, retries with
// exponential backoff and jitter (honouring Retry-After), a circuit breaker
// per agency, and the shared rate limit. Every HTTP call is written to the
// call log.
type Connectors struct {
	db     *db.DB
	store  *agencyops.Store
	keys   KeySource
	http   *http.Client
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	random func() float64

	mu       sync.Mutex
	breakers map[string]*gobreaker.CircuitBreaker[map[string]Answer]
	openedAt map[string]time.Time // when each open breaker opened
	cache    map[string]cachedConnector
	// BreakerTimeout is how long an open breaker refuses calls before it
	// lets one through (half-open). Work refused meanwhile waits exactly
	// this long, so it is also how late the work resumes after an outage.
	BreakerTimeout time.Duration
	// ProbeWait is how long work refused during the half-open probe waits
	// for the probe's outcome.
	ProbeWait time.Duration
	// BreakerFailures is how many failures in a row open the breaker.
	BreakerFailures uint32
	// MaxBackoff caps the wait between retries.
	MaxBackoff time.Duration
}

type cachedConnector struct {
	c  agencyops.Connector
	at time.Time
}

// NewConnectors returns the agencies' connectors on d.
func NewConnectors(d *db.DB, keys KeySource) *Connectors {
	return &Connectors{db: d, store: agencyops.NewStore(d), keys: keys, now: time.Now,
		http:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 90 * time.Second}},
		sleep:    clock.Sleep,
		random:   rand.Float64,
		breakers: map[string]*gobreaker.CircuitBreaker[map[string]Answer]{}, cache: map[string]cachedConnector{},
		openedAt:       map[string]time.Time{},
		BreakerTimeout: 10 * time.Second, ProbeWait: time.Second, BreakerFailures: 5, MaxBackoff: 5 * time.Second}
}

// Get returns an agency's connector settings, cached for five seconds so a
// change in the office reaches every worker quickly.
func (c *Connectors) Get(ctx context.Context, agency string) (agencyops.Connector, error) {
	c.mu.Lock()
	if cc, ok := c.cache[agency]; ok && c.now().Sub(cc.at) < 5*time.Second {
		c.mu.Unlock()
		return cc.c, nil
	}
	c.mu.Unlock()
	k, err := c.store.Connector(ctx, agency)
	if err != nil {
		return agencyops.Connector{}, fmt.Errorf("connector %s: %w", agency, err)
	}
	c.mu.Lock()
	c.cache[agency] = cachedConnector{k, c.now()}
	c.mu.Unlock()
	return k, nil
}

// Forget drops the cached settings (after a change in the office).
func (c *Connectors) Forget() {
	c.mu.Lock()
	clear(c.cache)
	c.mu.Unlock()
}

func (c *Connectors) breaker(agency string) *gobreaker.CircuitBreaker[map[string]Answer] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.breakers[agency]; ok {
		return b
	}
	b := gobreaker.NewCircuitBreaker[map[string]Answer](gobreaker.Settings{
		Name:        agency,
		MaxRequests: 1,
		Timeout:     c.BreakerTimeout,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= c.BreakerFailures },
		// A 429 is an agency that is up and busy: the backoff handles it.
		IsSuccessful: func(err error) bool {
			var ce *callError
			return err == nil || (errors.As(err, &ce) && ce.status == "rate_limited")
		},
		// Our own cancellation says nothing about the agency.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(name string, _, to gobreaker.State) {
			now := c.now()
			c.mu.Lock()
			if to == gobreaker.StateOpen {
				c.openedAt[name] = now
			} else {
				delete(c.openedAt, name)
			}
			c.mu.Unlock()
			// Recorded for the console and for every process's queue, which
			// hands out none of the agency's work while it is not closed; a
			// failure to record must not stop the call.
			_ = c.store.RecordBreaker(context.Background(), name, to.String(), now)
		},
	})
	c.breakers[agency] = b
	return b
}

// waitFor is the WaitError of an agency whose breaker refused a call or
// opened on one: work waits until the breaker lets a probe through, or,
// while the probe is under way, until its outcome is known.
func (c *Connectors) waitFor(agency string, cause error) *WaitError {
	now := c.now()
	until := now.Add(c.ProbeWait)
	c.mu.Lock()
	if at, ok := c.openedAt[agency]; ok && at.Add(c.BreakerTimeout).After(until) {
		until = at.Add(c.BreakerTimeout)
	}
	c.mu.Unlock()
	return &WaitError{Until: until, Reason: "breaker", Cause: cause}
}

// BreakerState is the state of an agency's breaker in this process.
func (c *Connectors) BreakerState(agency string) string { return c.breaker(agency).State().String() }

// Query asks an agency about subjects (at most the connector's batch size
// per call; longer lists are split) with a request id that stays the same
// across retries, so the agency's idempotency makes a retried call harmless.
// It retries timeouts, 5xx and 429 with backoff; it returns an error when
// the retries are exhausted or the agency rejected the request, and a
// *WaitError when the breaker is open (or opened on this query's failures)
// or the last answer was a 429.
func (c *Connectors) Query(ctx context.Context, agency, requestID string, subjects []string, meta CallMeta) (map[string]Answer, error) {
	k, err := c.Get(ctx, agency)
	if err != nil {
		return nil, err
	}
	if !k.Enabled {
		return nil, ErrDisabled
	}
	out := make(map[string]Answer, len(subjects))
	for i, part := 0, 0; i < len(subjects); i, part = i+k.BatchSize, part+1 {
		chunk := subjects[i:min(i+k.BatchSize, len(subjects))]
		id := requestID
		if len(subjects) > k.BatchSize {
			id = fmt.Sprintf("%s-p%d", requestID, part)
		}
		ans, err := c.queryChunk(ctx, k, id, chunk, meta)
		if err != nil {
			return nil, err
		}
		for s, a := range ans {
			out[s] = a
		}
	}
	return out, nil
}

func (c *Connectors) queryChunk(ctx context.Context, k agencyops.Connector, requestID string, subjects []string, meta CallMeta) (map[string]Answer, error) {
	body, _ := json.Marshal(agency.Query{RequestID: requestID, Subjects: subjects})
	br := c.breaker(k.Agency)
	var last error
	for attempt := 0; attempt <= k.Retries; attempt++ {
		ans, err := br.Execute(func() (map[string]Answer, error) {
			return c.call(ctx, k, body, subjects, meta, attempt)
		})
		if err == nil {
			return ans, nil
		}
		last = err
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return nil, c.waitFor(k.Agency, fmt.Errorf("%s: circuit breaker open: %w", k.Agency, err))
		}
		var ce *callError
		if errors.As(err, &ce) && !ce.retryable() {
			return nil, fmt.Errorf("%w: %s", ErrRejected, ce.msg)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// This failure opened the breaker (or was the half-open probe's):
		// the agency is down as a whole and the breaker, not this query's
		// retries, decides when it is asked again.
		if br.State() == gobreaker.StateOpen {
			return nil, c.waitFor(k.Agency, err)
		}
		if attempt == k.Retries {
			// Busy to the end: the agency said when to come back.
			if ce != nil && ce.status == "rate_limited" {
				return nil, &WaitError{Until: c.now().Add(max(ce.retryAfter, time.Second)), Reason: "rate_limited", Cause: err}
			}
			break
		}
		wait := c.backoff().Wait(attempt + 1)
		if ce != nil && ce.retryAfter > wait {
			wait = ce.retryAfter
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	return nil, last
}

// backoff is the wait between attempts of one call: exponential from 200 ms
// with full jitter, capped at MaxBackoff. The call is short and the same
// request is repeated, so spreading the retries fully matters more than
// waiting at least a minimum.
func (c *Connectors) backoff() retry.Backoff {
	return retry.Backoff{Base: 200 * time.Millisecond, Max: c.MaxBackoff, Jitter: 1, Rand: c.random}
}

// reserve takes the agency's next call slot in the database (GCRA: each
// call moves next_slot on by 1/rate), so the rate holds across every process
// that calls the agency, and waits for it.
func (c *Connectors) reserve(ctx context.Context, k agencyops.Connector) error {
	now := c.now()
	slot, err := c.store.ReserveSlot(ctx, k.Agency, now, time.Second/time.Duration(k.RatePerSec))
	if err != nil {
		return err
	}
	return c.sleep(ctx, slot.Sub(now))
}

func (c *Connectors) call(ctx context.Context, k agencyops.Connector, body []byte, subjects []string, meta CallMeta, attempt int) (map[string]Answer, error) {
	if err := c.reserve(ctx, k); err != nil {
		return nil, err
	}
	key, err := c.keys(ctx, k.Agency)
	if err != nil {
		return nil, err
	}
	path := agency.QueryPath(k.Agency)
	ts := c.now().Unix()
	cctx, cancel := context.WithTimeout(ctx, k.Timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, strings.TrimRight(k.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, &callError{status: "rejected", msg: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	agency.Sign(req.Header, key, http.MethodPost, path, ts, body)
	start := time.Now()
	resp, err := c.http.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		_ = resp.Body.Close()
	}
	latency := time.Since(start)
	ans, cerr := classify(ctx, resp, raw, err, subjects)
	rec := callRecord{meta: meta, agency: k.Agency, subjects: len(subjects), attempt: attempt, latency: latency, status: "ok"}
	if resp != nil {
		rec.httpStatus = resp.StatusCode
	}
	if cerr != nil {
		rec.status, rec.err = cerr.status, cerr.msg
	} else {
		rec.digest = crypto.SM3Hex(raw)
	}
	c.log(ctx, rec)
	if cerr != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if cerr != nil {
		return nil, cerr
	}
	return ans, nil
}

// classify turns an HTTP exchange into answers or a classified error.
func classify(ctx context.Context, resp *http.Response, raw []byte, err error, subjects []string) (map[string]Answer, *callError) {
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			if ctx.Err() != nil {
				return nil, &callError{status: "error", msg: "cancelled: " + ctx.Err().Error()}
			}
			return nil, &callError{status: "timeout", msg: "no answer within the timeout"}
		}
		return nil, &callError{status: "unavailable", msg: err.Error()}
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		ra := time.Second
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n >= 0 && n <= 600 {
			ra = time.Duration(n) * time.Second
		}
		return nil, &callError{status: "rate_limited", httpStatus: s, retryAfter: ra, msg: "429 " + errCode(raw)}
	case s == http.StatusServiceUnavailable:
		return nil, &callError{status: "unavailable", httpStatus: s, msg: "503 " + errCode(raw)}
	case s >= 500:
		return nil, &callError{status: "error", httpStatus: s, msg: strconv.Itoa(s) + " " + errCode(raw)}
	case s != http.StatusOK:
		return nil, &callError{status: "rejected", httpStatus: s, msg: strconv.Itoa(s) + " " + errCode(raw)}
	}
	var a agency.Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, &callError{status: "error", httpStatus: resp.StatusCode, msg: "malformed answer: " + err.Error()}
	}
	out := make(map[string]Answer, len(a.Results))
	for _, r := range a.Results {
		out[r.Subject] = Answer{Found: r.Found, Record: r.Record}
	}
	for _, s := range subjects {
		if _, ok := out[s]; !ok {
			return nil, &callError{status: "error", httpStatus: resp.StatusCode, msg: "answer misses a subject"}
		}
	}
	return out, nil
}

func errCode(raw []byte) string {
	var e agency.ErrorBody
	if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
		return e.Error.Code
	}
	return "(no error body)"
}

type callRecord struct {
	meta       CallMeta
	agency     string
	subjects   int
	attempt    int
	latency    time.Duration
	httpStatus int
	status     string
	err        string
	digest     string
}

// log writes one call to the call log, and the agency's last error. It
// runs outside any transaction: the call happened whatever becomes of the
// job.
func (c *Connectors) log(ctx context.Context, r callRecord) {
	ctx = context.WithoutCancel(ctx)
	now := db.Micros(c.now())
	kind := r.meta.Kind
	if kind == "" {
		kind = "query"
	}
	_ = c.store.LogCall(ctx, agencyops.CallRecord{At: db.FromMicros(now), Agency: r.agency, Kind: kind, RunID: r.meta.RunID,
		JobID: r.meta.JobID, AppFrom: r.meta.AppFrom, AppTo: r.meta.AppTo, Subjects: r.subjects, Attempt: r.attempt,
		Latency: r.latency, HTTPStatus: r.httpStatus, Status: r.status, Error: truncate(r.err, 300), Digest: r.digest})
	if r.status != "ok" {
		_ = c.store.RecordError(ctx, r.agency, truncate(r.status+": "+r.err, 300), db.FromMicros(now))
	}
}

// Probe asks an agency's health endpoint and records the answer.
func (c *Connectors) Probe(ctx context.Context, agency string) error {
	k, err := c.Get(ctx, agency)
	if err != nil || !k.Enabled {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, min(k.Timeout(), 5*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, strings.TrimRight(k.BaseURL, "/")+"/v1/"+agency+"/health", nil)
	if err != nil {
		return err
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	rec := callRecord{meta: CallMeta{Kind: "probe"}, agency: agency, status: "ok"}
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		rec.httpStatus = resp.StatusCode
		if resp.StatusCode != http.StatusOK {
			rec.status, rec.err = "unavailable", "health "+strconv.Itoa(resp.StatusCode)
		}
	} else {
		rec.status, rec.err = "unavailable", err.Error()
		if cctx.Err() != nil {
			rec.status = "timeout"
		}
	}
	rec.latency = time.Since(start)
	c.log(ctx, rec)
	ok := rec.status == "ok"
	return c.store.RecordProbe(ctx, agency, ok, c.now())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
