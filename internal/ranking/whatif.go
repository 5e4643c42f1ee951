package ranking

import "jifen/internal/rules"

// Bucket counts the entries with From ≤ total < To.
type Bucket struct {
	From  rules.Points `json:"from"`
	To    rules.Points `json:"to"`
	Count int          `json:"count"`
}

// WhatIf is the outcome of a quota, computed without committing anything.
type WhatIf struct {
	Quota      int          `json:"quota"`
	Ranked     int          `json:"ranked"`
	Cutoff     rules.Points `json:"cutoff"`
	Qualified  int          `json:"qualified"`
	TiedAtLine int          `json:"tied_at_line"`
	// Near counts entries per 1-point bucket from NearPoints below the
	// cutoff's bucket to NearPoints above it (2×NearPoints+1 buckets, empty
	// ones included).
	Near []Bucket `json:"near"`
	// Overall counts entries per OverallWidth-point bucket from the lowest
	// total's bucket to the highest's, empty ones included.
	Overall []Bucket `json:"overall"`
}

// The bucket widths of a WhatIf, in points.
const (
	NearPoints   = 5
	OverallWidth = 10
)

// WhatIf computes cutoff, number qualified, ties at the line and the score
// distribution for quota. It errs exactly when Commit errs on quota (bar the
// year and the five-digit limit of 公示编号, which only Commit checks).
func (t *Table) WhatIf(quota int) (WhatIf, error) {
	l, err := t.line(quota)
	if err != nil {
		return WhatIf{}, err
	}
	w := WhatIf{Quota: quota, Ranked: len(t.entries), Cutoff: l.cutoff, Qualified: l.qualified, TiedAtLine: l.tied}
	const one = rules.Points(100)
	lo := floorTo(l.cutoff, one) - NearPoints*one
	w.Near = t.buckets(lo, lo+(2*NearPoints+1)*one, one)
	width := rules.Points(OverallWidth * 100)
	// Entries are sorted by total descending: the last is the lowest.
	w.Overall = t.buckets(floorTo(t.entries[len(t.entries)-1].Total, width), floorTo(t.entries[0].Total, width)+width, width)
	return w, nil
}

// buckets counts entries in [lo, hi) per bucket of width.
func (t *Table) buckets(lo, hi, width rules.Points) []Bucket {
	n := int((hi - lo) / width)
	out := make([]Bucket, n)
	for i := range out {
		out[i] = Bucket{From: lo + rules.Points(i)*width, To: lo + rules.Points(i+1)*width}
	}
	for _, e := range t.entries {
		if e.Total >= lo && e.Total < hi {
			out[(e.Total-lo)/width].Count++
		}
	}
	return out
}

// floorTo rounds p down to a multiple of width (toward minus infinity).
func floorTo(p, width rules.Points) rules.Points {
	q := p / width * width
	if q > p {
		q -= width
	}
	return q
}
