package ranking

import (
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"jifen/internal/platform/apperr"
	"jifen/internal/rules"
)

func pts(t testing.TB, s string) rules.Points {
	t.Helper()
	p, err := rules.ParsePoints(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readPublicList reads a real published list (testdata, copied from
// ../shared/data/publicity) as entries: application IDs are the row numbers,
// the birth month and total are the list's.
func readPublicList(t testing.TB, name string) []Entry {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := records[0]
	if head[1] != "birth_ym" || head[len(head)-1] != "total" {
		t.Fatalf("%s: unexpected header %v", name, head)
	}
	var out []Entry
	for i, rec := range records[1:] {
		ym, err := strconv.Atoi(strings.Replace(rec[1], "-", "", 1))
		if err != nil {
			t.Fatalf("%s row %d: birth %q", name, i+1, rec[1])
		}
		out = append(out, Entry{ApplicationID: int64(i + 1), BirthYM: ym, Total: pts(t, rec[len(rec)-1])})
	}
	return out
}

// TestPublicLists ranks the totals of the real 2020–2022 lists with quota
// 6,000: the cutoffs, the numbers qualified and the ties at the line are the
// bureau's (DOMAIN.md §6), and what-if agrees with the committed ranking.
func TestPublicLists(t *testing.T) {
	for _, tc := range []struct {
		year      int
		rows      int
		cutoff    string
		qualified int
		tied      int
	}{
		{2020, 6032, "97.13", 6032, 54},
		{2021, 6045, "100.88", 6045, 108},
		{2022, 6006, "105.42", 6006, 86},
	} {
		t.Run(strconv.Itoa(tc.year), func(t *testing.T) {
			entries := readPublicList(t, fmt.Sprintf("beijing-%d.csv", tc.year))
			if len(entries) != tc.rows {
				t.Fatalf("rows = %d, want %d", len(entries), tc.rows)
			}
			tab, err := Prepare(entries)
			if err != nil {
				t.Fatal(err)
			}
			r, err := tab.Commit(tc.year, 6000)
			if err != nil {
				t.Fatal(err)
			}
			if r.Cutoff.String() != tc.cutoff || r.Qualified != tc.qualified || r.TiedAtLine != tc.tied {
				t.Errorf("cutoff %s, qualified %d, tied %d; want %s, %d, %d", r.Cutoff, r.Qualified, r.TiedAtLine, tc.cutoff, tc.qualified, tc.tied)
			}
			last := r.Entries[r.Qualified-1]
			if want := fmt.Sprintf("%d%05d", tc.year, tc.qualified); last.PublicityNo != want || !last.Qualified {
				t.Errorf("last qualified: %+v, want 公示编号 %s", last, want)
			}
			if first := r.Entries[0]; first.PublicityNo != fmt.Sprintf("%d00001", tc.year) || first.Rank != 1 {
				t.Errorf("first: %+v", first)
			}
			w, err := tab.WhatIf(6000)
			if err != nil {
				t.Fatal(err)
			}
			if w.Cutoff != r.Cutoff || w.Qualified != r.Qualified || w.TiedAtLine != r.TiedAtLine || w.Ranked != r.Ranked() {
				t.Errorf("what-if %+v differs from committed %d/%s/%d/%d", w, r.Ranked(), r.Cutoff, r.Qualified, r.TiedAtLine)
			}
			var near int
			for _, b := range w.Near {
				near += b.Count
				if b.From <= r.Cutoff && r.Cutoff < b.To && b.Count < r.TiedAtLine {
					t.Errorf("cutoff bucket %+v holds fewer than the %d tied", b, r.TiedAtLine)
				}
			}
			var all int
			for _, b := range w.Overall {
				all += b.Count
			}
			if all != len(entries) || near == 0 {
				t.Errorf("overall buckets hold %d of %d; near %d", all, len(entries), near)
			}
		})
	}
}

func TestCompetitionRanksTable(t *testing.T) {
	// Totals in input order, and the rank each gets.
	totals := []string{"90", "100", "90", "80", "90", "100", "79.99"}
	want := map[int64]int{1: 3, 2: 1, 3: 3, 4: 6, 5: 3, 6: 1, 7: 7}
	var es []Entry
	for i, s := range totals {
		es = append(es, Entry{ApplicationID: int64(i + 1), Total: pts(t, s), BirthYM: 198001})
	}
	r, err := Rank(2025, 3, es)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Entries {
		if e.Rank != want[e.ApplicationID] {
			t.Errorf("application %d (total %s): rank %d, want %d", e.ApplicationID, e.Total, e.Rank, want[e.ApplicationID])
		}
	}
	// Quota 3 lands on the 90s: all three tied at the line qualify.
	if r.Cutoff != 9000 || r.Qualified != 5 || r.TiedAtLine != 3 {
		t.Errorf("cutoff %s qualified %d tied %d", r.Cutoff, r.Qualified, r.TiedAtLine)
	}
	if got := r.Entries[4].PublicityNo; got != "202500005" {
		t.Errorf("fifth 公示编号 %q", got)
	}
	if r.Entries[5].Qualified || r.Entries[5].PublicityNo != "" {
		t.Errorf("sixth must not qualify: %+v", r.Entries[5])
	}
}

// TestTieBreak: among equal totals the earlier birth month comes first, then
// the lower application ID; input order does not matter.
func TestTieBreak(t *testing.T) {
	es := []Entry{
		{ApplicationID: 30, Total: 10000, BirthYM: 198005},
		{ApplicationID: 20, Total: 10000, BirthYM: 198005},
		{ApplicationID: 10, Total: 10000, BirthYM: 198512},
		{ApplicationID: 40, Total: 10000, BirthYM: 197901},
		{ApplicationID: 50, Total: 10001, BirthYM: 199901},
	}
	wantOrder := []int64{50, 40, 20, 30, 10}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		r, err := Rank(2024, 1, es)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range wantOrder {
			if r.Entries[i].ApplicationID != id {
				t.Fatalf("position %d: application %d, want %d", i+1, r.Entries[i].ApplicationID, id)
			}
		}
	}
}

func isField(err error, field string) bool {
	e := apperr.As(err)
	return e.Code == apperr.Invalid && len(e.Fields) == 1 && e.Fields[0].Field == field && e.Fields[0].Message != ""
}

func TestBadQuota(t *testing.T) {
	es := []Entry{{1, 10000, 198001}, {2, 9000, 198001}, {3, 9000, 198001}}
	tab, err := Prepare(es)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []int{0, -1, 4, 1 << 40} {
		if _, err := tab.Commit(2025, q); !isField(err, "quota") {
			t.Errorf("Commit quota %d: %v", q, err)
		}
		if _, err := tab.WhatIf(q); !isField(err, "quota") {
			t.Errorf("WhatIf quota %d: %v", q, err)
		}
	}
	if _, err := tab.Commit(2025, 3); err != nil {
		t.Errorf("quota = number ranked: %v", err)
	}
	empty, _ := Prepare(nil)
	if _, err := empty.WhatIf(1); !isField(err, "quota") {
		t.Errorf("nobody ranked: %v", err)
	}
	if _, err := tab.Commit(99, 1); !isField(err, "year") {
		t.Errorf("year 99: %v", err)
	}
	msg := apperr.As(func() error { _, err := tab.Commit(2025, 4); return err }()).Fields[0].Message
	if !strings.Contains(msg, "名额") || !strings.Contains(msg, "3") {
		t.Errorf("message %q must say 名额 and the number ranked", msg)
	}
}

func TestTooManyQualified(t *testing.T) {
	es := make([]Entry, MaxQualified+1)
	for i := range es {
		es[i] = Entry{ApplicationID: int64(i + 1), Total: 5000, BirthYM: 199001}
	}
	tab, err := Prepare(es)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Commit(2025, 1); !isField(err, "quota") {
		t.Errorf("100,000 tied at the line: %v", err)
	}
}

func TestPrepareRejectsBadEntries(t *testing.T) {
	for name, es := range map[string][]Entry{
		"duplicate": {{1, 100, 198001}, {2, 100, 198001}, {1, 200, 198002}},
		"month 13":  {{1, 100, 198013}},
		"no month":  {{1, 100, 0}},
	} {
		if _, err := Prepare(es); apperr.CodeOf(err) != apperr.Internal {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWhatIfBuckets(t *testing.T) {
	var es []Entry
	for i, s := range []string{"105.42", "105.99", "104.00", "103.99", "99.50", "100.00", "110.99", "111", "-3.5", "12"} {
		es = append(es, Entry{ApplicationID: int64(i + 1), Total: pts(t, s), BirthYM: 198001})
	}
	tab, err := Prepare(es)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tab.WhatIf(3) // 111, 110.99, 105.99 → cutoff 105.99
	if err != nil {
		t.Fatal(err)
	}
	if w.Cutoff != 10599 || w.Qualified != 3 || w.TiedAtLine != 1 {
		t.Fatalf("%+v", w)
	}
	// Near: [100,101) … [110,111), eleven buckets.
	if len(w.Near) != 11 || w.Near[0].From != 10000 || w.Near[10].To != 11100 {
		t.Fatalf("near %+v", w.Near)
	}
	wantNear := map[rules.Points]int{10000: 1, 10300: 1, 10400: 1, 10500: 2, 11000: 1}
	for _, b := range w.Near {
		if b.To-b.From != 100 || b.Count != wantNear[b.From] {
			t.Errorf("near bucket %+v, want %d", b, wantNear[b.From])
		}
	}
	// Overall: [-10,0) … [110,120), thirteen buckets.
	if len(w.Overall) != 13 || w.Overall[0].From != -1000 || w.Overall[12].From != 11000 {
		t.Fatalf("overall %+v", w.Overall)
	}
	wantAll := map[rules.Points]int{-1000: 1, 1000: 1, 9000: 1, 10000: 5, 11000: 2}
	for _, b := range w.Overall {
		if b.Count != wantAll[b.From] {
			t.Errorf("overall bucket %+v, want %d", b, wantAll[b.From])
		}
	}
}

// FuzzCompetitionRank checks the ranking's properties on arbitrary totals:
// rank = 1 + number of strictly higher totals (so ties share a rank and the
// next rank skips), the order is total descending, everyone ≥ cutoff and
// nobody else qualifies, 公示编号 run 1..qualified, and what-if agrees.
func FuzzCompetitionRank(f *testing.F) {
	f.Add([]byte{5, 5, 3, 9, 9, 9, 1}, uint8(2))
	f.Add([]byte{1}, uint8(1))
	f.Add([]byte{7, 7, 7, 7}, uint8(4))
	f.Fuzz(func(t *testing.T, data []byte, q uint8) {
		if len(data) > 300 {
			data = data[:300]
		}
		es := make([]Entry, len(data))
		for i, b := range data {
			// Few distinct totals so that ties are common; some negative.
			es[i] = Entry{ApplicationID: int64(1000 - i), Total: rules.Points(int(b%16)*25 - 50), BirthYM: 197001 + int(b>>4)%12}
		}
		tab, err := Prepare(es)
		if err != nil {
			t.Fatal(err)
		}
		quota := int(q)
		r, err := tab.Commit(2023, quota)
		if quota <= 0 || quota > len(es) {
			if !isField(err, "quota") {
				t.Fatalf("quota %d of %d: %v", quota, len(es), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		tied := 0
		for i, e := range r.Entries {
			higher := 0
			for _, o := range es {
				if o.Total > e.Total {
					higher++
				}
			}
			if e.Rank != 1+higher {
				t.Fatalf("position %d total %s: rank %d, want %d", i, e.Total, e.Rank, 1+higher)
			}
			if i > 0 {
				prev := r.Entries[i-1]
				switch {
				case prev.Total < e.Total:
					t.Fatalf("not descending at %d", i)
				case prev.Total == e.Total && prev.Rank != e.Rank:
					t.Fatalf("ties at %d do not share a rank", i)
				case prev.Total > e.Total && e.Rank != i+1:
					t.Fatalf("rank after ties at %d is %d, want %d", i, e.Rank, i+1)
				}
			}
			if e.Qualified != (e.Total >= r.Cutoff) || e.Qualified != (i < r.Qualified) {
				t.Fatalf("position %d total %s qualified=%v, cutoff %s", i, e.Total, e.Qualified, r.Cutoff)
			}
			if want := ""; e.Qualified {
				want = fmt.Sprintf("2023%05d", i+1)
				if e.PublicityNo != want {
					t.Fatalf("position %d 公示编号 %q, want %q", i, e.PublicityNo, want)
				}
			} else if e.PublicityNo != want {
				t.Fatalf("unqualified with 公示编号 %q", e.PublicityNo)
			}
			if e.Total == r.Cutoff {
				tied++
			}
		}
		if r.Cutoff != r.Entries[quota-1].Total || r.Qualified < quota || tied != r.TiedAtLine {
			t.Fatalf("cutoff %s qualified %d tied %d (counted %d), quota %d", r.Cutoff, r.Qualified, r.TiedAtLine, tied, quota)
		}
		w, err := tab.WhatIf(quota)
		if err != nil || w.Cutoff != r.Cutoff || w.Qualified != r.Qualified || w.TiedAtLine != r.TiedAtLine {
			t.Fatalf("what-if %+v %v", w, err)
		}
	})
}

func BenchmarkRank350k(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	es := make([]Entry, 350_000)
	for i := range es {
		// Totals spread like a round: mostly 20–110 points, in hundredths.
		es[i] = Entry{ApplicationID: int64(i + 1), Total: rules.Points(2000 + rng.IntN(9000) + rng.IntN(3000)), BirthYM: 196501 + 100*rng.IntN(35) + rng.IntN(12)}
	}
	b.ReportAllocs()
	for b.Loop() {
		tab, err := Prepare(es)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tab.WhatIf(6000); err != nil {
			b.Fatal(err)
		}
		r, err := tab.Commit(2025, 6000)
		if err != nil {
			b.Fatal(err)
		}
		_ = r.Digest()
	}
}
