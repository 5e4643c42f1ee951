package ranking

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/emmansun/gmsm/sm3"

	"jifen/internal/rules"
)

// smallList has a tie at the line (quota 2 lands on 98.50, shared by two),
// a negative total, and a tie broken by birth month then application ID.
func smallList() []Entry {
	return []Entry{
		{ApplicationID: 17, Total: 9850, BirthYM: 198507},
		{ApplicationID: 4, Total: 10312, BirthYM: 197912},
		{ApplicationID: 9, Total: 9850, BirthYM: 198103},
		{ApplicationID: 2, Total: 9001, BirthYM: 199001},
		{ApplicationID: 3, Total: 9001, BirthYM: 199001},
		{ApplicationID: 30, Total: -29, BirthYM: 200002},
	}
}

// TestCanonicalGolden pins the bytes of the serialization (docs/ranking.md)
// and its SM3 digest: any change here is a change of format and needs a new
// Format line.
func TestCanonicalGolden(t *testing.T) {
	r, err := Rank(2022, 2, smallList())
	if err != nil {
		t.Fatal(err)
	}
	got := r.Canonical()
	want, err := os.ReadFile(filepath.Join("testdata", "small.canonical.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("canonical serialization\n got:\n%s\nwant:\n%s", got, want)
	}
	// The digest is SM3 over exactly those bytes, computed here independently.
	sum := sm3.Sum(want)
	if d := r.Digest(); d != hex.EncodeToString(sum[:]) || d != "9b7dca0550e9c3285f7ecaa62c6f333a5d438eeb59ecf3fb98265b4a7e4ee828" {
		t.Errorf("digest %s, SM3 of the golden file %x", d, sum)
	}
	// Input order does not change a byte.
	es := smallList()
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	r2, err := Rank(2022, 2, es)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r2.Canonical(), want) {
		t.Errorf("serialization depends on input order")
	}
}

func TestAppendPointsMatchesPointsString(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 9, 10, 99, 100, -29, 10542, -1050, 123456789} {
		if got, want := string(appendPoints(nil, v)), rules.Points(v).String(); got != want {
			t.Errorf("%d: %q, want %q", v, got, want)
		}
	}
}
