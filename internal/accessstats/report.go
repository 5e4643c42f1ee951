package accessstats

import (
	"context"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
)

// Granularities of a report.
const (
	ByHour = "hour"
	ByDay  = "day"
)

// The longest ranges a report covers: an hourly chart of more than a month
// or a daily one of more than a year is unreadable and a needless scan.
const (
	MaxHourRange = 31 * 24 * time.Hour
	MaxDayRange  = 400 * 24 * time.Hour
)

// Totals are the counts of a period (a bucket, a page, or the whole range).
type Totals struct {
	Views         int64   `json:"views"`
	Visitors      int64   `json:"unique_visitors"`
	Searches      int64   `json:"searches"`
	SearchesFound int64   `json:"searches_found"`
	FoundShare    float64 `json:"found_share"` // searches_found / searches, 0 without searches
	Errors4xx     int64   `json:"errors_4xx"`
	Errors5xx     int64   `json:"errors_5xx"`
	Objections    int64   `json:"objections"`
	MeanMS        float64 `json:"mean_ms"`
	// P50MS and P95MS are estimated from the histogram: the upper bound of
	// the bucket the quantile falls in (for the slowest bucket, its lower
	// bound: "at least").
	P50MS int64 `json:"p50_ms"`
	P95MS int64 `json:"p95_ms"`

	totalMS int64
	lat     [len(Bounds) + 1]int64
}

// Bucket is one hour or one day.
type Bucket struct {
	Start time.Time `json:"start"`
	Totals
}

// Page is one route pattern's totals over the range.
type Page struct {
	Page string `json:"page"`
	Totals
}

// Report is the statistics of a range.
type Report struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	By      string    `json:"by"`
	Totals  Totals    `json:"totals"`
	Buckets []Bucket  `json:"buckets"` // every hour or day of the range, empty ones included
	Pages   []Page    `json:"pages"`   // by views, most first
}

// Range checks a report's range and granularity and rounds from down and
// to up to whole buckets (Beijing days for ByDay).
func Range(from, to time.Time, by string) (time.Time, time.Time, error) {
	switch by {
	case ByHour:
		from, to = from.Truncate(time.Hour), to.Add(time.Hour-time.Nanosecond).Truncate(time.Hour)
	case ByDay:
		from = clock.BeijingDay(from)
		if d := clock.BeijingDay(to); d.Equal(to) {
			to = d
		} else {
			to = d.AddDate(0, 0, 1)
		}
	default:
		return from, to, apperr.Field("by", "统计粒度只能是 hour（按小时）或 day（按天）")
	}
	if !to.After(from) {
		return from, to, apperr.Field("to", "结束时间必须晚于开始时间")
	}
	if (by == ByHour && to.Sub(from) > MaxHourRange) || (by == ByDay && to.Sub(from) > MaxDayRange) {
		return from, to, apperr.Field("from", "统计范围过长：按小时最多31天，按天最多400天")
	}
	return from.UTC(), to.UTC(), nil
}

// Read returns the statistics from from to to (rounded to whole buckets) by
// hour or day. by needs check.monitor: the statistics are part of system
// monitoring (系统监控与访问指标统计), held by city officers, who run the
// publication, and the system administrators; they carry no personal data.
func (s *Stats) Read(ctx context.Context, who actor.Actor, from, to time.Time, by string) (*Report, error) {
	if err := who.Require(actor.PermCheckMonitor); err != nil {
		return nil, err
	}
	from, to, err := Range(from, to, by)
	if err != nil {
		return nil, err
	}
	rep := &Report{From: from, To: to, By: by, Buckets: []Bucket{}, Pages: []Page{}}
	lo, hi := from.Unix()/60, to.Unix()/60
	size := int64(60)
	if by == ByDay {
		size = 24 * 60
	}
	index := map[int64]int{}
	for t := from; t.Before(to); {
		index[(t.Unix()/60+offset(by))/size] = len(rep.Buckets)
		rep.Buckets = append(rep.Buckets, Bucket{Start: t})
		if by == ByDay {
			t = t.AddDate(0, 0, 1)
		} else {
			t = t.Add(time.Hour)
		}
	}
	q := qHour
	if by == ByDay {
		q = qDay
	}
	rows, err := s.db.Query(ctx, q, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var b int64
		var t Totals
		if err := rows.Scan(append([]any{&b}, t.dest()...)...); err != nil {
			return nil, err
		}
		if i, ok := index[b]; ok {
			t.finish()
			rep.Buckets[i].Totals = t
			rep.Totals.sum(&t)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rep.Totals.finish()
	prows, err := s.db.Query(ctx, qPages, lo, hi, SitePage)
	if err != nil {
		return nil, err
	}
	defer prows.Close()
	for prows.Next() {
		var p Page
		var unused int64
		d := p.dest()
		d[1] = &unused // no visitors per page
		if err := prows.Scan(append([]any{&p.Page}, d...)...); err != nil {
			return nil, err
		}
		p.finish()
		rep.Pages = append(rep.Pages, p)
	}
	return rep, prows.Err()
}

func offset(by string) int64 {
	if by == ByDay {
		return 8 * 60 // Beijing days
	}
	return 0
}

// The queries are constants: a bucket is minute/60 (an hour) or
// (minute+480)/1440 (a Beijing day); visitors of an hour are the sum of
// visitors first seen in that hour, of a day those first seen that day.
const (
	qHour = `SELECT minute / 60, CAST(SUM(views) AS BIGINT), CAST(SUM(visitors_hour) AS BIGINT), CAST(SUM(searches) AS BIGINT),
	CAST(SUM(searches_found) AS BIGINT), CAST(SUM(errors_4xx) AS BIGINT), CAST(SUM(errors_5xx) AS BIGINT),
	CAST(SUM(objections) AS BIGINT), CAST(SUM(total_ms) AS BIGINT), CAST(SUM(lat_5) AS BIGINT),
	CAST(SUM(lat_10) AS BIGINT), CAST(SUM(lat_25) AS BIGINT), CAST(SUM(lat_50) AS BIGINT),
	CAST(SUM(lat_100) AS BIGINT), CAST(SUM(lat_250) AS BIGINT), CAST(SUM(lat_1000) AS BIGINT),
	CAST(SUM(lat_slow) AS BIGINT)
	FROM access_minutes WHERE minute >= $1 AND minute < $2 GROUP BY minute / 60`
	qDay = `SELECT (minute + 480) / 1440, CAST(SUM(views) AS BIGINT), CAST(SUM(visitors_day) AS BIGINT), CAST(SUM(searches) AS BIGINT),
	CAST(SUM(searches_found) AS BIGINT), CAST(SUM(errors_4xx) AS BIGINT), CAST(SUM(errors_5xx) AS BIGINT),
	CAST(SUM(objections) AS BIGINT), CAST(SUM(total_ms) AS BIGINT), CAST(SUM(lat_5) AS BIGINT),
	CAST(SUM(lat_10) AS BIGINT), CAST(SUM(lat_25) AS BIGINT), CAST(SUM(lat_50) AS BIGINT),
	CAST(SUM(lat_100) AS BIGINT), CAST(SUM(lat_250) AS BIGINT), CAST(SUM(lat_1000) AS BIGINT),
	CAST(SUM(lat_slow) AS BIGINT)
	FROM access_minutes WHERE minute >= $1 AND minute < $2 GROUP BY (minute + 480) / 1440`
	qPages = `SELECT page, CAST(SUM(views) AS BIGINT), CAST(SUM(visitors_day) AS BIGINT), CAST(SUM(searches) AS BIGINT),
	CAST(SUM(searches_found) AS BIGINT), CAST(SUM(errors_4xx) AS BIGINT), CAST(SUM(errors_5xx) AS BIGINT),
	CAST(SUM(objections) AS BIGINT), CAST(SUM(total_ms) AS BIGINT), CAST(SUM(lat_5) AS BIGINT),
	CAST(SUM(lat_10) AS BIGINT), CAST(SUM(lat_25) AS BIGINT), CAST(SUM(lat_50) AS BIGINT),
	CAST(SUM(lat_100) AS BIGINT), CAST(SUM(lat_250) AS BIGINT), CAST(SUM(lat_1000) AS BIGINT),
	CAST(SUM(lat_slow) AS BIGINT)
	FROM access_minutes WHERE minute >= $1 AND minute < $2 AND page <> $3 GROUP BY page
	ORDER BY CAST(SUM(views) AS BIGINT) DESC, page LIMIT 50`
)

func (t *Totals) dest() []any {
	d := []any{&t.Views, &t.Visitors, &t.Searches, &t.SearchesFound, &t.Errors4xx, &t.Errors5xx, &t.Objections, &t.totalMS}
	for i := range t.lat {
		d = append(d, &t.lat[i])
	}
	return d
}

func (t *Totals) sum(o *Totals) {
	t.Views += o.Views
	t.Visitors += o.Visitors
	t.Searches += o.Searches
	t.SearchesFound += o.SearchesFound
	t.Errors4xx += o.Errors4xx
	t.Errors5xx += o.Errors5xx
	t.Objections += o.Objections
	t.totalMS += o.totalMS
	for i := range t.lat {
		t.lat[i] += o.lat[i]
	}
}

// finish computes the derived values from the sums.
func (t *Totals) finish() {
	if t.Searches > 0 {
		t.FoundShare = float64(t.SearchesFound) / float64(t.Searches)
	}
	if t.Views > 0 {
		t.MeanMS = float64(t.totalMS) / float64(t.Views)
	}
	t.P50MS, t.P95MS = Quantile(t.lat[:], 0.5), Quantile(t.lat[:], 0.95)
}

// Latency returns the histogram: requests per bucket of Bounds, then the
// slower ones.
func (t *Totals) Latency() []int64 { return append([]int64(nil), t.lat[:]...) }

// Quantile estimates the q-quantile in milliseconds of a histogram over
// Bounds: the upper bound of the bucket it falls in, or for the slowest
// bucket the last bound. 0 without requests.
func Quantile(lat []int64, q float64) int64 {
	var n int64
	for _, c := range lat {
		n += c
	}
	if n == 0 {
		return 0
	}
	want := int64(q*float64(n) + 0.999999)
	var acc int64
	for i, c := range lat {
		acc += c
		if acc >= want {
			if i < len(Bounds) {
				return Bounds[i]
			}
			break
		}
	}
	return Bounds[len(Bounds)-1]
}
