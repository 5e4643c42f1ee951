package round

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"jifen/internal/platform/clock"
	"jifen/internal/rules"
)

// DefaultQuota is the quota a new round starts from (the order of the
// yearly quota since 2018).
const DefaultQuota = 6000

// at is a month, day and hour in Beijing time of the round's year.
type at struct {
	month time.Month
	day   int
	hour  int
}

// defaultCalendar is the schedule a new round starts from, modelled on the
// rounds of 2018–2021: registration in April, declarations into May, about
// six weeks of cross-check, a fortnight of first results and re-review, then
// publication with seven days of public notice, and settlement to the end of
// the year. The officer edits it to the year's announcement.
var defaultCalendar = []struct {
	kind         Kind
	opens, close at
}{
	{EmployerRegistration, at{time.April, 1, 9}, at{time.April, 30, 17}},
	{Application, at{time.April, 8, 9}, at{time.May, 15, 17}},
	{EmployerSubmission, at{time.April, 8, 9}, at{time.May, 22, 17}},
	{Crosscheck, at{time.May, 25, 9}, at{time.July, 6, 17}},
	{ResultViewing, at{time.July, 10, 9}, at{time.July, 24, 17}},
	{Review, at{time.July, 10, 9}, at{time.July, 24, 17}},
	{Publication, at{time.August, 14, 9}, at{time.December, 31, 17}},
	{PublicNotice, at{time.August, 14, 9}, at{time.August, 21, 9}},
	{Settlement, at{time.September, 1, 9}, at{time.December, 31, 17}},
}

// DefaultWindows returns the default schedule of a round of year.
func DefaultWindows(year int) []Window {
	t := func(a at) time.Time { return time.Date(year, a.month, a.day, a.hour, 0, 0, 0, clock.Beijing).UTC() }
	out := make([]Window, 0, len(defaultCalendar))
	for _, c := range defaultCalendar {
		out = append(out, Window{Kind: c.kind, OpensAt: t(c.opens), ClosesAt: t(c.close)})
	}
	return out
}

// Draft is the starting point of a new round's form: the year after the
// latest round (or the coming year's round when there is none yet), the
// rulebook in force for that year, DefaultQuota and DefaultWindows.
func (s *Service) Draft(ctx context.Context) (Input, error) {
	rs, err := s.List(ctx)
	if err != nil {
		return Input{}, err
	}
	var year int
	if len(rs) > 0 {
		year = rs[0].Year + 1
	} else {
		now := s.clock.Now().In(clock.Beijing)
		year = now.Year()
		if !now.Before(DefaultWindows(year)[0].OpensAt) {
			year++
		}
	}
	year = min(max(year, MinYear), MaxYear)
	book := rules.Latest()
	if b, err := rules.ForYear(year); err == nil {
		book = b
	}
	return Input{Year: year, Rulebook: book.Version(), Quota: DefaultQuota, Windows: DefaultWindows(year)}, nil
}

// stamp formats a time for the audit trail: Beijing time with its offset,
// so the record reads the way the officer typed it and stays unambiguous.
func stamp(t time.Time) string {
	t = t.In(clock.Beijing)
	if t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04-07:00")
	}
	return t.Format(time.RFC3339Nano)
}

// describe summarises a new round for its audit record.
func describe(in Input) string {
	var b strings.Builder
	fmt.Fprintf(&b, "year=%d rulebook=%s quota=%d title=%q", in.Year, in.Rulebook, in.Quota, in.Title)
	if in.OtherRulebook {
		b.WriteString(" other_rulebook=true")
	}
	for _, w := range in.Windows {
		fmt.Fprintf(&b, " %s=%s/%s", w.Kind, stamp(w.OpensAt), stamp(w.ClosesAt))
	}
	return b.String()
}

// diff lists what an update changes, one "field old→new" per change.
func diff(old *Round, in Input) []string {
	var out []string
	change := func(field, from, to string) {
		if from != to {
			out = append(out, field+" "+from+"→"+to)
		}
	}
	change("year", strconv.Itoa(old.Year), strconv.Itoa(in.Year))
	change("rulebook", old.Rulebook, in.Rulebook)
	change("quota", strconv.Itoa(old.Quota), strconv.Itoa(in.Quota))
	change("title", strconv.Quote(old.Title), strconv.Quote(in.Title))
	for _, w := range in.Windows {
		was, ok := old.Window(w.Kind)
		if !ok {
			out = append(out, fmt.Sprintf("%s set %s/%s", w.Kind, stamp(w.OpensAt), stamp(w.ClosesAt)))
			continue
		}
		change(OpensField(w.Kind), stamp(was.OpensAt), stamp(w.OpensAt))
		change(ClosesField(w.Kind), stamp(was.ClosesAt), stamp(w.ClosesAt))
	}
	return out
}
