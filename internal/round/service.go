package round

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// ErrNotFound is the answer for a round that does not exist.
var ErrNotFound = apperr.New(apperr.NotFound, "该年度批次不存在")

// ErrNoRound is the answer of Current when no round has started or is
// scheduled.
var ErrNoRound = apperr.New(apperr.NotFound, "当前没有积分落户年度批次")

// Service keeps the rounds.
type Service struct {
	db    *db.DB
	audit *audit.Log
	clock clock.Clock

	ranking Ranking // the committed ranking's view of the round (freeze.go); may be nil

	mu     sync.Mutex
	cache  map[int64]cachedRound
	list   []*Round
	listAt time.Time
}

// cachedRound is a round as read at a time: RequireOpen runs on every
// action, and a round changes a few times a year.
type cachedRound struct {
	r  *Round
	at time.Time
}

// cacheFor is how long a read round serves RequireOpen. Changes made in
// this process are seen at once; another process sees them within this.
const cacheFor = 5 * time.Second

// NewService returns the round service.
func NewService(d *db.DB, a *audit.Log, c clock.Clock) *Service {
	return &Service{db: d, audit: a, clock: c}
}

// Now is the service's clock reading: the time every window is checked at.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Get returns the round with id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id int64) (*Round, error) {
	rs, err := s.load(ctx, "r.id = $1", id)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, ErrNotFound
	}
	return rs[0], nil
}

// ByYear returns the round of a year, or ErrNotFound.
func (s *Service) ByYear(ctx context.Context, year int) (*Round, error) {
	rs, err := s.load(ctx, "r.year = $1", year)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, ErrNotFound
	}
	return rs[0], nil
}

// List returns every round, the latest year first. There is one round a
// year, so the list stays short and is read in one query.
func (s *Service) List(ctx context.Context) ([]*Round, error) {
	return s.load(ctx, "")
}

// Current returns the round the system works on now: the one of the latest
// year whose first window has opened; failing that, the next one to start.
// It returns ErrNoRound when there is neither.
func (s *Service) Current(ctx context.Context) (*Round, error) {
	rs, err := s.cachedList(ctx)
	if err != nil {
		return nil, err
	}
	if r := current(rs, s.clock.Now()); r != nil {
		return r, nil
	}
	return nil, ErrNoRound
}

// current picks the current round from rs, latest year first.
func current(rs []*Round, now time.Time) *Round {
	var next *Round
	for _, r := range rs {
		starts := r.Starts()
		if starts.IsZero() {
			continue
		}
		if r.Started(now) {
			return r
		}
		if next == nil || starts.Before(next.Starts()) {
			next = r
		}
	}
	return next
}

// RequireOpen returns nil when the window kind of round roundID is open now
// by the service's clock, and otherwise the Conflict error of
// Round.RequireOpen. Every action bound to a window calls it on the server.
// The kind is a plain string so that services which must not import this
// package can take it through a one-method interface.
func (s *Service) RequireOpen(ctx context.Context, roundID int64, kind string) error {
	r, err := s.cached(ctx, roundID)
	if err != nil {
		return err
	}
	return r.RequireOpen(Kind(kind), s.clock.Now())
}

func (s *Service) cached(ctx context.Context, id int64) (*Round, error) {
	s.mu.Lock()
	c, ok := s.cache[id]
	s.mu.Unlock()
	if ok && time.Since(c.at) < cacheFor {
		return c.r, nil
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.cache == nil {
		s.cache = map[int64]cachedRound{}
	}
	s.cache[id] = cachedRound{r: r, at: time.Now()}
	s.mu.Unlock()
	return r, nil
}

// forget drops the cached copies after this process changed a round.
func (s *Service) forget(id int64) {
	s.mu.Lock()
	delete(s.cache, id)
	s.list = nil
	s.mu.Unlock()
}

// cachedList is List for Current, which every portal page asks.
func (s *Service) cachedList(ctx context.Context) ([]*Round, error) {
	s.mu.Lock()
	l, at := s.list, s.listAt
	s.mu.Unlock()
	if l != nil && time.Since(at) < cacheFor {
		return l, nil
	}
	rs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.list, s.listAt = rs, time.Now()
	s.mu.Unlock()
	return rs, nil
}

const roundColumns = `r.id, r.year, r.rulebook, r.quota, r.title, r.created_at, r.updated_at, r.created_by,
	r.frozen_at, r.frozen_by, r.state_version, COALESCE(w.kind, ''), COALESCE(w.opens_at, 0), COALESCE(w.closes_at, 0)`

// load reads the rounds matching where (no WHERE when empty), latest year
// first, each with its windows in procedure order.
func (s *Service) load(ctx context.Context, where string, args ...any) ([]*Round, error) {
	q := `SELECT ` + roundColumns + ` FROM rounds r LEFT JOIN round_windows w ON w.round_id = r.id`
	if where != "" {
		q += " WHERE " + where
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY r.year DESC, r.id`, args...)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("load rounds: %w", err))
	}
	defer rows.Close()
	var out []*Round
	for rows.Next() {
		var r Round
		var created, updated, opens, closes, frozen int64
		var kind string
		if err := rows.Scan(&r.ID, &r.Year, &r.Rulebook, &r.Quota, &r.Title, &created, &updated, &r.CreatedBy,
			&frozen, &r.FrozenBy, &r.StateVersion, &kind, &opens, &closes); err != nil {
			return nil, apperr.Wrap(fmt.Errorf("scan round: %w", err))
		}
		if len(out) == 0 || out[len(out)-1].ID != r.ID {
			r.CreatedAt, r.UpdatedAt = db.FromMicros(created), db.FromMicros(updated)
			if frozen != 0 {
				r.FrozenAt = db.FromMicros(frozen)
			}
			out = append(out, &r)
		}
		if kind != "" {
			last := out[len(out)-1]
			last.Windows = append(last.Windows, Window{Kind: Kind(kind), OpensAt: db.FromMicros(opens), ClosesAt: db.FromMicros(closes)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(fmt.Errorf("load rounds: %w", err))
	}
	for _, r := range out {
		sortWindows(r.Windows)
	}
	return out, nil
}

// sortWindows puts windows in procedure order.
func sortWindows(ws []Window) {
	slices.SortFunc(ws, func(a, b Window) int { return slices.Index(kinds, a.Kind) - slices.Index(kinds, b.Kind) })
}

// IsNotFound reports whether err says a round does not exist (ErrNotFound or
// ErrNoRound).
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoRound) }
