package round_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/round"
)

type env struct {
	ctx   context.Context
	db    *db.DB
	clock *clock.Fake
	svc   *round.Service
	city  actor.Actor
}

// newEnv opens a fresh database with the clock in early 2026, before any
// default window of 2026 opens.
func newEnv(t *testing.T) *env {
	t.Helper()
	d := dbtest.Open(t)
	c := clock.NewFake(time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC))
	return &env{ctx: context.Background(), db: d, clock: c, svc: round.NewService(d, audit.New(d, c), c),
		city: actor.Actor{UserID: 7, Login: "city", Roles: []actor.Role{actor.CityOfficer}}}
}

// bj is a Beijing wall-clock time.
func bj(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, clock.Beijing)
}

func validInput(year int) round.Input {
	return round.Input{Year: year, Rulebook: "2020", Quota: 6000, Windows: round.DefaultWindows(year)}
}

// setWindow returns ws with the times of kind k replaced.
func setWindow(ws []round.Window, k round.Kind, opens, closes time.Time) []round.Window {
	out := append([]round.Window(nil), ws...)
	for i := range out {
		if out[i].Kind == k {
			out[i].OpensAt, out[i].ClosesAt = opens, closes
		}
	}
	return out
}

func (e *env) create(t *testing.T, in round.Input) *round.Round {
	t.Helper()
	r, err := e.svc.Create(e.ctx, e.city, in)
	if err != nil {
		t.Fatalf("create %d: %v", in.Year, err)
	}
	return r
}

// fieldMessage returns the message err gives for field, failing the test
// when err is not a validation error naming it.
func fieldMessage(t *testing.T, err error, field string) string {
	t.Helper()
	if !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("want invalid naming %s, got %v", field, err)
	}
	for _, f := range apperr.As(err).Fields {
		if f.Field == field {
			return f.Message
		}
	}
	t.Fatalf("error does not name %s: %v", field, err)
	return ""
}

func TestCreateValidation(t *testing.T) {
	app := round.Application
	cases := []struct {
		name   string
		edit   func(in *round.Input)
		field  string
		substr string // the Chinese message contains it
	}{
		{"year too early", func(in *round.Input) { in.Year = 2017 }, "year", "2018"},
		{"year too late", func(in *round.Input) { in.Year = 2101 }, "year", "2100"},
		{"year taken", func(in *round.Input) { in.Year = 2030; in.Windows = round.DefaultWindows(2030) }, "year", "已存在"},
		{"no rulebook", func(in *round.Input) { in.Rulebook = "" }, "rulebook", "请选择"},
		{"unknown rulebook", func(in *round.Input) { in.Rulebook = "1999" }, "rulebook", "2016、2020"},
		{"rulebook not in force", func(in *round.Input) { in.Rulebook = "2016" }, "rulebook", "2020版"},
		{"quota zero", func(in *round.Input) { in.Quota = 0 }, "quota", "落户指标"},
		{"quota too large", func(in *round.Input) { in.Quota = 100001 }, "quota", "100000"},
		{"title too long", func(in *round.Input) { in.Title = strings.Repeat("长", 61) }, "title", "60"},
		{"window closes when it opens", func(in *round.Input) {
			in.Windows = setWindow(in.Windows, app, bj(2027, 4, 8, 9, 0), bj(2027, 4, 8, 9, 0))
		}, "windows.application.closes_at", "个人填报的结束时间应晚于开始时间"},
		{"window closes before it opens", func(in *round.Input) {
			in.Windows = setWindow(in.Windows, app, bj(2027, 4, 8, 9, 0), bj(2027, 4, 7, 9, 0))
		}, "windows.application.closes_at", "个人填报"},
		{"opens before the previous kind", func(in *round.Input) {
			in.Windows = setWindow(in.Windows, app, bj(2027, 3, 31, 9, 0), bj(2027, 5, 15, 17, 0))
		}, "windows.application.opens_at", "不能早于单位注册的开始时间（2027-04-01 09:00）"},
		{"missing opening", func(in *round.Input) {
			in.Windows = setWindow(in.Windows, round.Settlement, time.Time{}, bj(2027, 12, 31, 17, 0))
		}, "windows.settlement.opens_at", "请填写落户办理的开始时间"},
		{"missing window", func(in *round.Input) { in.Windows = in.Windows[:8] }, "windows.settlement.closes_at", "请填写落户办理的结束时间"},
		{"mistyped year in a time", func(in *round.Input) {
			in.Windows = setWindow(in.Windows, round.Settlement, bj(2027, 9, 1, 9, 0), bj(2207, 12, 31, 17, 0))
		}, "windows.settlement.closes_at", "2026年至2028年"},
		{"unknown kind", func(in *round.Input) {
			in.Windows = append(in.Windows, round.Window{Kind: "lottery", OpensAt: bj(2027, 5, 1, 9, 0), ClosesAt: bj(2027, 5, 2, 9, 0)})
		}, "windows", "lottery"},
	}
	e := newEnv(t)
	e.create(t, validInput(2030))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := validInput(2027)
			c.edit(&in)
			_, err := e.svc.Create(e.ctx, e.city, in)
			if msg := fieldMessage(t, err, c.field); !strings.Contains(msg, c.substr) {
				t.Errorf("%s: message %q lacks %q", c.field, msg, c.substr)
			}
			if err := e.svc.Validate(e.ctx, 0, in); err == nil {
				t.Error("Validate accepts what Create refuses")
			}
		})
	}
	if rs, _ := e.svc.List(e.ctx); len(rs) != 1 {
		t.Fatalf("refused creates wrote rounds: %d", len(rs))
	}
}

func TestCreateAccepts(t *testing.T) {
	e := newEnv(t)
	// Overlapping windows, openings at the same time, another rulebook chosen
	// on purpose.
	in := validInput(2027)
	in.Rulebook, in.OtherRulebook = "2016", true
	in.Windows = setWindow(in.Windows, round.EmployerSubmission, bj(2027, 4, 8, 9, 0), bj(2027, 6, 1, 17, 0))
	r := e.create(t, in)
	if r.ID == 0 || r.Year != 2027 || r.Rulebook != "2016" || r.Quota != 6000 || r.Title != "2027年度积分落户" || r.CreatedBy != 7 {
		t.Fatalf("round %+v", r)
	}
	if len(r.Windows) != len(round.Kinds()) {
		t.Fatalf("windows %d", len(r.Windows))
	}
	for i, k := range round.Kinds() {
		if r.Windows[i].Kind != k {
			t.Fatalf("window %d is %s, want %s", i, r.Windows[i].Kind, k)
		}
	}
	if w, _ := r.Window(round.EmployerSubmission); !w.ClosesAt.Equal(bj(2027, 6, 1, 17, 0)) {
		t.Fatalf("employer submission closes %v", w.ClosesAt)
	}
	if got := round.InputOf(r); !got.OtherRulebook {
		t.Fatal("InputOf does not mark the other rulebook")
	}
	for _, get := range []func() (*round.Round, error){
		func() (*round.Round, error) { return e.svc.Get(e.ctx, r.ID) },
		func() (*round.Round, error) { return e.svc.ByYear(e.ctx, 2027) },
	} {
		if g, err := get(); err != nil || g.ID != r.ID || len(g.Windows) != 9 {
			t.Fatalf("read back: %+v %v", g, err)
		}
	}
	if _, err := e.svc.Get(e.ctx, r.ID+100); !errors.Is(err, round.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := e.svc.ByYear(e.ctx, 2031); !errors.Is(err, round.ErrNotFound) || !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown year: %v", err)
	}
}

func TestOnlyCityOfficers(t *testing.T) {
	e := newEnv(t)
	district := actor.Actor{UserID: 8, Roles: []actor.Role{actor.DistrictOfficer}}
	for _, by := range []actor.Actor{district, {}} {
		if _, err := e.svc.Create(e.ctx, by, validInput(2027)); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("create by %v: %v", by, err)
		}
	}
	r := e.create(t, validInput(2027))
	if _, err := e.svc.Update(e.ctx, district, r.ID, validInput(2027)); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("update by a district officer: %v", err)
	}
}

func TestConcurrentCreateOfOneYear(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.Create(e.ctx, e.city, validInput(2027))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			fieldMessage(t, err, "year")
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates of one year succeeded: %v", ok, errs)
	}
}

func TestDraft(t *testing.T) {
	e := newEnv(t)
	in, err := e.svc.Draft(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// January 2026: the 2026 round has not opened yet.
	if in.Year != 2026 || in.Rulebook != "2020" || in.Quota != round.DefaultQuota || len(in.Windows) != 9 {
		t.Fatalf("draft %+v", in)
	}
	if w := in.Windows[0]; w.Kind != round.EmployerRegistration || !w.OpensAt.Equal(bj(2026, 4, 1, 9, 0)) {
		t.Fatalf("first window %+v", w)
	}
	e.create(t, in)
	e.create(t, validInput(2028))
	if in, _ = e.svc.Draft(e.ctx); in.Year != 2029 {
		t.Fatalf("draft after 2028: %d", in.Year)
	}
	if _, err := e.svc.Create(e.ctx, e.city, in); err != nil {
		t.Fatalf("the draft itself is refused: %v", err)
	}
}
