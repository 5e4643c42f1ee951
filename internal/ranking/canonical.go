package ranking

import (
	"strconv"

	"jifen/internal/platform/crypto"
)

// Format is the first line of the canonical serialization; it changes
// whenever the format does (docs/ranking.md).
const Format = "jifen-ranking/1"

// Canonical returns the canonical serialization of a committed ranking, as
// documented in docs/ranking.md: ASCII (so also UTF-8), no BOM, every line
// ended by LF, a header of key=value lines, then one line per ranked entry in
// ranking order: rank,publicity_no,application_id,birth_ym,total.
func (r *Result) Canonical() []byte {
	b := make([]byte, 0, 128+len(r.Entries)*40)
	line := func(parts ...string) {
		for _, p := range parts {
			b = append(b, p...)
		}
		b = append(b, '\n')
	}
	line(Format)
	line("year=", strconv.Itoa(r.Year))
	line("quota=", strconv.Itoa(r.Quota))
	line("ranked=", strconv.Itoa(len(r.Entries)))
	line("cutoff=", r.Cutoff.String())
	line("qualified=", strconv.Itoa(r.Qualified))
	line("tied_at_line=", strconv.Itoa(r.TiedAtLine))
	line("rank,publicity_no,application_id,birth_ym,total")
	for _, e := range r.Entries {
		b = strconv.AppendInt(b, int64(e.Rank), 10)
		b = append(b, ',')
		b = append(b, e.PublicityNo...)
		b = append(b, ',')
		b = strconv.AppendInt(b, e.ApplicationID, 10)
		b = append(b, ',')
		b = appendBirth(b, e.BirthYM)
		b = append(b, ',')
		b = appendPoints(b, int64(e.Total))
		b = append(b, '\n')
	}
	return b
}

// appendPoints writes hundredths with exactly two decimals, as
// rules.Points.String does ("98.50", "-0.29"), without allocating.
func appendPoints(b []byte, v int64) []byte {
	if v < 0 {
		b, v = append(b, '-'), -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	return append(b, '.', byte('0'+v%100/10), byte('0'+v%10))
}

// appendBirth writes YYYYMM as YYYY-MM.
func appendBirth(b []byte, ym int) []byte {
	y, m := ym/100, ym%100
	for _, d := range []int{1000, 100, 10, 1} {
		b = append(b, byte('0'+y/d%10))
	}
	return append(b, '-', byte('0'+m/10), byte('0'+m%10))
}

// Digest is the SM3 digest of Canonical, in lowercase hex: what the
// publication records and publishes.
func (r *Result) Digest() string { return crypto.SM3Hex(r.Canonical()) }
