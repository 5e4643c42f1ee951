package calendar_test

import (
	"context"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/calendar"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db/dbtest"
)

func newService(t *testing.T) *calendar.Service {
	t.Helper()
	d := dbtest.Open(t)
	c := clock.NewFake(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	return calendar.NewService(d, audit.New(d, c), c)
}

func bj(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, clock.Beijing)
	if err != nil {
		panic(err)
	}
	return t
}

func date(t time.Time) string { return t.In(clock.Beijing).Format("2006-01-02 15:04:05") }

// The shipped schedules against the State Council's notices.
func TestShippedWorkingDays(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		day  string
		work bool
	}{
		{"2025-10-01", false}, {"2025-10-08", false}, // 国庆、中秋 8 days
		{"2025-09-28", true}, {"2025-10-11", true}, // Sunday, Saturday worked
		{"2025-10-09", true}, {"2025-10-12", false},
		{"2025-01-26", true}, {"2025-02-04", false}, {"2025-02-08", true},
		{"2026-02-14", true}, {"2026-02-15", false}, {"2026-02-23", false}, {"2026-02-24", true}, {"2026-02-28", true},
		{"2026-01-04", true}, {"2026-05-09", true}, {"2026-05-05", false}, {"2026-09-20", true}, {"2026-10-10", true},
		{"2026-06-19", false}, {"2026-09-25", false}, {"2026-10-07", false}, {"2026-10-08", true},
		{"2027-02-08", false}, {"2027-06-09", false}, {"2027-09-15", false}, {"2027-10-04", true},
		{"2026-11-28", false}, {"2026-11-30", true}, // an ordinary weekend and Monday
	} {
		ok, err := s.IsWorkingDay(ctx, bj(tc.day+" 12:00"))
		if err != nil {
			t.Fatal(err)
		}
		if ok != tc.work {
			t.Errorf("%s working = %v, want %v", tc.day, ok, tc.work)
		}
	}
}

func TestAddWorkingDays(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		from string
		n    int
		want string
	}{
		// 2025-09-30 (Tue) + 1: 10-01..08 off, 10-09 (Thu) is the first.
		{"2025-09-30 10:00", 1, "2025-10-09 23:59:59"},
		// Friday 09-26 + 1 is the working Sunday 09-28.
		{"2025-09-26 18:00", 1, "2025-09-28 23:59:59"},
		// 10-09 Thu, 10-10 Fri, 10-11 working Saturday.
		{"2025-09-30 10:00", 3, "2025-10-11 23:59:59"},
		// 2026 春节: Friday 02-13 + 1 is the working Saturday 02-14, + 2 is 02-24.
		{"2026-02-13 09:00", 1, "2026-02-14 23:59:59"},
		{"2026-02-13 09:00", 2, "2026-02-24 23:59:59"},
		// 02-24..27 (Tue–Fri), 02-28 worked Saturday, 03-02 Monday.
		{"2026-02-13 09:00", 7, "2026-03-02 23:59:59"},
		// A holiday start with n = 0 runs to the next working day.
		{"2026-10-03 09:00", 0, "2026-10-08 23:59:59"},
		// Late evening in UTC is already the next Beijing day.
		{"2026-12-03 23:30", 1, "2026-12-04 23:59:59"},
	} {
		got, err := s.AddWorkingDays(ctx, bj(tc.from), tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if date(got) != tc.want {
			t.Errorf("%s + %d = %s, want %s", tc.from, tc.n, date(got), tc.want)
		}
	}
	// The deadline is the last microsecond of the day, Beijing time.
	got, _ := s.AddWorkingDays(ctx, bj("2026-12-01 10:00"), 1)
	if want := bj("2026-12-03 00:00").Add(-time.Microsecond); !got.Equal(want) {
		t.Errorf("deadline %v, want %v", got, want)
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		from, to string
		want     int
	}{
		{"2025-09-30 10:00", "2025-10-12 10:00", 3},
		{"2026-02-13 10:00", "2026-03-02 10:00", 7},
		{"2026-12-01 10:00", "2026-12-01 18:00", 0},
		{"2026-12-05 10:00", "2026-12-01 18:00", 0},
	} {
		n, err := s.WorkingDaysBetween(ctx, bj(tc.from), bj(tc.to))
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("%s..%s = %d, want %d", tc.from, tc.to, n, tc.want)
		}
	}
}

func TestEditDays(t *testing.T) {
	t.Parallel()
	s := newService(t)
	ctx := context.Background()
	city := actor.Actor{UserID: 1, Login: "city", Roles: []actor.Role{actor.CityOfficer}}
	district := actor.Actor{UserID: 2, Login: "hd", Roles: []actor.Role{actor.DistrictOfficer}}

	if _, err := s.Set(ctx, district, "2027-02-09", calendar.Holiday, "春节"); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("district officer edits the calendar: %v", err)
	}
	// A workday on a weekday and a bad date are field errors.
	if _, err := s.Set(ctx, city, "2027-02-10", calendar.Workday, "春节"); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("workday on a Wednesday: %v", err)
	}
	if _, err := s.Set(ctx, city, "2027-13-01", calendar.Holiday, "x"); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("bad date: %v", err)
	}
	if _, err := s.Set(ctx, city, "2027-02-09", "rest", "x"); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("bad kind: %v", err)
	}
	before, _ := s.AddWorkingDays(ctx, bj("2027-02-08 10:00"), 1)
	if _, err := s.Set(ctx, city, "2027-02-09", calendar.Holiday, "春节"); err != nil {
		t.Fatal(err)
	}
	// Setting it again changes it in place (no duplicate).
	if _, err := s.Set(ctx, city, "2027-02-09", calendar.Holiday, "春节（调休）"); err != nil {
		t.Fatal(err)
	}
	after, _ := s.AddWorkingDays(ctx, bj("2027-02-08 10:00"), 1)
	if date(before) != "2027-02-09 23:59:59" || date(after) != "2027-02-10 23:59:59" {
		t.Errorf("before %s after %s", date(before), date(after))
	}
	days, err := s.Year(ctx, 2027)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range days {
		if d.Date == "2027-02-09" {
			found = d.Name == "春节（调休）" && d.UpdatedBy == "city"
		}
	}
	if !found {
		t.Errorf("2027-02-09 not stored as changed: %+v", days)
	}
	if err := s.Remove(ctx, city, "2027-02-09"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, city, "2027-02-09"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("removing twice: %v", err)
	}
	if _, err := s.Year(ctx, 1900); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("year 1900: %v", err)
	}
}
