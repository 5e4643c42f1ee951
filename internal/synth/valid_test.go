package synth

import (
	"math/rand/v2"
	"testing"
)

// TestDeclarationsAreValid: every synthetic declaration passes the rules'
// validation, as a submitted or saved one must (a draft save validates
// too), whatever the person's age and the deliberate discrepancy.
func TestDeclarationsAreValid(t *testing.T) {
	const year = 2026
	r := rand.New(rand.NewPCG(7, 11))
	bad := 0
	for i := range 200000 {
		by, bm := year-1-(26+r.IntN(28)), 1+r.IntN(12)
		tr := makeTruth(r, year, by, bm, r.IntN(2) == 0, "海淀区")
		decl := declare(r, &tr, 0.05)
		if _, fe := decl.Facts(); len(fe) > 0 {
			if bad++; bad <= 5 {
				t.Errorf("person %d (born %d-%02d): %v\ntruth %+v\ndeclared %+v", i, by, bm, fe, tr.req, decl)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of 200,000 declarations invalid", bad)
	}
}
