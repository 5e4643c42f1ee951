// Package ranking is the annual ranking (DOMAIN.md §6). Its pure core:
// competition ranking of final totals, the cutoff at the quota position with
// ties at the line all admitted, 公示编号, what-if for any quota, and the
// canonical serialization of a committed ranking with its SM3 digest
// (docs/ranking.md), reading and writing no database. Its store (store.go)
// loads the eligible, final, unbanned applications of a frozen round, keeps
// drafts and the immutable committed ranking.
package ranking

import (
	"cmp"
	"fmt"
	"slices"

	"jifen/internal/platform/apperr"
	"jifen/internal/rules"
)

// MaxQualified is the most people one round can admit: the 公示编号 holds a
// five-digit sequence.
const MaxQualified = 99999

// Entry is one application taking part in the ranking.
type Entry struct {
	ApplicationID int64
	// Total is the final score in hundredths of a point.
	Total rules.Points
	// BirthYM is the applicant's birth month as YYYYMM (197403 is March
	// 1974); it is the first tie-break key: among equal totals the earlier
	// birth month comes first.
	BirthYM int
}

// Table is a set of entries sorted in ranking order: total descending, then
// birth month ascending, then application ID ascending. Build it once with
// Prepare; WhatIf and Commit are then cheap for any quota.
type Table struct {
	entries []Entry
	ranks   []int // ranks[i] is the competition rank of entries[i]
}

// compare is the ranking order: a strict, total order because application IDs
// are unique.
func compare(a, b Entry) int {
	if c := cmp.Compare(b.Total, a.Total); c != 0 {
		return c
	}
	if c := cmp.Compare(a.BirthYM, b.BirthYM); c != 0 {
		return c
	}
	return cmp.Compare(a.ApplicationID, b.ApplicationID)
}

// Prepare sorts a copy of entries in ranking order and computes competition
// ranks. Duplicate application IDs and birth months that are not YYYYMM are
// internal errors: entries come from the database, not from a form.
func Prepare(entries []Entry) (*Table, error) {
	es := slices.Clone(entries)
	for _, e := range es {
		if m := e.BirthYM % 100; e.BirthYM < 100001 || e.BirthYM > 999912 || m < 1 || m > 12 {
			return nil, apperr.Wrap(fmt.Errorf("ranking: application %d: birth month %d is not YYYYMM", e.ApplicationID, e.BirthYM))
		}
	}
	slices.SortFunc(es, compare)
	ranks := make([]int, len(es))
	for i, e := range es {
		// rank = 1 + number of strictly higher totals; entries are sorted, so
		// that number is the index of the first entry with this total.
		if i > 0 && es[i-1].Total == e.Total {
			ranks[i] = ranks[i-1]
		} else {
			ranks[i] = i + 1
		}
	}
	seen := make(map[int64]struct{}, len(es))
	for _, e := range es {
		if _, dup := seen[e.ApplicationID]; dup {
			return nil, apperr.Wrap(fmt.Errorf("ranking: application %d appears twice", e.ApplicationID))
		}
		seen[e.ApplicationID] = struct{}{}
	}
	return &Table{entries: es, ranks: ranks}, nil
}

// Len is the number of entries ranked.
func (t *Table) Len() int { return len(t.entries) }

// line is the outcome at a quota: the cutoff, how many qualify and how many
// share the cutoff total.
type line struct {
	cutoff    rules.Points
	qualified int
	tied      int
}

func (t *Table) line(quota int) (line, error) {
	if quota <= 0 {
		return line{}, apperr.Field("quota", "名额必须是大于 0 的整数")
	}
	if quota > len(t.entries) {
		return line{}, apperr.Field("quota", fmt.Sprintf("名额 %d 超过参加排名的人数 %d", quota, len(t.entries)))
	}
	cutoff := t.entries[quota-1].Total
	first := t.ranks[quota-1] - 1 // index of the first entry at the cutoff
	n := quota
	for n < len(t.entries) && t.entries[n].Total == cutoff {
		n++
	}
	return line{cutoff: cutoff, qualified: n, tied: n - first}, nil
}

// Ranked is one entry of a committed ranking.
type Ranked struct {
	Entry
	// Rank is the competition rank: 1 + the number of strictly higher totals.
	Rank int
	// Qualified is whether Total ≥ the cutoff.
	Qualified bool
	// PublicityNo is year×100000 + position in ranking order, for qualified
	// entries only ("202206006" is the 6,006th of 2022); empty otherwise.
	PublicityNo string
}

// Result is a committed ranking: what the caller stores, immutable.
type Result struct {
	Year       int
	Quota      int
	Cutoff     rules.Points
	Qualified  int
	TiedAtLine int
	// Entries are in ranking order; the first Qualified of them qualify.
	Entries []Ranked
}

// Ranked is the number of entries ranked.
func (r *Result) Ranked() int { return len(r.Entries) }

// Commit ranks the table for a year and quota.
func (t *Table) Commit(year, quota int) (*Result, error) {
	if year < 1000 || year > 9999 {
		return nil, apperr.Field("year", "年度必须是四位数字")
	}
	l, err := t.line(quota)
	if err != nil {
		return nil, err
	}
	if l.qualified > MaxQualified {
		return nil, apperr.Field("quota", fmt.Sprintf("获得资格的人数 %d 超过公示编号可容纳的 %d 人", l.qualified, MaxQualified))
	}
	out := make([]Ranked, len(t.entries))
	for i, e := range t.entries {
		out[i] = Ranked{Entry: e, Rank: t.ranks[i]}
		if i < l.qualified {
			out[i].Qualified = true
			out[i].PublicityNo = fmt.Sprintf("%04d%05d", year, i+1)
		}
	}
	return &Result{Year: year, Quota: quota, Cutoff: l.cutoff, Qualified: l.qualified, TiedAtLine: l.tied, Entries: out}, nil
}

// Rank prepares entries and commits them for a year and quota.
func Rank(year, quota int, entries []Entry) (*Result, error) {
	t, err := Prepare(entries)
	if err != nil {
		return nil, err
	}
	return t.Commit(year, quota)
}
