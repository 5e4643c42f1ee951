package backup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"jifen/internal/platform/db"
)

// The statuses of a run and of its drill.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// Run is one backup attempt as recorded in backup_runs.
type Run struct {
	ID                    int64
	Kind                  string
	StartedAt, FinishedAt time.Time
	Dir                   string
	Size                  int64
	ManifestSM3           string
	Status                string // ok: the backup was written
	DrillStatus           string // ok, failed, or "" when it never got to a drill
	DrillDetail           string
	Error                 string
	// Age is how long ago the run started (set by Latest).
	Age time.Duration
}

// Failed reports whether the run is an alert: the backup or its drill
// did not succeed.
func (r *Run) Failed() bool { return r.Status != StatusOK || r.DrillStatus != StatusOK }

// ErrNoRun says that no backup has been attempted yet.
var ErrNoRun = fmt.Errorf("尚无备份记录 (no backup yet): %w", db.ErrNotFound)

func (s *Service) record(ctx context.Context, r *Run) error {
	return s.db.QueryRow(ctx, `INSERT INTO backup_runs (kind, started_at, finished_at, dir, size_bytes, manifest_sm3,
	        status, drill_status, drill_detail, error)
	    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		r.Kind, db.Micros(r.StartedAt), db.Micros(r.FinishedAt), r.Dir, r.Size, r.ManifestSM3,
		r.Status, r.DrillStatus, r.DrillDetail, r.Error).Scan(&r.ID)
}

// Latest returns the newest run with its drill result and age, or ErrNoRun.
func (s *Service) Latest(ctx context.Context) (*Run, error) {
	var r Run
	var started, finished int64
	err := s.db.QueryRow(ctx, `SELECT id, kind, started_at, finished_at, dir, size_bytes, manifest_sm3,
	        status, drill_status, drill_detail, error
	    FROM backup_runs ORDER BY started_at DESC, id DESC LIMIT 1`).Scan(&r.ID, &r.Kind, &started, &finished,
		&r.Dir, &r.Size, &r.ManifestSM3, &r.Status, &r.DrillStatus, &r.DrillDetail, &r.Error)
	if db.IsNoRows(err) {
		return nil, ErrNoRun
	}
	if err != nil {
		return nil, err
	}
	r.StartedAt, r.FinishedAt = db.FromMicros(started), db.FromMicros(finished)
	r.Age = s.clock.Now().Sub(r.StartedAt)
	return &r, nil
}

// lastRuns returns when the newest run whose backup and drill both
// succeeded started, and when the newest run of any outcome started.
func (s *Service) lastRuns(ctx context.Context) (good, last time.Time, err error) {
	var g, a *int64
	err = s.db.QueryRow(ctx, `SELECT max(CASE WHEN status = 'ok' AND drill_status = 'ok' THEN started_at END), max(started_at)
	    FROM backup_runs`).Scan(&g, &a)
	if g != nil {
		good = db.FromMicros(*g)
	}
	if a != nil {
		last = db.FromMicros(*a)
	}
	return good, last, err
}

// Alert says what is wrong with the backups for the monitoring page, or ""
// when nothing is: the newest run or its drill failed, or (with a
// schedule) no good backup within the interval and an hour.
func (s *Service) Alert(ctx context.Context) (string, error) {
	r, err := s.Latest(ctx)
	if errors.Is(err, ErrNoRun) {
		if s.opt.Every > 0 {
			return "尚无备份", nil
		}
		return "", nil
	}
	if err != nil {
		return "", err
	}
	switch {
	case r.Status != StatusOK:
		return "最近一次备份失败：" + r.Error, nil
	case r.DrillStatus != StatusOK:
		return "最近一次备份的恢复演练未通过：" + r.DrillDetail, nil
	}
	good, _, err := s.lastRuns(ctx)
	if err != nil {
		return "", err
	}
	if s.opt.Every > 0 && s.clock.Now().Sub(good) > s.opt.Every+checkEvery {
		return "超过备份周期没有成功的备份", nil
	}
	return "", nil
}

// LastGood is when the newest backup whose drill passed started (zero:
// none yet).
func (s *Service) LastGood(ctx context.Context) (time.Time, error) {
	good, _, err := s.lastRuns(ctx)
	return good, err
}

// Runs lists the runs that started in [from, to), oldest first, for the
// quarterly maintenance report.
func (s *Service) Runs(ctx context.Context, from, to time.Time) ([]Run, error) {
	rows, err := s.db.Query(ctx, `SELECT id, kind, started_at, finished_at, dir, size_bytes, manifest_sm3,
	        status, drill_status, drill_detail, error
	    FROM backup_runs WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at, id`, db.Micros(from), db.Micros(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Kind, &started, &finished, &r.Dir, &r.Size, &r.ManifestSM3, &r.Status, &r.DrillStatus,
			&r.DrillDetail, &r.Error); err != nil {
			return nil, err
		}
		r.StartedAt, r.FinishedAt = db.FromMicros(started), db.FromMicros(finished)
		out = append(out, r)
	}
	return out, rows.Err()
}
