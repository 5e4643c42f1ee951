package proof

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"

	"jifen/internal/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func pts(v ...rules.Points) []rules.Points { return v }

// small is the example of docs/publicity.md: an employer with a comma, a
// name with a TAB and a backslash (which must be escaped), and a row without
// indicator values as an imported historical list has.
func small() *List {
	return &List{
		Year: 2022, Version: 1, Quota: 2, Cutoff: 9850, Qualified: 3,
		NoticeStart: "2022-10-20", NoticeEnd: "2022-10-26",
		Rows: []Row{
			{Number: "202200002", Name: "李四", BirthYM: 198103, Employer: "北京甲乙科技有限公司,研发中心", Total: 9850,
				Indicators: pts(4300, 1250, 1500, 0, 400, 0, 400, 2000, 0, 0)},
			{Number: "202200001", Name: "张三", BirthYM: 197912, Employer: "北京某某有限公司", Total: 10312,
				Indicators: pts(6050, 1167, 2600, -29, 0, 0, 600, 2000, 0, -76)},
			{Number: "202200003", Name: "王\t五\\", BirthYM: 198507, Employer: "", Total: 9850},
		},
	}
}

// Digests of testdata/small.canonical.txt as printed by `sha256sum` and
// `openssl dgst -sm3` (OpenSSL 3), outside Go.
const (
	smallSHA256 = "7eb641043bdc1ac8fe5f6cebe78af1274a06b3a48650fd66f5ecbfa9b50a1bc3"
	smallSM3    = "fd0c528a1bd464f4cb8da9e56908fde05cafa85c02032b4a3fa1e1fa49266b4d"
)

func TestCanonicalGolden(t *testing.T) {
	got := small().Canonical()
	golden := filepath.Join("testdata", "small.canonical.txt")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("canonical bytes differ from %s:\n%s", golden, got)
	}
	if bytes.HasPrefix(got, []byte("\xef\xbb\xbf")) || bytes.Contains(got, []byte("\r")) || !bytes.HasSuffix(got, []byte("\n")) {
		t.Error("BOM, CR or no final LF")
	}
	// The employer's comma passes as is; the name's TAB and backslash are escaped.
	if !bytes.Contains(got, []byte("\t北京甲乙科技有限公司,研发中心\t")) || !bytes.Contains(got, []byte("\t王\\t五\\\\\t")) {
		t.Errorf("escaping:\n%s", got)
	}
	// Digests from outside tools, from the standard library, from gmsm
	// directly and from the test's own SM3: four ways to the same numbers.
	l := small()
	s256 := sha256.Sum256(want)
	gm := sm3.Sum(want)
	for name, pair := range map[string][2]string{
		"SHA256 vs sha256sum":      {l.SHA256(), smallSHA256},
		"crypto/sha256":            {hex.EncodeToString(s256[:]), smallSHA256},
		"SM3 vs openssl":           {l.SM3(), smallSM3},
		"gmsm sm3":                 {hex.EncodeToString(gm[:]), smallSM3},
		"independent SM3 in test":  {hex.EncodeToString(refSM3(want)), smallSM3},
		"Sealed SM3 = List SM3":    {mustSeal(t, l).SM3, l.SM3()},
		"Sealed SHA256 = List SHA": {mustSeal(t, l).SHA256, l.SHA256()},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s: %s, want %s", name, pair[0], pair[1])
		}
	}
}

func mustSeal(t testing.TB, l *List) *Sealed {
	t.Helper()
	s, err := l.Seal()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseRoundTrip(t *testing.T) {
	want := small().Canonical()
	l, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Canonical(); !bytes.Equal(got, want) {
		t.Fatalf("round trip:\n%s", got)
	}
	if l.Rows[2].Name != "王\t五\\" || l.Rows[1].Employer != "北京甲乙科技有限公司,研发中心" || l.Rows[2].Indicators != nil {
		t.Errorf("parsed rows %+v", l.Rows)
	}
}

func TestParseRefusesNonCanonical(t *testing.T) {
	good := string(small().Canonical())
	for name, bad := range map[string]string{
		"BOM":               "\ufeff" + good,
		"CRLF":              strings.ReplaceAll(good, "\n", "\r\n"),
		"no final LF":       strings.TrimSuffix(good, "\n"),
		"one decimal":       strings.Replace(good, "103.12", "103.1", 1),
		"unknown escape":    strings.Replace(good, `王\t五`, `王\x五`, 1),
		"rows out of order": strings.Replace(strings.Replace(good, "202200001\t", "202200009\t", 1), "202200003\t", "202200001\t", 1),
		"format":            strings.Replace(good, Format, "jifen-publicity/2", 1),
		"rows count":        strings.Replace(good, "rows=3", "rows=4", 1),
		"row dropped":       good[:strings.LastIndex(good[:len(good)-1], "\n")+1],
		"14 fields":         strings.Replace(good, "\t20.00\t0.00\t-0.76\n", "\t20.00\t0.00\n", 1),
		"invalid UTF-8":     good[:len(good)-3] + "\xff\n",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestValidate(t *testing.T) {
	for name, edit := range map[string]func(*List){
		"year":        func(l *List) { l.Year = 22 },
		"version":     func(l *List) { l.Version = 0 },
		"date":        func(l *List) { l.NoticeEnd = "2022-13-01" },
		"number":      func(l *List) { l.Rows[0].Number = "202100002" },
		"duplicate":   func(l *List) { l.Rows[1].Number = l.Rows[0].Number },
		"birth month": func(l *List) { l.Rows[0].BirthYM = 198113 },
		"indicators":  func(l *List) { l.Rows[0].Indicators = l.Rows[0].Indicators[:9] },
		"utf8":        func(l *List) { l.Rows[0].Employer = "\xff" },
	} {
		l := small()
		if err := l.Validate(); err != nil {
			t.Fatalf("valid list refused: %v", err)
		}
		edit(l)
		if err := l.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCanonicalIgnoresInputOrder: the file is in 公示编号 order whatever
// order the rows come in.
func TestCanonicalIgnoresInputOrder(t *testing.T) {
	a, b := small(), small()
	b.Rows[0], b.Rows[2] = b.Rows[2], b.Rows[0]
	if !bytes.Equal(a.Canonical(), b.Canonical()) {
		t.Error("row order changes the file")
	}
}

// FuzzParse: any bytes either fail to parse or are exactly the canonical
// file of what was parsed; nothing panics.
func FuzzParse(f *testing.F) {
	f.Add(small().Canonical())
	f.Add(listOf(7).Canonical())
	f.Add([]byte(Format + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(l.Canonical(), b) {
			t.Fatalf("parsed a non-canonical file:\n%q", b)
		}
	})
}
