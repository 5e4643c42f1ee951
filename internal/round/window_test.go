package round_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"jifen/internal/platform/apperr"
	"jifen/internal/round"
)

func TestOpenAtTheBoundaries(t *testing.T) {
	e := newEnv(t)
	r := e.create(t, validInput(2027))
	opens, closes := bj(2027, 4, 1, 9, 0), bj(2027, 4, 30, 17, 0)
	cases := []struct {
		name string
		now  time.Time
		open bool
		msg  string
	}{
		{"a microsecond before opening", opens.Add(-time.Microsecond), false, "单位注册尚未开始，开始时间 2027-04-01 09:00"},
		{"at opening", opens, true, ""},
		{"a microsecond before closing", closes.Add(-time.Microsecond), true, ""},
		{"at closing", closes, false, "单位注册已于 2027-04-30 17:00 结束"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := r.Open(round.EmployerRegistration, c.now); got != c.open {
				t.Errorf("Open = %v", got)
			}
			// The service checks the stored round against its clock.
			e.clock.Set(c.now)
			for _, err := range []error{r.RequireOpen(round.EmployerRegistration, c.now),
				e.svc.RequireOpen(e.ctx, r.ID, string(round.EmployerRegistration))} {
				switch {
				case c.open && err != nil:
					t.Errorf("open window refused: %v", err)
				case !c.open && (!apperr.Is(err, apperr.Conflict) || apperr.As(err).Message != c.msg):
					t.Errorf("got %v, want conflict %q", err, c.msg)
				}
			}
		})
	}
	e.clock.Set(opens)
	if err := e.svc.RequireOpen(e.ctx, r.ID, "lottery"); !apperr.Is(err, apperr.Internal) {
		t.Fatalf("unknown kind: %v", err)
	}
	if err := e.svc.RequireOpen(e.ctx, r.ID+1, "application"); !errors.Is(err, round.ErrNotFound) {
		t.Fatalf("unknown round: %v", err)
	}
}

func TestOpenNowAndNext(t *testing.T) {
	e := newEnv(t)
	r := e.create(t, validInput(2027))
	now := bj(2027, 4, 10, 12, 0)
	want := []round.Kind{round.EmployerRegistration, round.Application, round.EmployerSubmission}
	if got := r.OpenNow(now); !slices.Equal(got, want) {
		t.Fatalf("OpenNow = %v", got)
	}
	if next, ok := r.Next(now); !ok || next.Kind != round.Crosscheck {
		t.Fatalf("Next = %+v %v", next, ok)
	}
	// Result viewing and re-review open together: procedure order decides.
	if next, ok := r.Next(bj(2027, 7, 9, 0, 0)); !ok || next.Kind != round.ResultViewing {
		t.Fatalf("Next before results = %+v", next)
	}
	if _, ok := r.Next(bj(2027, 12, 1, 0, 0)); ok {
		t.Fatal("a window still to open in December")
	}
	if !r.Started(now) || r.Locked(now) || !r.Locked(bj(2027, 8, 14, 9, 0)) {
		t.Fatal("Started or Locked wrong")
	}
}

func TestCurrent(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.Current(e.ctx); !errors.Is(err, round.ErrNoRound) || !round.IsNotFound(err) {
		t.Fatalf("no rounds: %v", err)
	}
	// Created out of order on purpose.
	ids := map[int]int64{}
	for _, y := range []int{2027, 2026, 2028} {
		ids[y] = e.create(t, validInput(y)).ID
	}
	cases := []struct {
		now  time.Time
		year int
	}{
		{bj(2026, 1, 5, 10, 0), 2026},                       // nothing started: the next to start
		{bj(2026, 4, 1, 9, 0), 2026},                        // 2026 opens
		{bj(2027, 2, 1, 9, 0), 2026},                        // 2026 settles, 2027 not open yet
		{bj(2027, 4, 1, 9, 0).Add(-time.Microsecond), 2026}, // a moment before 2027 opens
		{bj(2027, 4, 1, 9, 0), 2027},                        // 2027's first window opens
		{bj(2028, 4, 1, 9, 0), 2028},
		{bj(2035, 1, 1, 0, 0), 2028}, // long after: the latest
	}
	for _, c := range cases {
		e.clock.Set(c.now)
		r, err := e.svc.Current(e.ctx)
		if err != nil || r.Year != c.year || r.ID != ids[c.year] {
			t.Fatalf("at %s: %+v %v, want %d", round.BeijingTime(c.now), r, err, c.year)
		}
	}
}

func TestCurrentIgnoresRoundsWithoutWindows(t *testing.T) {
	e := newEnv(t)
	// A row written by hand, as some test helpers do.
	if _, err := e.db.Exec(e.ctx, `INSERT INTO rounds (year, rulebook, quota, title, created_at, updated_at, created_by)
		VALUES ($1, '2020', 6000, 'bare', 0, 0, 0)`, 2029); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Current(e.ctx); !errors.Is(err, round.ErrNoRound) {
		t.Fatalf("a round without windows is current: %v", err)
	}
	bare, err := e.svc.ByYear(e.ctx, 2029)
	if err != nil {
		t.Fatal(err)
	}
	err = e.svc.RequireOpen(e.ctx, bare.ID, "application")
	if !apperr.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "未设置个人填报时间") {
		t.Fatalf("window of a bare round: %v", err)
	}
	r := e.create(t, validInput(2027))
	if c, err := e.svc.Current(e.ctx); err != nil || c.ID != r.ID {
		t.Fatalf("current %+v %v", c, err)
	}
}

// TestScheduleChangeTakesEffectAtOnce moves a window while the clock stands
// still: the next check already sees the new times.
func TestScheduleChangeTakesEffectAtOnce(t *testing.T) {
	e := newEnv(t)
	r := e.create(t, validInput(2027))
	e.clock.Set(bj(2027, 5, 16, 10, 0)) // declarations closed the day before
	if err := e.svc.RequireOpen(e.ctx, r.ID, "application"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("closed window: %v", err)
	}
	in := round.InputOf(r)
	in.Windows = setWindow(in.Windows, round.Application, bj(2027, 4, 8, 9, 0), bj(2027, 5, 20, 17, 0))
	if _, err := e.svc.Update(e.ctx, e.city, r.ID, in); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RequireOpen(e.ctx, r.ID, "application"); err != nil {
		t.Fatalf("extended window still closed: %v", err)
	}
}
