package monitor

import (
	"context"
	"sort"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// Point is one value of a series.
type Point struct {
	At    time.Time `json:"at"`
	Value float64   `json:"value"`
}

// Current is each metric's newest value (the worst over the sources for
// the metrics alerts watch: the highest, or the lowest for free space).
type Current struct {
	Metric string    `json:"metric"`
	Value  float64   `json:"value"`
	At     time.Time `json:"at"`
}

// lowIsBad are the metrics whose worst value is the lowest.
var lowIsBad = map[string]bool{"disk_free_pct": true, "disk_free_gb": true}

// Now returns every metric's newest value within the last 10 minutes.
func (s *Service) Now(ctx context.Context, by actor.Actor) ([]Current, error) {
	if err := requireOps(by); err != nil {
		return nil, err
	}
	since := minuteOf(s.clock.Now().Add(-10 * time.Minute))
	// One range of the minute index: the last ten minutes of every metric,
	// the newest minute of each kept.
	rows, err := s.db.Query(ctx, `SELECT metric, minute, MIN(value), MAX(value) FROM monitor_samples
		WHERE minute >= $1 GROUP BY metric, minute`, since)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	latest := map[string]Current{}
	for rows.Next() {
		var c Current
		var m int64
		var lo, hi float64
		if err := rows.Scan(&c.Metric, &m, &lo, &hi); err != nil {
			return nil, apperr.Wrap(err)
		}
		c.At, c.Value = db.FromMicros(m), hi
		if lowIsBad[c.Metric] {
			c.Value = lo
		}
		if old, ok := latest[c.Metric]; !ok || c.At.After(old.At) {
			latest[c.Metric] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	out := make([]Current, 0, len(latest))
	for _, c := range latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metric < out[j].Metric })
	return out, nil
}

// Series returns metric over [now−span, now] in steps of step (the mean
// within a step of the worst source each minute), oldest first.
func (s *Service) Series(ctx context.Context, by actor.Actor, metric string, span, step time.Duration) ([]Point, error) {
	if err := requireOps(by); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	from := minuteOf(now.Add(-span))
	stepUS := int64(step / time.Microsecond)
	if stepUS%hourUS == 0 {
		// Whole hours: from the hourly means, from the start of an hour.
		return s.hourly(ctx, metric, from-from%hourUS, stepUS)
	}
	// The steps are averaged in the database: a week of minutes is one
	// index range and ~170 rows back, not 10,000.
	q := `SELECT (minute - $2) / $3 AS b, AVG(v) FROM (SELECT minute, MAX(value) AS v FROM monitor_samples
		WHERE metric = $1 AND minute >= $2 GROUP BY minute) x GROUP BY b ORDER BY b`
	if lowIsBad[metric] {
		q = `SELECT (minute - $2) / $3 AS b, AVG(v) FROM (SELECT minute, MIN(value) AS v FROM monitor_samples
		WHERE metric = $1 AND minute >= $2 GROUP BY minute) x GROUP BY b ORDER BY b`
	}
	rows, err := s.db.Query(ctx, q, metric, from, stepUS)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Point
	for rows.Next() {
		var b int64
		var v float64
		if err := rows.Scan(&b, &v); err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, Point{At: db.FromMicros(from + b*stepUS), Value: v})
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// Summary is a metric over a period: mean, lowest, highest, minutes with
// data.
type Summary struct {
	Metric  string  `json:"metric"`
	Mean    float64 `json:"mean"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	Minutes int     `json:"minutes"`
}

// Summaries are every metric's figures over [from, to).
func (s *Service) Summaries(ctx context.Context, from, to time.Time) ([]Summary, error) {
	rows, err := s.db.Query(ctx, `SELECT metric, AVG(value), MIN(value), MAX(value), COUNT(DISTINCT minute) FROM monitor_samples
		WHERE minute >= $1 AND minute < $2 GROUP BY metric ORDER BY metric`, db.Micros(from), db.Micros(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var x Summary
		if err := rows.Scan(&x.Metric, &x.Mean, &x.Min, &x.Max, &x.Minutes); err != nil {
			return nil, err
		}
		x.Mean = round1(x.Mean)
		out = append(out, x)
	}
	return out, rows.Err()
}

// hourUS is an hour in micros.
const hourUS = int64(time.Hour / time.Microsecond)

// Rollup recomputes the hourly means of the current and the previous hour
// (the evaluation job calls it each minute): the worst source each minute —
// the lowest for free space, else the highest — averaged over the hour.
func (s *Service) Rollup(ctx context.Context) error {
	now := db.Micros(s.clock.Now())
	from := now - now%hourUS - hourUS
	_, err := s.db.Exec(ctx, `INSERT INTO monitor_hours (metric, hour, value)
		SELECT metric, hour, AVG(v) FROM (
			SELECT metric, minute - minute % $2 AS hour,
				CASE WHEN metric IN ('disk_free_pct', 'disk_free_gb') THEN MIN(value) ELSE MAX(value) END AS v
			FROM monitor_samples WHERE minute >= $1 GROUP BY metric, minute) x
		WHERE TRUE GROUP BY metric, hour
		ON CONFLICT (metric, hour) DO UPDATE SET value = excluded.value`, from, hourUS)
	return err
}

// hourly reads metric's hourly means since from, in steps of step (a
// whole number of hours).
func (s *Service) hourly(ctx context.Context, metric string, from int64, step int64) ([]Point, error) {
	rows, err := s.db.Query(ctx, `SELECT (hour - $2) / $3 AS b, AVG(value) FROM monitor_hours
		WHERE metric = $1 AND hour >= $2 GROUP BY b ORDER BY b`, metric, from, step)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Point
	for rows.Next() {
		var b int64
		var v float64
		if err := rows.Scan(&b, &v); err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, Point{At: db.FromMicros(from + b*step), Value: v})
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}
