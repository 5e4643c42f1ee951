// Package check is the cross-check system (业务比对): it asks the partner
// agencies about every submitted application through their connectors,
// compares what they hold with what was declared, scores the verified facts
// and produces the first-round result; what does not match goes to the
// discrepancy queue. The work is batch jobs on the one durable job
// mechanism (platform/jobs, River), so an outage or a crash loses nothing
// and the work resumes by itself.
package check

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/discrepancy"
	"jifen/internal/employer"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
)

// Engine runs checks.
type Engine struct {
	db    *db.DB
	keys  *crypto.Keyring
	conn  *Connectors
	clock clock.Clock
	audit *audit.Log
	log   *slog.Logger

	// BatchSize is how many applications one job carries.
	BatchSize int
	// Workers is how many queries to each agency one process runs at once,
	// and how many batches it scores at once (SetWorkers).
	Workers int
	// StopGrace is how long Work lets running jobs finish when it stops.
	StopGrace time.Duration
	// WaitBase is the first wait before an agency that failed a job is tried
	// again; it doubles up to WaitMax.
	WaitBase, WaitMax time.Duration
	// PrecheckPerDay is how many pre-checks one person may ask for in a
	// Beijing day (0: DefaultPrecheckPerDay).
	PrecheckPerDay int
	shapesMu       sync.Mutex
	shapes         map[int64]*runShape

	own  Owners
	jobs *jobs.Jobs
}

// Owners are the services that own the tables the cross-check changes
// besides its own (docs/ARCHITECTURE.md, "Who writes which table"): the
// engine decides, they write — with their own rules, timeline and mail.
type Owners struct {
	Applications  *application.Service
	Discrepancies *discrepancy.Service
	Employers     *employer.Service
}

// New returns an engine whose jobs run on j (it registers its kinds and
// queues there).
func New(d *db.DB, keys *crypto.Keyring, conn *Connectors, c clock.Clock, a *audit.Log, log *slog.Logger, own Owners, j *jobs.Jobs) *Engine {
	e := &Engine{db: d, keys: keys, conn: conn, clock: c, audit: a, log: log, own: own, jobs: j,
		BatchSize: 250, Workers: 8, StopGrace: 10 * time.Second, WaitBase: 15 * time.Second, WaitMax: 10 * time.Minute, shapes: map[int64]*runShape{}}
	e.register()
	return e
}

// Connectors returns the engine's connectors.
func (e *Engine) Connectors() *Connectors { return e.conn }

func (e *Engine) audited(ctx context.Context, a actor.Actor, action, objType, objID, reason string) error {
	return e.audit.Record(ctx, audit.Entry{ActorID: a.UserID, ActorLogin: a.Login, ActorRole: string(a.Role()), ClientAddr: a.ClientAddr,
		Action: action, ObjectType: objType, ObjectID: objID, Outcome: "success", Reason: reason})
}

// each runs a query and calls scan for every row, closing the rows.
func (e *Engine) each(ctx context.Context, q string, args []any, scan func(rows *sql.Rows) error) error {
	rows, err := e.db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
