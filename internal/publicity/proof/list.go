// Package proof is the pure core of the verifiable public list (issue 13,
// item 4): the canonical form of a published list, its SM3 and SHA-256
// digests, a Merkle tree over its rows and receipts that prove one row is in
// the list. No database and no clock: the publication service hands over the
// list it publishes, stores the digests and the root, and serves receipts.
// The byte format is the contract of docs/publicity.md; change both together.
package proof

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"jifen/internal/platform/crypto"
	"jifen/internal/rules"
)

// Format is the first line of the canonical file; it changes whenever the
// format does (docs/publicity.md).
const Format = "jifen-publicity/1"

// columns is the column line: the fields of every row line, in order. The
// indicator columns are rules.IndicatorCodes, in that order.
var columns = "number\tname\tborn\temployer\ttotal\t" + strings.Join(rules.IndicatorCodes(), "\t")

// Row is one published row: what the public sees, never an ID number, phone
// or address.
type Row struct {
	Number   string // 公示编号: year + 5 digits, e.g. 202206006
	Name     string // 姓名; empty where not published (imported historical lists)
	BirthYM  int    // 出生年月 as YYYYMM (197403 is March 1974)
	Employer string // 单位名称; empty where not published
	Total    rules.Points
	// Indicators holds the ten indicator values in rules.IndicatorCodes
	// order, or nothing where the list did not publish them (an imported
	// historical list such as 2021's).
	Indicators []rules.Points
}

// List is one version of a published list.
type List struct {
	Year        int
	Version     int // 1 for the first publication; a correction publishes 2, 3, …
	Quota       int
	Cutoff      rules.Points
	Qualified   int
	NoticeStart string // YYYY-MM-DD, or empty where unknown (imported lists)
	NoticeEnd   string // YYYY-MM-DD, or empty
	Rows        []Row
}

// Validate reports the first thing that keeps l from being published: the
// canonical form is defined for every list, but only a valid one means what
// the documentation says.
func (l *List) Validate() error {
	if l.Year < 1000 || l.Year > 9999 {
		return fmt.Errorf("proof: year %d is not four digits", l.Year)
	}
	if l.Version < 1 {
		return fmt.Errorf("proof: version %d is not positive", l.Version)
	}
	if l.Quota < 1 || l.Qualified < 0 {
		return fmt.Errorf("proof: quota %d or qualified %d out of range", l.Quota, l.Qualified)
	}
	for _, d := range []string{l.NoticeStart, l.NoticeEnd} {
		if d != "" && !validDate(d) {
			return fmt.Errorf("proof: notice date %q is not YYYY-MM-DD", d)
		}
	}
	prefix := strconv.Itoa(l.Year)
	seen := make(map[string]bool, len(l.Rows))
	for i, r := range l.Rows {
		if len(r.Number) != 9 || !strings.HasPrefix(r.Number, prefix) || !allDigits(r.Number) {
			return fmt.Errorf("proof: row %d: 公示编号 %q is not %s + 5 digits", i+1, r.Number, prefix)
		}
		if seen[r.Number] {
			return fmt.Errorf("proof: row %d: 公示编号 %s appears twice", i+1, r.Number)
		}
		seen[r.Number] = true
		if y, m := r.BirthYM/100, r.BirthYM%100; y < 1000 || y > 9999 || m < 1 || m > 12 {
			return fmt.Errorf("proof: row %d: birth month %d is not YYYYMM", i+1, r.BirthYM)
		}
		if n := len(r.Indicators); n != 0 && n != 10 {
			return fmt.Errorf("proof: row %d: %d indicator values, want 10 or none", i+1, n)
		}
		for _, s := range []string{r.Name, r.Employer} {
			// Any valid UTF-8 is representable (TAB, LF, CR and backslash are
			// escaped); whether a name may hold a control character is the
			// business of the forms that took it, not of the publication.
			if !utf8.ValidString(s) {
				return fmt.Errorf("proof: row %d: %q is not valid UTF-8", i+1, s)
			}
		}
	}
	return nil
}

// sorted returns the rows in 公示编号 order, without copying when they
// already are. All numbers of a valid list have nine digits, so comparing by
// length then bytes is comparing numbers.
func (l *List) sorted() []Row {
	cmp := func(a, b Row) int {
		if len(a.Number) != len(b.Number) {
			return len(a.Number) - len(b.Number)
		}
		return strings.Compare(a.Number, b.Number)
	}
	if slices.IsSortedFunc(l.Rows, cmp) {
		return l.Rows
	}
	rows := slices.Clone(l.Rows)
	slices.SortStableFunc(rows, cmp)
	return rows
}

// header returns the header lines, each ended by LF.
func (l *List) header() []byte {
	b := make([]byte, 0, 256)
	line := func(parts ...string) {
		for _, p := range parts {
			b = append(b, p...)
		}
		b = append(b, '\n')
	}
	line(Format)
	line("year=", strconv.Itoa(l.Year))
	line("version=", strconv.Itoa(l.Version))
	line("quota=", strconv.Itoa(l.Quota))
	line("cutoff=", l.Cutoff.String())
	line("qualified=", strconv.Itoa(l.Qualified))
	line("rows=", strconv.Itoa(len(l.Rows)))
	line("notice_start=", l.NoticeStart)
	line("notice_end=", l.NoticeEnd)
	line(columns)
	return b
}

// AppendRow appends the canonical bytes of one row, without the LF that ends
// it in the file: the bytes that are a Merkle leaf.
func AppendRow(b []byte, r Row) []byte {
	b = appendText(b, r.Number)
	b = append(b, '\t')
	b = appendText(b, r.Name)
	b = append(b, '\t')
	b = appendBirth(b, r.BirthYM)
	b = append(b, '\t')
	b = appendText(b, r.Employer)
	b = append(b, '\t')
	b = appendPoints(b, int64(r.Total))
	for i := range 10 {
		b = append(b, '\t')
		if len(r.Indicators) == 10 {
			b = appendPoints(b, int64(r.Indicators[i]))
		}
	}
	return b
}

// rowLines returns the canonical bytes of every row, in 公示编号 order.
func (l *List) rowLines() [][]byte {
	rows := l.sorted()
	buf := make([]byte, 0, len(rows)*120)
	ends := make([]int, len(rows))
	for i, r := range rows {
		buf = AppendRow(buf, r)
		ends[i] = len(buf)
	}
	out := make([][]byte, len(rows))
	start := 0
	for i, e := range ends {
		out[i] = buf[start:e:e]
		start = e
	}
	return out
}

// Canonical returns the canonical file of l as documented in
// docs/publicity.md: UTF-8 without BOM, every line ended by LF, the header,
// the column line, then one TAB-separated line per row in 公示编号 order.
func (l *List) Canonical() []byte {
	return assemble(l.header(), l.rowLines())
}

func assemble(header []byte, rows [][]byte) []byte {
	n := len(header)
	for _, r := range rows {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, header...)
	for _, r := range rows {
		b = append(b, r...)
		b = append(b, '\n')
	}
	return b
}

// SM3 is the SM3 digest (GB/T 32905) of Canonical, in lowercase hex: what
// `gmssl sm3` or `openssl dgst -sm3` prints for the downloaded file.
func (l *List) SM3() string { return crypto.SM3Hex(l.Canonical()) }

// SHA256 is the SHA-256 digest of Canonical, in lowercase hex: what
// `sha256sum` prints for the downloaded file.
func (l *List) SHA256() string { return sha256Hex(l.Canonical()) }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// appendText escapes the four bytes that would break a line or a field:
// backslash, TAB, LF, CR become \\, \t, \n, \r. Everything else, commas
// included, is copied as is. Invalid UTF-8 is replaced by U+FFFD so that the
// file is always UTF-8 (Validate refuses such a list anyway).
func appendText(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}

// unescape reverses appendText; any other backslash sequence is an error.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("a lone backslash at the end of a field")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("unknown escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

// appendPoints writes hundredths with exactly two decimals ("98.50",
// "-0.29"), as rules.Points.String does, without allocating.
func appendPoints(b []byte, v int64) []byte {
	if v < 0 {
		b, v = append(b, '-'), -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	return append(b, '.', byte('0'+v%100/10), byte('0'+v%10))
}

// appendBirth writes YYYYMM as YYYY-MM.
func appendBirth(b []byte, ym int) []byte {
	if ym < 0 {
		ym = 0
	}
	y, m := ym/100, ym%100
	for _, d := range []int{1000, 100, 10, 1} {
		b = append(b, byte('0'+y/d%10))
	}
	return append(b, '-', byte('0'+m/10), byte('0'+m%10))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[:4]) || !allDigits(s[5:7]) || !allDigits(s[8:]) {
		return false
	}
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:])
	return m >= 1 && m <= 12 && d >= 1 && d <= 31
}

// ParseRow reads the canonical bytes of one row (without its LF).
func ParseRow(line []byte) (Row, error) {
	f := strings.Split(string(line), "\t")
	if len(f) != 15 {
		return Row{}, fmt.Errorf("%d fields, want 15", len(f))
	}
	var r Row
	var err error
	if r.Number, err = unescape(f[0]); err != nil {
		return Row{}, fmt.Errorf("number: %w", err)
	}
	if r.Name, err = unescape(f[1]); err != nil {
		return Row{}, fmt.Errorf("name: %w", err)
	}
	if len(f[2]) != 7 || f[2][4] != '-' || !allDigits(f[2][:4]) || !allDigits(f[2][5:]) {
		return Row{}, fmt.Errorf("born %q is not YYYY-MM", f[2])
	}
	y, _ := strconv.Atoi(f[2][:4])
	m, _ := strconv.Atoi(f[2][5:])
	r.BirthYM = y*100 + m
	if r.Employer, err = unescape(f[3]); err != nil {
		return Row{}, fmt.Errorf("employer: %w", err)
	}
	if r.Total, err = rules.ParsePoints(f[4]); err != nil {
		return Row{}, fmt.Errorf("total %q: %w", f[4], err)
	}
	if f[5] != "" {
		r.Indicators = make([]rules.Points, 10)
		for i := range 10 {
			if r.Indicators[i], err = rules.ParsePoints(f[5+i]); err != nil {
				return Row{}, fmt.Errorf("indicator %s %q: %w", rules.IndicatorCodes()[i], f[5+i], err)
			}
		}
	}
	// The parse is strict by construction: the row must be the canonical
	// form of what was read, so "98.5", "+1.00" or a stray escape fail.
	if !bytes.Equal(AppendRow(nil, r), line) {
		return Row{}, errors.New("not in canonical form")
	}
	return r, nil
}

// Parse reads a canonical file back into a list. It is strict: the file must
// be byte for byte the Canonical of what it returns, so a file that parses is
// one whose digests mean what docs/publicity.md says.
func Parse(b []byte) (*List, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("proof: the file is not UTF-8")
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, errors.New("proof: the file does not end with LF")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if len(lines) < 10 || lines[0] != Format {
		return nil, fmt.Errorf("proof: the first line is not %s", Format)
	}
	keys := []string{"year", "version", "quota", "cutoff", "qualified", "rows", "notice_start", "notice_end"}
	vals := make([]string, len(keys))
	for i, k := range keys {
		v, ok := strings.CutPrefix(lines[1+i], k+"=")
		if !ok {
			return nil, fmt.Errorf("proof: line %d is not %s=…", 2+i, k)
		}
		vals[i] = v
	}
	l := &List{NoticeStart: vals[6], NoticeEnd: vals[7]}
	var err error
	for i, p := range []*int{&l.Year, &l.Version, &l.Quota} {
		if *p, err = strconv.Atoi(vals[[]int{0, 1, 2}[i]]); err != nil {
			return nil, fmt.Errorf("proof: %s: %w", keys[i], err)
		}
	}
	if l.Cutoff, err = rules.ParsePoints(vals[3]); err != nil {
		return nil, fmt.Errorf("proof: cutoff: %w", err)
	}
	if l.Qualified, err = strconv.Atoi(vals[4]); err != nil {
		return nil, fmt.Errorf("proof: qualified: %w", err)
	}
	if lines[9] != columns {
		return nil, errors.New("proof: line 10 is not the column line")
	}
	// rows= is checked by the final comparison with Canonical.
	l.Rows = make([]Row, 0, len(lines)-10)
	for i, line := range lines[10:] {
		r, err := ParseRow([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("proof: line %d: %w", 11+i, err)
		}
		l.Rows = append(l.Rows, r)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if !bytes.Equal(l.Canonical(), b) {
		return nil, errors.New("proof: the file is not in canonical form (order or number format)")
	}
	return l, nil
}
