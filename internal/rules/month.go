package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Month is a calendar month counted as year×12 + (month−1), so that
// consecutive months are consecutive integers and a difference of two Months
// is a number of months.
type Month int32

// MonthOf returns the Month of the given year and month (1–12).
func MonthOf(year int, month time.Month) Month {
	return Month(year*12 + int(month) - 1)
}

// ParseMonth reads a month written "YYYY-MM" (exactly that form).
func ParseMonth(s string) (Month, error) {
	if len(s) != 7 || s[4] != '-' || !allDigits(s[:4]) || !allDigits(s[5:]) {
		return 0, errors.New("rules: month must be YYYY-MM")
	}
	y, _ := strconv.Atoi(s[:4])
	m, _ := strconv.Atoi(s[5:])
	if m < 1 || m > 12 {
		return 0, errors.New("rules: month out of range")
	}
	return MonthOf(y, time.Month(m)), nil
}

// Year is the calendar year of m.
func (m Month) Year() int { return int(m) / 12 }

// Month is the month of the year of m.
func (m Month) Month() time.Month { return time.Month(int(m)%12 + 1) }

// String writes m as "YYYY-MM".
func (m Month) String() string {
	y, mm := m.Year(), int(m.Month())
	if y < 0 || y > 9999 {
		return fmt.Sprintf("%04d-%02d", y, mm)
	}
	b := []byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + mm/10), byte('0' + mm%10)}
	return string(b)
}

// Period is a run of whole months, both ends included.
type Period struct {
	From Month
	To   Month
}

// Months is the number of months in p (0 when To is before From).
func (p Period) Months() int {
	if p.To < p.From {
		return 0
	}
	return int(p.To-p.From) + 1
}

// Contains reports whether m lies in p.
func (p Period) Contains(m Month) bool { return m >= p.From && m <= p.To }

// String writes p as "YYYY-MM至YYYY-MM".
func (p Period) String() string { return p.From.String() + "至" + p.To.String() }

// ParseDate reads a calendar date written "YYYY-MM-DD" and returns it at
// midnight UTC; only the year, month and day are ever used.
func ParseDate(s string) (time.Time, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, errors.New("rules: date must be YYYY-MM-DD")
	}
	return time.Parse(time.DateOnly, s)
}

// completedYears is a person's age in completed years on the given day: the
// birthday itself completes the year. Someone born on 29 February completes
// a year on 1 March in common years.
func completedYears(birth time.Time, year int, month time.Month, day int) int {
	age := year - birth.Year()
	if month < birth.Month() || (month == birth.Month() && day < birth.Day()) {
		age--
	}
	return age
}

// monthSpan is a window of months [lo, hi] with a set of flags per month;
// scoring marks the facts into it once and then counts.
type monthSpan struct {
	lo, hi Month
	flags  []uint16
}

// Flags of monthSpan.
const (
	fPaid        uint16 = 1 << iota // social insurance actually paid
	fBackPaid                       // social insurance back-paid (补缴)
	fDeclared                       // some housing record covers the month
	fTaken                          // the month already scored for housing
	fHomeOutside                    // lives outside the core districts in a qualifying home
	fWorkOutside                    // some workplace outside the core districts
	fWorkInside                     // some workplace inside the core districts
)

func newMonthSpan(lo, hi Month, buf []uint16) monthSpan {
	n := 0
	if hi >= lo {
		n = int(hi-lo) + 1
	}
	if cap(buf) < n {
		buf = make([]uint16, n)
	}
	buf = buf[:n]
	clear(buf)
	return monthSpan{lo: lo, hi: hi, flags: buf}
}

// clip returns the part of p inside the span as indexes [a, b]; ok is false
// when they do not meet.
func (s *monthSpan) clip(p Period) (a, b int, ok bool) {
	from, to := max(p.From, s.lo), min(p.To, s.hi)
	if to < from {
		return 0, 0, false
	}
	return int(from - s.lo), int(to - s.lo), true
}

// mark sets flag on every month of p inside the span.
func (s *monthSpan) mark(p Period, flag uint16) {
	if a, b, ok := s.clip(p); ok {
		for i := a; i <= b; i++ {
			s.flags[i] |= flag
		}
	}
}

// at returns the flags of month m (0 outside the span).
func (s *monthSpan) at(m Month) uint16 {
	if m < s.lo || m > s.hi {
		return 0
	}
	return s.flags[m-s.lo]
}

// count is the number of months in p with every bit of flag set.
func (s *monthSpan) count(p Period, flag uint16) int {
	n := 0
	if a, b, ok := s.clip(p); ok {
		for i := a; i <= b; i++ {
			if s.flags[i]&flag == flag {
				n++
			}
		}
	}
	return n
}

// runs writes the months of p for which keep is true as compact ranges:
// "2019-03至2019-04、2020-01".
func (s *monthSpan) runs(p Period, keep func(uint16) bool) string {
	var parts []string
	a, b, ok := s.clip(p)
	if !ok {
		return ""
	}
	for i := a; i <= b; i++ {
		if !keep(s.flags[i]) {
			continue
		}
		j := i
		for j+1 <= b && keep(s.flags[j+1]) {
			j++
		}
		from, to := s.lo+Month(i), s.lo+Month(j)
		if from == to {
			parts = append(parts, from.String())
		} else {
			parts = append(parts, Period{from, to}.String())
		}
		i = j
	}
	return strings.Join(parts, "、")
}
