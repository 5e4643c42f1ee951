package rules

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// publicRow is one row of a real published list (公示), indicators in the
// order of IndicatorCodes.
type publicRow struct {
	id         string
	birth      string // "YYYY-MM"
	indicators [10]Points
	total      Points
}

func readPublicList(t *testing.T, name string) []publicRow {
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
	var rows []publicRow
	for _, rec := range records[1:] {
		if len(rec) != 13 {
			t.Fatalf("%s: row %v has %d columns", name, rec, len(rec))
		}
		r := publicRow{id: rec[0], birth: rec[1]}
		for i := range 10 {
			r.indicators[i] = pts(rec[2+i])
		}
		r.total = pts(rec[12])
		rows = append(rows, r)
	}
	return rows
}

// housingReach is, for each housing value, the fewest months that reach it
// when every record is rounded on its own.
type housingReach map[Points]int

// reach builds the values reachable with the given records, each either
// owned (rate o) or rental (rate r), whose months sum to at most limit.
func reach(owned, rental Rate, limit int, kinds string) housingReach {
	single := func(r Rate) housingReach {
		h := housingReach{}
		for n := limit; n >= 0; n-- {
			h[r.Times(int64(n))] = n
		}
		return h
	}
	out := housingReach{0: 0}
	for _, k := range kinds {
		rec := single(owned)
		if k == 'r' {
			rec = single(rental)
		}
		next := housingReach{}
		for va, ma := range out {
			for vb, mb := range rec {
				if m := ma + mb; m <= limit {
					if old, ok := next[va+vb]; !ok || m < old {
						next[va+vb] = m
					}
				}
			}
		}
		out = next
	}
	return out
}

// TestPublishedLists checks the rules against the real 2020 and 2022 lists:
// every total is the sum of its parts, every age value follows from the
// birth month through the rulebook's age function, employment is whole
// months, and every other value is one the rulebook can produce.
func TestPublishedLists(t *testing.T) {
	for _, list := range []struct {
		file string
		year int
		rows int
	}{{"beijing-2020.csv", 2020, 6032}, {"beijing-2022.csv", 2022, 6006}} {
		t.Run(list.file, func(t *testing.T) {
			rows := readPublicList(t, list.file)
			if len(rows) != list.rows {
				t.Fatalf("%d rows, want %d", len(rows), list.rows)
			}
			b, err := ForYear(list.year)
			if err != nil {
				t.Fatal(err)
			}
			maxMonths := int(b.StatisticsMonth(list.year)-b.employmentFrom) + 1
			owned, rental := b.housingKinds[Owned].rate, b.housingKinds[Rented].rate
			if b.presumedRate != rental || b.housingKinds[Dormitory].rate != rental {
				t.Fatal("the reach sets assume one rental rate")
			}
			// One owned and one rental record; and up to two of each, as when a
			// presumed rental precedes a registered one or a home is sold and another bought.
			simple := reach(owned, rental, maxMonths, "or")
			split := reach(owned, rental, maxMonths, "oorr")
			t.Logf("reachable housing values within %d months: %d with one record per kind, %d with two",
				maxMonths, len(simple), len(split))
			if len(split) >= int(owned.Times(int64(maxMonths)))+1 {
				t.Fatal("every value is reachable: the housing check would prove nothing")
			}
			values := indicatorValues(b, list.year)
			needSplit := 0
			for _, r := range rows {
				checkPublicRow(t, b, list.year, r, values)
				employmentMonths := int(r.indicators[0] / 25)
				housing := r.indicators[1]
				if m, ok := simple[housing]; !ok || m > employmentMonths {
					needSplit++
				}
				if m, ok := split[housing]; !ok || m > employmentMonths {
					t.Errorf("%s: housing %s not reachable within %d employment months", r.id, housing, employmentMonths)
				}
			}
			t.Logf("%d rows need more than one record of a kind", needSplit)
			if list.year == 2020 && needSplit != 0 {
				t.Errorf("2020: %d rows need split records; before the cut-over one of each kind suffices", needSplit)
			}
		})
	}
}

// indicatorValues lists, for the indicators with a small set of outcomes,
// every value the rulebook can give in the round.
func indicatorValues(b *Rulebook, year int) map[string]map[Points]bool {
	v := map[string]map[Points]bool{}
	add := func(code string, p Points) {
		if v[code] == nil {
			v[code] = map[Points]bool{}
		}
		v[code][p] = true
	}
	for _, l := range b.educationLevels {
		add(CodeEducation, l.both)
		add(CodeEducation, l.one)
	}
	add(CodeInnovation, 0)
	for _, tier := range b.financing {
		add(CodeInnovation, tier.points)
	}
	for _, p := range b.awardLevels {
		add(CodeInnovation, p)
	}
	for _, p := range b.contestLevels {
		add(CodeInnovation, p)
	}
	years := int(b.StatisticsMonth(year)-b.wraFrom+1) / 12
	for both := 0; both <= years; both++ {
		for only := 0; both+only <= years; only++ {
			add(CodeWorkResidenceArea, min(min(b.wraBoth.perYear*Points(both), b.wraBoth.max)+
				min(b.wraLiveOnly.perYear*Points(only), b.wraLiveOnly.max), b.wraMax))
		}
	}
	for n := 0; n <= b.taxYears; n++ {
		add(CodeTax, min(b.taxPerYear*Points(n), b.taxMax))
	}
	add(CodeHonors, 0)
	add(CodeHonors, b.honorPoints)
	return v
}

func checkPublicRow(t *testing.T, b *Rulebook, year int, r publicRow, values map[string]map[Points]bool) {
	t.Helper()
	var sum Points
	for _, p := range r.indicators {
		sum += p
	}
	if sum != r.total {
		t.Errorf("%s: parts sum to %s, total %s", r.id, sum, r.total)
	}
	// Only the birth month is published; any day but 1 January gives the
	// same age on the reference day (1 January).
	birth := day(r.birth + "-15")
	if _, p := b.AgePoints(birth, year); p != r.indicators[7] {
		t.Errorf("%s: born %s, age points %s, rulebook gives %s", r.id, r.birth, r.indicators[7], p)
	}
	if r.indicators[0]%25 != 0 {
		t.Errorf("%s: employment %s is not whole months", r.id, r.indicators[0])
	}
	for i, code := range IndicatorCodes() {
		if values[code] != nil && !values[code][r.indicators[i]] {
			t.Errorf("%s: %s %s is not a value the rulebook gives", r.id, code, r.indicators[i])
		}
	}
	edu, deduction := r.indicators[2], r.indicators[3]
	if !studyDeductionReachable(b, edu, deduction) {
		t.Errorf("%s: study deduction %s impossible with education %s", r.id, deduction, edu)
	}
	if law := r.indicators[9]; law > 0 || law%b.detentionPenalty != 0 {
		t.Errorf("%s: law record %s", r.id, law)
	}
}

func studyDeductionReachable(b *Rulebook, edu, deduction Points) bool {
	if edu == 0 {
		return deduction == 0
	}
	limit, ok := b.studyCaps[edu]
	if !ok {
		panic(fmt.Sprintf("no study cap for education %s", edu))
	}
	for m := 0; m <= limit; m++ {
		if -b.studyUnit.amount(b.studyRate, m) == deduction {
			return true
		}
	}
	return false
}
