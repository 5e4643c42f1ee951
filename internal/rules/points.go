package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Points is a score in hundredths of a point: 4300 is 43.00. Every indicator
// is kept to two decimal places and the total is their plain sum, so integer
// hundredths are exact where floating point would drift.
type Points int64

// String formats p with exactly two decimals, e.g. "43.00", "-10.50".
func (p Points) String() string {
	return formatHundredths(int64(p), true)
}

// MarshalJSON writes p as a JSON number in the shortest exact form, as the
// bureau's published lists do: 43, 12.67, -10.5.
func (p Points) MarshalJSON() ([]byte, error) {
	return []byte(formatHundredths(int64(p), false)), nil
}

// UnmarshalJSON reads a JSON number with at most two decimal places.
func (p *Points) UnmarshalJSON(b []byte) error {
	v, err := parseHundredths(string(b), true)
	if err != nil {
		return fmt.Errorf("rules: points %s: %w", b, err)
	}
	*p = Points(v)
	return nil
}

// ParsePoints reads a decimal such as "10.5" or "-0.29" exactly.
func ParsePoints(s string) (Points, error) {
	v, err := parseHundredths(s, true)
	return Points(v), err
}

// Amount is a non-negative quantity of money with two decimal places, kept in
// hundredths: income tax in yuan (so hundredths are fen) and equity financing
// in 万元.
type Amount int64

// String formats a with two decimals, e.g. "100000.00".
func (a Amount) String() string { return formatHundredths(int64(a), true) }

// ParseAmount reads a non-negative decimal with at most two decimal places.
func ParseAmount(s string) (Amount, error) {
	v, err := parseHundredths(s, false)
	return Amount(v), err
}

// maxHundredths bounds parsed decimals so that sums and products of a few
// hundred of them stay far from int64 overflow.
const maxHundredths = 1e15

var (
	errDecimalSyntax = errors.New("not a decimal number")
	errDecimalPlaces = errors.New("more than two decimal places")
	errDecimalSign   = errors.New("negative")
	errDecimalRange  = errors.New("too large")
)

// parseHundredths parses a plain decimal ("12", "12.5", "-0.29") into
// hundredths. Exponents are accepted when the value is still exact in
// hundredths (JSON encoders sometimes write 1e5).
func parseHundredths(s string, allowNegative bool) (int64, error) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e < -20 || e > 20 {
			return 0, errDecimalSyntax
		}
		exp, s = e, s[:i]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || !allDigits(intPart) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, errDecimalSyntax
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	scale := len(frac) - exp // value = digits × 10^-scale
	// Shift to hundredths: value×100 = digits × 10^(2-scale).
	shift := 2 - scale
	if shift < 0 {
		cut := len(digits) + shift
		if cut < 0 {
			cut = 0
		}
		if strings.Trim(digits[cut:], "0") != "" {
			return 0, errDecimalPlaces
		}
		digits = digits[:cut]
	} else {
		if len(digits)+shift > 17 {
			return 0, errDecimalRange
		}
		digits += strings.Repeat("0", shift)
	}
	if digits == "" {
		digits = "0"
	}
	if len(digits) > 17 {
		return 0, errDecimalRange
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v > maxHundredths {
		return 0, errDecimalRange
	}
	if neg && v != 0 {
		if !allowNegative {
			return 0, errDecimalSign
		}
		v = -v
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatHundredths writes v/100; fixed keeps both decimals, otherwise
// trailing zeros and a bare point are dropped.
func formatHundredths(v int64, fixed bool) string {
	var buf [24]byte
	b := buf[:0]
	if v < 0 {
		b, v = append(b, '-'), -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	cents := v % 100
	switch {
	case fixed || cents%10 != 0:
		b = append(b, '.', byte('0'+cents/10), byte('0'+cents%10))
	case cents != 0:
		b = append(b, '.', byte('0'+cents/10))
	}
	return string(b)
}

// Rate is an exact rational number of points, written in a rulebook as a
// decimal or a decimal over an integer: "0.25", "1/12", "0.5/12".
type Rate struct {
	num, den int64 // den > 0, reduced
	text     string
}

// ParseRate reads a rulebook rate.
func ParseRate(s string) (Rate, error) {
	numText, denText, hasDen := strings.Cut(strings.TrimSpace(s), "/")
	n, err := parseHundredths(numText, false)
	if err != nil {
		return Rate{}, fmt.Errorf("rules: rate %q: %w", s, err)
	}
	den := int64(100)
	if hasDen {
		d, err := strconv.ParseInt(strings.TrimSpace(denText), 10, 64)
		if err != nil || d <= 0 || d > 1e6 {
			return Rate{}, fmt.Errorf("rules: rate %q: bad denominator", s)
		}
		den *= d
	}
	return newRate(n, den, strings.TrimSpace(s)), nil
}

func newRate(num, den int64, text string) Rate {
	g := gcd(num, den)
	return Rate{num: num / g, den: den / g, text: text}
}

// Plus returns r + o, labelled "r + o".
func (r Rate) Plus(o Rate) Rate {
	return newRate(r.num*o.den+o.num*r.den, r.den*o.den, r.text+" + "+o.text)
}

// Times returns n × r in points, rounded half-up to hundredths. n ≥ 0.
func (r Rate) Times(n int64) Points {
	return Points(roundHalfUp(n*r.num*100, r.den))
}

// String is the rate as the rulebook writes it.
func (r Rate) String() string { return r.text }

// roundHalfUp rounds num/den (num ≥ 0, den > 0) to the nearest integer,
// halves going up.
func roundHalfUp(num, den int64) int64 {
	return (2*num + den) / (2 * den)
}

func gcd(a, b int64) int64 {
	if a < 0 {
		a = -a
	}
	for b != 0 {
		a, b = b, a%b
	}
	if a == 0 {
		return 1
	}
	return a
}
