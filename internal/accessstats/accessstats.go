// Package accessstats counts the internet listener's traffic (访问指标统计):
// page views per route pattern, unique visitors, searches and whether they
// found something, response times, errors and objections lodged. Counting
// happens in memory; Flush adds the counts of each minute to the table
// access_minutes (one row per minute and route pattern), so the database
// never sees a row per request, and two processes' flushes add up.
//
// A unique visitor is an HMAC-SHA256 of the client address and user agent
// under a random salt that lives only in memory and changes every Beijing
// day: the address is never stored, and a hash of one day cannot be linked
// to the next. The set of hashes seen today is kept in memory (bounded);
// only counts leave the process.
package accessstats

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"sync"
	"time"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/web"
)

// SitePage is the page of the rows that hold site-wide counts (visitors).
const SitePage = "*"

// Objection is the kind counted when an objection (异议/举报) is lodged.
const Objection = "objection"

// Bounds are the upper bounds in milliseconds of the response-time
// histogram's buckets; a last bucket holds the slower requests. They are
// fine at the low end because the public list must answer within 20 ms.
var Bounds = [...]int64{5, 10, 25, 50, 100, 250, 1000}

// MaxVisitors bounds the set of visitor hashes kept for one day (8 bytes
// and a map entry each). Past it, new visitors of that day are not counted:
// the count is then a lower bound, while memory stays bounded.
const MaxVisitors = 200_000

// counters are one (minute, page) cell.
type counters struct {
	Views, VisitorsHour, VisitorsDay, Searches, Found, Err4xx, Err5xx, Objections, TotalMS int64
	Lat                                                                                    [len(Bounds) + 1]int64
}

func (c *counters) add(o *counters) {
	c.Views += o.Views
	c.VisitorsHour += o.VisitorsHour
	c.VisitorsDay += o.VisitorsDay
	c.Searches += o.Searches
	c.Found += o.Found
	c.Err4xx += o.Err4xx
	c.Err5xx += o.Err5xx
	c.Objections += o.Objections
	c.TotalMS += o.TotalMS
	for i := range c.Lat {
		c.Lat[i] += o.Lat[i]
	}
}

type key struct {
	minute int64
	page   string
}

// Stats counts requests in memory, flushes them, and reads the aggregates.
type Stats struct {
	db    *db.DB
	clock clock.Clock

	mu      sync.Mutex
	pending map[key]*counters
	day     int64  // the Beijing day of salt and seen
	salt    []byte // random, in memory only
	seen    map[uint64]int64
}

// New returns the statistics of one process.
func New(d *db.DB, c clock.Clock) *Stats {
	return &Stats{db: d, clock: c, pending: map[key]*counters{}}
}

// request is what a handler reports about its own request (Search, Count).
// A handler writes it before returning, in the request's goroutine.
type request struct {
	searched, found bool
	objections      int64
}

type ctxKey struct{}

// Search records that the request in ctx was a search and whether it found
// something. Outside a counted request (the office, a test) it does nothing.
func Search(ctx context.Context, found bool) {
	if r, ok := ctx.Value(ctxKey{}).(*request); ok {
		r.searched, r.found = true, found
	}
}

// Count records an event of kind (Objection) on the request in ctx; other
// kinds are ignored. Call it once the event has happened (the objection is
// stored), not when it is attempted.
func Count(ctx context.Context, kind string) {
	if r, ok := ctx.Value(ctxKey{}).(*request); ok && kind == Objection {
		r.objections++
	}
}

// Middleware counts every request of the handler it wraps by route
// pattern (never the path, which may carry a token). It must run inside
// web.WithRequest, which resolves the client address and the route holder.
// Static assets are not page views and are left out.
func (s *Stats) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		req := &request{}
		cw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, req)))
		route := web.Route(r.Context())
		if route == "GET /static/" {
			return
		}
		s.record(route, cw.code, time.Since(start), req, web.ClientAddr(r.Context()), r.UserAgent())
	})
}

func (s *Stats) record(route string, code int, took time.Duration, req *request, addr, ua string) {
	now := s.clock.Now()
	minute := now.Unix() / 60
	hour, day := minute/60, (minute+8*60)/(24*60) // Beijing day: UTC+8, no summer time
	ms := took.Milliseconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cell(minute, route)
	c.Views++
	c.TotalMS += ms
	c.Lat[bucket(ms)]++
	switch {
	case code >= 500:
		c.Err5xx++
	case code >= 400:
		c.Err4xx++
	}
	if req.searched {
		c.Searches++
		if req.found {
			c.Found++
		}
	}
	c.Objections += req.objections
	s.visitor(minute, hour, day, addr, ua)
}

// visitor counts the client as a visitor of this hour and of this day if
// it was not seen in them yet. Called with mu held.
func (s *Stats) visitor(minute, hour, day int64, addr, ua string) {
	if day != s.day || s.salt == nil {
		s.day, s.salt, s.seen = day, newSalt(), map[uint64]int64{}
	}
	h := Hash(s.salt, addr, ua)
	last, ok := s.seen[h]
	switch {
	case !ok && len(s.seen) >= MaxVisitors:
		return
	case !ok:
		site := s.cell(minute, SitePage)
		site.VisitorsDay++
		site.VisitorsHour++
	case last != hour:
		s.cell(minute, SitePage).VisitorsHour++
	default:
		return
	}
	s.seen[h] = hour
}

func (s *Stats) cell(minute int64, page string) *counters {
	k := key{minute, page}
	c := s.pending[k]
	if c == nil {
		c = &counters{}
		s.pending[k] = c
	}
	return c
}

func newSalt() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// Hash is a visitor's identity under a day's salt: the first 8 bytes of
// HMAC-SHA256(salt, address NUL user agent).
func Hash(salt []byte, addr, ua string) uint64 {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(addr))
	m.Write([]byte{0})
	m.Write([]byte(ua))
	return binary.BigEndian.Uint64(m.Sum(nil))
}

func bucket(ms int64) int {
	for i, b := range Bounds {
		if ms <= b {
			return i
		}
	}
	return len(Bounds)
}

// codeWriter records the status of a response.
type codeWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *codeWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Pending reports how many (minute, page) cells wait for the next flush.
func (s *Stats) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Flush adds the counts gathered since the last flush to access_minutes,
// one upsert per (minute, page), in one transaction. On failure the counts
// are kept for the next flush, so a database outage loses nothing while the
// process lives.
func (s *Stats) Flush(ctx context.Context) error {
	s.mu.Lock()
	batch := s.pending
	s.pending = map[key]*counters{}
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		for k, c := range batch {
			l := c.Lat
			if _, err := s.db.Exec(ctx, `INSERT INTO access_minutes (minute, page, views, visitors_hour, visitors_day,
				searches, searches_found, errors_4xx, errors_5xx, objections, total_ms,
				lat_5, lat_10, lat_25, lat_50, lat_100, lat_250, lat_1000, lat_slow)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
				ON CONFLICT (minute, page) DO UPDATE SET
				views = access_minutes.views + excluded.views,
				visitors_hour = access_minutes.visitors_hour + excluded.visitors_hour,
				visitors_day = access_minutes.visitors_day + excluded.visitors_day,
				searches = access_minutes.searches + excluded.searches,
				searches_found = access_minutes.searches_found + excluded.searches_found,
				errors_4xx = access_minutes.errors_4xx + excluded.errors_4xx,
				errors_5xx = access_minutes.errors_5xx + excluded.errors_5xx,
				objections = access_minutes.objections + excluded.objections,
				total_ms = access_minutes.total_ms + excluded.total_ms,
				lat_5 = access_minutes.lat_5 + excluded.lat_5,
				lat_10 = access_minutes.lat_10 + excluded.lat_10,
				lat_25 = access_minutes.lat_25 + excluded.lat_25,
				lat_50 = access_minutes.lat_50 + excluded.lat_50,
				lat_100 = access_minutes.lat_100 + excluded.lat_100,
				lat_250 = access_minutes.lat_250 + excluded.lat_250,
				lat_1000 = access_minutes.lat_1000 + excluded.lat_1000,
				lat_slow = access_minutes.lat_slow + excluded.lat_slow`,
				k.minute, k.page, c.Views, c.VisitorsHour, c.VisitorsDay, c.Searches, c.Found, c.Err4xx, c.Err5xx,
				c.Objections, c.TotalMS, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.mu.Lock()
		for k, c := range batch {
			s.cell(k.minute, k.page).add(c)
		}
		s.mu.Unlock()
	}
	return err
}

// RunFlusher flushes every interval until ctx ends, and once more then
// (with a fresh context: the process is stopping, the database still open).
func (s *Stats) RunFlusher(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Flush(fctx); err != nil {
				onErr(err)
			}
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}
