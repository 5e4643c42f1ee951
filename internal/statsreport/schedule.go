package statsreport

import (
	"time"

	"jifen/internal/platform/clock"
)

// NextRun is the first run of a schedule strictly after `after`: Hour
// o'clock Beijing time, every day (Daily) or on Weekday, 1 Monday … 7
// Sunday (Weekly). Beijing keeps no daylight saving, so a day is always 24
// hours and the hour never shifts. Manual has no next run (zero time).
func NextRun(schedule string, weekday, hour int, after time.Time) time.Time {
	b := after.In(clock.Beijing)
	t := time.Date(b.Year(), b.Month(), b.Day(), hour, 0, 0, 0, clock.Beijing)
	switch schedule {
	case Daily:
		if !t.After(after) {
			t = t.AddDate(0, 0, 1)
		}
	case Weekly:
		want := weekday % 7 // time.Weekday: Sunday is 0
		t = t.AddDate(0, 0, (want-int(t.Weekday())+7)%7)
		if !t.After(after) {
			t = t.AddDate(0, 0, 7)
		}
	default:
		return time.Time{}
	}
	return t.UTC()
}
