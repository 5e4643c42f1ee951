package clock

import (
	"testing"
	"time"
)

func TestBeijingDay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		utc  time.Time
		want string
	}{
		{time.Date(2026, 2, 28, 15, 59, 59, 0, time.UTC), "2026-02-28T00:00:00+08:00"}, // 23:59:59 in Beijing
		{time.Date(2026, 2, 28, 16, 0, 0, 0, time.UTC), "2026-03-01T00:00:00+08:00"},   // midnight in Beijing
		{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), "2026-03-01T00:00:00+08:00"},
	} {
		if got := BeijingDay(tc.utc).Format(time.RFC3339); got != tc.want {
			t.Errorf("BeijingDay(%s) = %s, want %s", tc.utc, got, tc.want)
		}
	}
}
