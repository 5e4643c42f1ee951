package stats

import (
	"context"

	"jifen/internal/actor"
)

// Small-cell suppression (小数抑制). A figure that leaves the office — an
// export, the JSON API, a mailed report — must not let anyone single out
// the few people behind a small cell. Every cell that counts fewer than
// the threshold (but not none) shows "<N" for all its measures, and the
// totals are adjusted: they are computed over the cells shown only, so the
// total minus the cells shown is always zero and no hidden figure can be
// computed back from it. (Differences between two different queries are
// outside what one report can protect; docs/statistics.md says so.)

// RunOut answers q like Run, suppressed below `below` (no suppression when
// below <= 1): the total is recomputed exactly over the applications of the
// cells shown.
func (s *Service) RunOut(ctx context.Context, by actor.Actor, q Query, below int) (*Result, error) {
	return s.answer(ctx, by, q, below)
}

// hidden reports whether a cell of n applications is suppressed below
// `below`.
func hidden(n, below int) bool { return below > 1 && n > 0 && n < below }

// hide marks every value of r hidden.
func hide(r *Row) {
	r.Count, r.Hidden = 0, true
	for i := range r.Values {
		r.Values[i] = Value{Hidden: true}
	}
}

// countLike reports whether a measure adds up over cells (people or
// cases), so that an adjusted total can be summed from the cells shown.
func countLike(m MeasureInfo) bool {
	return m.Name == "count" || m.Unit == "人" || m.Unit == "件" || m.Unit == "次" || m.Unit == "封"
}

// Suppress returns a copy of r fit to leave the office: every cell counted
// below `below` hidden, and — where the cells partition the total — the
// total adjusted to the cells shown: counts summed over them, any other
// measure of the total hidden when a cell is (a mean or a percentile
// cannot be recomputed from the cells). For the
// pivot queries RunOut does better: it recomputes every total measure.
func Suppress(r *Result, below int) *Result {
	out := *r
	out.Rows = make([]Row, len(r.Rows))
	out.Total = cloneRow(r.Total)
	if below <= 1 {
		copy(out.Rows, r.Rows)
		return &out
	}
	out.Suppressed = below
	// Only where the cells partition the total (their counts add up to it)
	// can a hidden cell be computed back from it by subtraction; a report
	// whose rows are separate figures (a round summary) keeps its total.
	sum := 0
	for _, row := range r.Rows {
		sum += row.Count
	}
	partition := sum == r.Total.Count
	anyHidden := false
	shown := 0
	sums := make([]float64, len(r.Measures))
	for i, row := range r.Rows {
		c := cloneRow(row)
		if hidden(c.Count, below) {
			hide(&c)
			anyHidden = true
		} else {
			shown += c.Count
			for j, v := range c.Values {
				if j < len(sums) {
					sums[j] += v.N
				}
			}
		}
		out.Rows[i] = c
	}
	if anyHidden && partition {
		out.Total.Count = shown
		for j, m := range r.Measures {
			if j >= len(out.Total.Values) {
				break
			}
			if countLike(m) {
				out.Total.Values[j] = Value{N: sums[j]}
			} else {
				out.Total.Values[j] = Value{Hidden: true}
			}
		}
	}
	return &out
}

func cloneRow(r Row) Row {
	r.Keys = append([]string(nil), r.Keys...)
	r.Labels = append([]string(nil), r.Labels...)
	r.Values = append([]Value(nil), r.Values...)
	return r
}
