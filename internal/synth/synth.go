// Package synth fills a database with a consistent synthetic population:
// employers with operators, applicants with accounts, employer links,
// applications in every state with their timelines — and the partner
// agencies' own records of the same people, with a chosen rate of
// deliberate discrepancies for the cross-check to find. It is deterministic
// for a seed and writes in large multi-row batches inside big transactions.
package synth

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
)

// Password is the one documented password of every synthetic account.
const Password = "Synth#2026-jifen"

// Config says what to generate.
type Config struct {
	People           int
	Employers        int
	Seed             uint64
	Discrepancy      float64 // share of applications that misstate one indicator
	RoundID          int64
	Year             int
	PasswordHash     string // argon2id hash of Password, computed once
	Now              time.Time
	Progress         io.Writer // a progress bar; nil for none
	EmployerVerified float64   // share of employers verified (default 0.95)
	// ReadyToRank makes every filed application final with its verified
	// score, so the round can be frozen and ranked at once.
	ReadyToRank bool
}

// Result counts what was written.
type Result struct {
	Employers, Operators, People, Links, Applications, Events, AgencyRecords int
	Elapsed                                                                  time.Duration
}

// Generator writes one population.
type Generator struct {
	db   *db.DB
	keys *crypto.Keyring
	cfg  Config
	bar  *progress
	base ids
	emps []empInfo
}

type ids struct{ user, employer, person, link, app, event int64 }

type empInfo struct {
	id       int64
	district string
	code     string
	verified bool
}

// New returns a generator.
func New(d *db.DB, keys *crypto.Keyring, cfg Config) *Generator {
	if cfg.EmployerVerified == 0 {
		cfg.EmployerVerified = 0.95
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now().UTC()
	}
	return &Generator{db: d, keys: keys, cfg: cfg}
}

// Run generates everything.
func (g *Generator) Run(ctx context.Context) (Result, error) {
	start := time.Now()
	var res Result
	if g.cfg.People < 0 || g.cfg.Employers <= 0 || g.cfg.RoundID == 0 || g.cfg.PasswordHash == "" {
		return res, fmt.Errorf("synth: need employers > 0, a round and a password hash")
	}
	if err := g.loadBase(ctx); err != nil {
		return res, err
	}
	// Generated data can be generated again: on SQLite the load syncs at
	// checkpoints only.
	restore, err := g.db.FastLoad(ctx)
	if err != nil {
		return res, err
	}
	defer restore()
	g.bar = newProgress(g.cfg.Progress, g.cfg.Employers+g.cfg.People)
	if err := g.employers(ctx, &res); err != nil {
		return res, err
	}
	if err := g.people(ctx, &res); err != nil {
		return res, err
	}
	if err := g.fixSequences(ctx); err != nil {
		return res, err
	}
	// A bulk load leaves PostgreSQL without statistics: plan on the
	// population as it now is.
	if err := g.db.Analyze(ctx); err != nil {
		return res, err
	}
	g.bar.done()
	res.Elapsed = time.Since(start)
	return res, nil
}

func (g *Generator) loadBase(ctx context.Context) error {
	for _, t := range []struct {
		table string
		dst   *int64
	}{{"users", &g.base.user}, {"employers", &g.base.employer}, {"persons", &g.base.person},
		{"employer_links", &g.base.link}, {"applications", &g.base.app}, {"application_events", &g.base.event}} {
		var m int64
		if err := g.db.QueryRow(ctx, `SELECT COALESCE(max(id), 0) FROM `+t.table).Scan(&m); err != nil {
			return fmt.Errorf("synth: %s: %w", t.table, err)
		}
		*t.dst = m + 1
	}
	return nil
}

// fixSequences moves PostgreSQL's identity sequences past the ids synth
// assigned itself, so later inserts do not collide.
func (g *Generator) fixSequences(ctx context.Context) error {
	if err := g.db.ResetIdentity(ctx, "users", "employers", "persons", "employer_links", "applications", "application_events"); err != nil {
		return fmt.Errorf("synth: sequences: %w", err)
	}
	return nil
}

// rng returns the generator for one chunk: the same seed and chunk always
// give the same numbers, whatever the scheduling.
func (g *Generator) rng(stream, chunk uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.cfg.Seed^0x9e3779b97f4a7c15*stream, chunk))
}

// workers is how many goroutines prepare rows while one writes them.
func workers() int { return max(1, runtime.GOMAXPROCS(0)) }

// progress draws a bar on a terminal line.
type progress struct {
	w        io.Writer
	total, n int
	last     time.Time
	start    time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: max(total, 1), start: time.Now()}
}

func (p *progress) add(n int, what string) {
	p.n += n
	if p.w == nil || time.Since(p.last) < 200*time.Millisecond && p.n < p.total {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := p.n * width / p.total
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.w, "\r[%s] %3d%% %-8s %d/%d  %s   ", bar, p.n*100/p.total, what, p.n, p.total,
		time.Since(p.start).Truncate(time.Second))
}

func (p *progress) done() {
	if p.w != nil {
		fmt.Fprintln(p.w)
	}
}
