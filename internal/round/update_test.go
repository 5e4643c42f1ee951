package round_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/round"
)

type auditRow struct {
	action, objectID, reason string
	actorID                  int64
}

// auditRows returns the audit records of rounds, oldest first.
func (e *env) auditRows(t *testing.T) []auditRow {
	t.Helper()
	rows, err := e.db.Query(e.ctx, `SELECT action, object_id, reason, actor_id FROM audit_log WHERE object_type = $1 ORDER BY id`, "round")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var a auditRow
		if err := rows.Scan(&a.action, &a.objectID, &a.reason, &a.actorID); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChangesAreAudited(t *testing.T) {
	e := newEnv(t)
	ctx := actor.With(e.ctx, actor.Actor{UserID: 7, Login: "city", Roles: []actor.Role{actor.CityOfficer}})
	r, err := e.svc.Create(ctx, e.city, validInput(2027))
	if err != nil {
		t.Fatal(err)
	}
	rows := e.auditRows(t)
	if len(rows) != 1 || rows[0].action != "round.create" || rows[0].objectID != strconv.FormatInt(r.ID, 10) || rows[0].actorID != 7 {
		t.Fatalf("create audit %+v", rows)
	}
	for _, want := range []string{"year=2027", "rulebook=2020", "quota=6000", "application=2027-04-08T09:00+08:00/2027-05-15T17:00+08:00"} {
		if !strings.Contains(rows[0].reason, want) {
			t.Errorf("create reason %q lacks %q", rows[0].reason, want)
		}
	}

	e.clock.Advance(time.Hour)
	in := round.InputOf(r)
	in.Quota = 6500
	in.Windows = setWindow(in.Windows, round.Application, bj(2027, 4, 8, 9, 0), bj(2027, 5, 22, 17, 0))
	up, err := e.svc.Update(ctx, e.city, r.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if up.Quota != 6500 || !up.UpdatedAt.Equal(e.clock.Now()) || !up.CreatedAt.Equal(r.CreatedAt) {
		t.Fatalf("updated %+v", up)
	}
	rows = e.auditRows(t)
	if len(rows) != 2 || rows[1].action != "round.update" {
		t.Fatalf("update audit %+v", rows)
	}
	want := "quota 6000→6500; windows.application.closes_at 2027-05-15T17:00+08:00→2027-05-22T17:00+08:00"
	if rows[1].reason != want {
		t.Fatalf("update reason %q, want %q", rows[1].reason, want)
	}

	// Saving what is already stored changes nothing and records nothing.
	if _, err := e.svc.Update(ctx, e.city, r.ID, round.InputOf(up)); err != nil {
		t.Fatal(err)
	}
	if rows = e.auditRows(t); len(rows) != 2 {
		t.Fatalf("a no-op update was audited: %+v", rows[len(rows)-1])
	}
	// A refused update records nothing either, and leaves the round alone.
	in.Quota = 0
	if _, err := e.svc.Update(ctx, e.city, r.ID, in); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("bad update: %v", err)
	}
	if rows = e.auditRows(t); len(rows) != 2 {
		t.Fatal("a refused update was audited")
	}
	if got, _ := e.svc.Get(e.ctx, r.ID); got.Quota != 6500 {
		t.Fatalf("quota after refused update %d", got.Quota)
	}
}

func TestPublicationLock(t *testing.T) {
	e := newEnv(t)
	r := e.create(t, validInput(2027))
	publication := bj(2027, 8, 14, 9, 0)
	in := round.InputOf(r)
	in.Quota = 7000

	e.clock.Set(publication.Add(-time.Microsecond))
	if _, err := e.svc.Update(e.ctx, e.city, r.ID, in); err != nil {
		t.Fatalf("update just before publication: %v", err)
	}
	e.clock.Set(publication)
	in.Quota = 8000
	_, err := e.svc.Update(e.ctx, e.city, r.ID, in)
	if !apperr.Is(err, apperr.Conflict) || apperr.As(err).Message != "2027年度批次已于 2027-08-14 09:00 进入发布阶段，不能再修改" {
		t.Fatalf("update at publication: %v", err)
	}
	// Not even to move publication back into the future.
	in.Quota = 7000
	in.Windows = setWindow(in.Windows, round.Publication, bj(2027, 9, 1, 9, 0), bj(2027, 12, 31, 17, 0))
	if _, err := e.svc.Update(e.ctx, e.city, r.ID, in); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("moving publication after it opened: %v", err)
	}
	if got, _ := e.svc.Get(e.ctx, r.ID); got.Quota != 7000 {
		t.Fatalf("locked round changed: quota %d", got.Quota)
	}
	if rows := e.auditRows(t); len(rows) != 2 {
		t.Fatalf("audit rows %d, want create and one update", len(rows))
	}
}

func TestYearFixedOnceStarted(t *testing.T) {
	e := newEnv(t)
	r := e.create(t, validInput(2027))
	e.create(t, validInput(2029))
	in := round.InputOf(r)
	in.Year, in.Windows = 2029, round.DefaultWindows(2029)
	if _, err := e.svc.Update(e.ctx, e.city, r.ID, in); fieldMessage(t, err, "year") == "" {
		t.Fatal("moved onto a taken year")
	}
	in.Year, in.Windows = 2028, round.DefaultWindows(2028)
	moved, err := e.svc.Update(e.ctx, e.city, r.ID, in)
	if err != nil || moved.Year != 2028 || moved.Title != "2028年度积分落户" {
		t.Fatalf("year change before start: %+v %v", moved, err)
	}
	e.clock.Set(bj(2028, 4, 1, 9, 0))
	in = round.InputOf(moved)
	in.Year = 2027
	in.Windows = round.DefaultWindows(2027)
	if msg := fieldMessage(t, e.svc.Validate(e.ctx, r.ID, in), "year"); !strings.Contains(msg, "不能修改年度") {
		t.Fatalf("message %q", msg)
	}
	if _, err := e.svc.Update(e.ctx, e.city, r.ID+100, in); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown round: %v", err)
	}
}
