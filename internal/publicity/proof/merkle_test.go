package proof

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"jifen/internal/rules"
)

// mth is RFC 6962 §2.1's recursive definition, written from the RFC with
// the test's own SM3, to check the level-by-level tree against.
func mth(d [][]byte) []byte {
	switch len(d) {
	case 0:
		return refSM3(nil)
	case 1:
		return refSM3(append([]byte{0}, d[0]...))
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	return refSM3(append(append([]byte{1}, mth(d[:k])...), mth(d[k:])...))
}

// path is RFC 6962 §2.1.1's PATH(m, D[n]).
func path(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := 1
	for k*2 < len(d) {
		k *= 2
	}
	if m < k {
		return append(path(m, d[:k]), mth(d[k:]))
	}
	return append(path(m-k, d[k:]), mth(d[:k]))
}

// listOf builds a valid list of n rows with names and employers that need
// escaping now and then.
func listOf(n int) *List {
	l := &List{Year: 2022, Version: 1, Quota: n, Cutoff: 9000, Qualified: n, NoticeStart: "2022-10-20", NoticeEnd: "2022-10-26"}
	for i := range n {
		r := Row{
			Number: fmt.Sprintf("2022%05d", i+1), Name: fmt.Sprintf("申请人%d", i), BirthYM: 197001 + (i%30)*100 + i%12,
			Employer: fmt.Sprintf("北京第%d有限公司,分公司", i%97), Total: rules.Points(20000 - i),
		}
		if i%5 != 0 {
			r.Indicators = []rules.Points{6000, 1500, 2600, -29, 400, 0, 600, 2000, 0, rules.Points(-i % 300)}
		}
		if i%13 == 0 {
			r.Name += "\t\\"
		}
		l.Rows = append(l.Rows, r)
	}
	return l
}

func TestTreeMatchesRFC6962(t *testing.T) {
	for n := 0; n <= 33; n++ {
		rows := make([][]byte, n)
		for i := range rows {
			rows[i] = []byte(fmt.Sprintf("row %d", i))
		}
		tr := NewTree(rows)
		if got, want := tr.Root(), mth(rows); !bytes.Equal(got, want) {
			t.Fatalf("n=%d: root %x, want %x", n, got, want)
		}
		for i := range n {
			p, err := tr.Proof(i)
			if err != nil {
				t.Fatal(err)
			}
			want := path(i, rows)
			if len(p.Path) != len(want) {
				t.Fatalf("n=%d i=%d: path of %d, want %d", n, i, len(p.Path), len(want))
			}
			for k := range want {
				if !bytes.Equal(p.Path[k], want[k]) {
					t.Fatalf("n=%d i=%d: path[%d] differs", n, i, k)
				}
			}
			if err := Verify(tr.Root(), rows[i], p); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			// The proof of one row never proves another.
			if n > 1 {
				if err := Verify(tr.Root(), rows[(i+1)%n], p); err == nil {
					t.Fatalf("n=%d i=%d: proves row %d too", n, i, (i+1)%n)
				}
			}
		}
		if _, err := tr.Proof(n); !errors.Is(err, ErrIndex) {
			t.Errorf("n=%d: proof past the end: %v", n, err)
		}
	}
}

func TestReceiptsVerify(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 1000} {
		l := listOf(n)
		s := mustSeal(t, l)
		if s.Root != l.MerkleRoot() {
			t.Fatalf("n=%d: sealed root differs from MerkleRoot", n)
		}
		for i, r := range l.Rows {
			rc, err := s.Receipt(r.Number)
			if err != nil {
				t.Fatal(err)
			}
			// Through JSON, as the applicant downloads it.
			b, err := json.Marshal(rc)
			if err != nil {
				t.Fatal(err)
			}
			var back Receipt
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if err := VerifyReceipt(&back); err != nil {
				t.Fatalf("n=%d row %d: %v", n, i, err)
			}
			if back.Row != string(AppendRow(nil, r)) || back.Index != i || back.TreeSize != n {
				t.Fatalf("n=%d row %d: receipt %+v", n, i, back)
			}
			if n <= 7 || i%97 == 0 {
				if err := CheckAgainstList(&back, s.Canonical); err != nil {
					t.Fatalf("n=%d row %d against the list: %v", n, i, err)
				}
			}
		}
	}
	if _, err := listOf(3).Receipt("202299999"); !errors.Is(err, ErrNoRow) {
		t.Errorf("unknown number: %v", err)
	}
	if _, err := small().Receipt("202200001"); err != nil {
		t.Errorf("List.Receipt: %v", err)
	}
}

// tamperHex yields every single-byte change of a hex-encoded hash: each byte
// of the decoded hash XORed with every non-zero value re-encoded, and each
// hex digit replaced by every other character that hex accepts (upper case
// included, which decodes to the same bytes yet must fail too).
func tamperHex(s string) []string {
	var out []string
	b, _ := hex.DecodeString(s)
	for i := range b {
		for x := 1; x < 256; x++ {
			c := bytes.Clone(b)
			c[i] ^= byte(x)
			out = append(out, hex.EncodeToString(c))
		}
	}
	for i := range len(s) {
		for _, c := range "0123456789abcdefABCDEF" {
			if byte(c) != s[i] {
				out = append(out, s[:i]+string(c)+s[i+1:])
			}
		}
	}
	return out
}

func TestTamperedReceiptsFail(t *testing.T) {
	s := mustSeal(t, listOf(7))
	for _, number := range []string{"202200001", "202200004", "202200007"} {
		good, err := s.Receipt(number)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyReceipt(good); err != nil {
			t.Fatal(err)
		}
		check := func(what string, edit func(r *Receipt)) {
			t.Helper()
			r := *good
			r.Path = append([]string(nil), good.Path...)
			edit(&r)
			err := VerifyReceipt(&r)
			if err == nil {
				t.Fatalf("%s %s: verified", number, what)
			}
			if msg := err.Error(); !strings.Contains(msg, "回执无效") || !strings.Contains(msg, "invalid receipt") {
				t.Fatalf("%s: message %q is not Chinese and English", what, msg)
			}
		}
		// Every byte of the row, changed to every other value.
		for i := range len(good.Row) {
			for x := 1; x < 256; x++ {
				check(fmt.Sprintf("row byte %d^%d", i, x), func(r *Receipt) {
					b := []byte(r.Row)
					b[i] ^= byte(x)
					r.Row = string(b)
				})
			}
		}
		for _, v := range tamperHex(good.MerkleRoot) {
			check("root "+v, func(r *Receipt) { r.MerkleRoot = v })
		}
		for k, h := range good.Path {
			for _, v := range tamperHex(h) {
				check(fmt.Sprintf("path[%d] %s", k, v), func(r *Receipt) { r.Path[k] = v })
			}
		}
		for _, idx := range []int{-1, good.Index - 1, good.Index + 1, 7, 1 << 40} {
			check(fmt.Sprintf("index %d", idx), func(r *Receipt) { r.Index = idx })
		}
		// The tree size is not bound by the path alone (RFC 6962 binds it
		// in the signed tree head): a left-hand leaf of 7 has the path it
		// would have in a tree of 6. Impossible sizes fail on their own;
		// any other size fails against the list, whose row count is
		// published (the rows= line of the file).
		for _, size := range []int{0, 1, 1 << 40} {
			check(fmt.Sprintf("size %d", size), func(r *Receipt) { r.TreeSize = size })
		}
		for _, size := range []int{6, 8} {
			r := *good
			r.TreeSize = size
			if err := CheckAgainstList(&r, s.Canonical); err == nil {
				t.Fatalf("%s size %d: checks against the list", number, size)
			}
		}
		check("path dropped", func(r *Receipt) { r.Path = r.Path[1:] })
		check("path added", func(r *Receipt) { r.Path = append(r.Path, r.MerkleRoot) })
		check("paths swapped", func(r *Receipt) { r.Path[0], r.Path[1] = r.Path[1], r.Path[0] })
		check("number", func(r *Receipt) { r.Number = "202200009" })
		check("year", func(r *Receipt) { r.Year = 2021 })
		check("hash", func(r *Receipt) { r.Hash = "sha256" })
		check("format", func(r *Receipt) { r.Format = "x" })
	}
}

func TestReceiptAgainstAnotherList(t *testing.T) {
	a := mustSeal(t, listOf(7))
	changed := listOf(7)
	changed.Rows[3].Total++
	b := mustSeal(t, changed)
	r, err := a.Receipt("202200001")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAgainstList(r, b.Canonical); err == nil {
		t.Error("a receipt of one list checks against another")
	}
	// Even with the other list's digests copied in, the root gives it away.
	r.ListSM3, r.ListSHA256 = b.SM3, b.SHA256
	if err := CheckAgainstList(r, b.Canonical); err == nil || !strings.Contains(err.Error(), "Merkle") {
		t.Errorf("digests copied: %v", err)
	}
}

func FuzzVerifyReceipt(f *testing.F) {
	s := mustSeal(f, listOf(7))
	for _, n := range []string{"202200001", "202200006"} {
		r, _ := s.Receipt(n)
		b, _ := json.Marshal(r)
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"format":"jifen-publicity-receipt/1","list_format":"jifen-publicity/1","year":2022,"version":1,"hash":"sm3","index":-5,"tree_size":-1,"path":null}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Receipt
		if json.Unmarshal(b, &r) != nil {
			return
		}
		_ = VerifyReceipt(&r)
		_ = CheckAgainstList(&r, s.Canonical)
	})
}

func BenchmarkTree6000(b *testing.B) {
	rows := listOf(6000).rowLines()
	b.ReportAllocs()
	for b.Loop() {
		NewTree(rows)
	}
}

func BenchmarkSeal6000(b *testing.B) {
	l := listOf(6000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Seal(); err != nil {
			b.Fatal(err)
		}
	}
}
