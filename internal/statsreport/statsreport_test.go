package statsreport_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/jobs"
	"jifen/internal/platform/mail"
	"jifen/internal/stats"
	"jifen/internal/statsreport"
)

// users is a fake account directory.
type users struct {
	mu sync.Mutex
	m  map[int64]*account.User
}

func (u *users) UserByID(_ context.Context, id int64) (*account.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if x, ok := u.m[id]; ok {
		c := *x
		return &c, nil
	}
	return nil, apperr.New(apperr.NotFound, "账号不存在")
}

func (u *users) UserByLogin(_ context.Context, login string) (*account.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.m {
		if x.Login == login {
			c := *x
			return &c, nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "账号不存在")
}

func (u *users) setRoles(id int64, roles ...actor.Role) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.m[id].Roles = roles
}

// runner is a fake engine: a small result, or err.
type runner struct {
	mu    sync.Mutex
	err   error
	calls []actor.Actor
}

func (r *runner) Run(_ context.Context, by actor.Actor, kind, spec string) (*stats.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, by)
	if r.err != nil {
		return nil, r.err
	}
	return &stats.Result{Scope: by.District, Rows: []stats.Row{
		{Keys: []string{"朝阳区"}, Labels: []string{"朝阳区"}, Count: 12, Values: []stats.Value{{N: 12}}},
		{Keys: []string{"海淀区"}, Labels: []string{"海淀区"}, Count: 3, Values: []stats.Value{{N: 3}}},
	}, Total: stats.Row{Count: 15, Values: []stats.Value{{N: 15}}}}, nil
}

type env struct {
	t      *testing.T
	db     *db.DB
	clock  *clock.Fake
	users  *users
	runner *runner
	svc    *statsreport.Service
	jobs   *jobs.Jobs
	city   actor.Actor // user 1, city officer
	chaoy  actor.Actor // user 2, 朝阳区 officer
	haid   actor.Actor // user 3, 海淀区 officer
}

// start is Monday 2026-03-02 06:30 Beijing time.
var start = time.Date(2026, 3, 2, 6, 30, 0, 0, clock.Beijing)

func newEnv(t *testing.T) *env {
	t.Helper()
	d := dbtest.Open(t)
	c := clock.NewFake(start)
	us := &users{m: map[int64]*account.User{
		1: {ID: 1, Login: "city", DisplayName: "市局王五", Email: "city@example.com", Roles: []account.Role{actor.CityOfficer}},
		2: {ID: 2, Login: "chaoyang", DisplayName: "朝阳张三", Email: "cy@example.com", District: "朝阳区",
			Roles: []account.Role{actor.DistrictOfficer}},
		3: {ID: 3, Login: "haidian", DisplayName: "海淀李四", Email: "hd@example.com", District: "海淀区",
			Roles: []account.Role{actor.DistrictOfficer}},
		4: {ID: 4, Login: "person", DisplayName: "申请人", Email: "p@example.com", Roles: []account.Role{actor.Applicant}},
		5: {ID: 5, Login: "nomail", DisplayName: "无邮箱", District: "朝阳区", Roles: []account.Role{actor.DistrictOfficer}},
	}}
	r := &runner{}
	j := jobs.New(d, nil)
	svc := statsreport.New(d, audit.New(d, c), c, us, mail.NewOutbox(d, c), r, j)
	svc.OfficeURL = "https://office.example"
	svc.Register(j)
	e := &env{t: t, db: d, clock: c, users: us, runner: r, svc: svc, jobs: j}
	e.city = us.m[1].Actor()
	e.chaoy = us.m[2].Actor()
	e.haid = us.m[3].Actor()
	return e
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func fieldOf(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) && len(ae.Fields) > 0 {
		return ae.Fields[0].Field
	}
	return ""
}

var query = statsreport.QuerySpec(stats.Query{Dims: []string{"district"}, Measures: []string{"count"}})

func TestSaveEditWithVersions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Save(ctx, e.chaoy, " 每日申报 ", statsreport.KindQuery, query, statsreport.Timing{Schedule: statsreport.Daily, Hour: 7})
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "每日申报" || v.Scope != "朝阳区" || v.Version != 1 {
		t.Fatalf("saved %+v", v)
	}
	if want := time.Date(2026, 3, 2, 7, 0, 0, 0, clock.Beijing); !v.NextRunAt.Equal(want) {
		t.Fatalf("next run %s, want %s", v.NextRunAt, want)
	}
	for _, c := range []struct {
		name, kind, spec string
		t                statsreport.Timing
		field            string
	}{
		{"每日申报", statsreport.KindQuery, query, statsreport.Timing{}, "name"},
		{"", statsreport.KindQuery, query, statsreport.Timing{}, "name"},
		{strings.Repeat("长", statsreport.MaxNameLen+1), statsreport.KindQuery, query, statsreport.Timing{}, "name"},
		{"a", statsreport.KindQuery, query, statsreport.Timing{Schedule: "monthly"}, "schedule"},
		{"a", statsreport.KindQuery, query, statsreport.Timing{Schedule: statsreport.Daily, Hour: 24}, "hour"},
		{"a", statsreport.KindQuery, query, statsreport.Timing{Schedule: statsreport.Weekly, Weekday: 8}, "weekday"},
		{"a", statsreport.KindQuery, "{", statsreport.Timing{}, "query"},
		{"a", statsreport.KindReport, statsreport.ReportSpec("", nil), statsreport.Timing{}, "code"},
	} {
		_, err := e.svc.Save(ctx, e.chaoy, c.name, c.kind, c.spec, c.t)
		if !apperr.Is(err, apperr.Invalid) || fieldOf(err) != c.field {
			t.Errorf("save %q %+v: %v, want a field error on %s", c.name, c.t, err, c.field)
		}
	}
	// The same name is free for another owner.
	if _, err := e.svc.Save(ctx, e.haid, "每日申报", statsreport.KindReport, statsreport.ReportSpec("daily", map[string]string{"year": "2026"}),
		statsreport.Timing{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Save(ctx, actor.Actor{UserID: 4, Roles: []actor.Role{actor.Applicant}}, "x", statsreport.KindQuery, query,
		statsreport.Timing{}); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("applicant saves: %v", err)
	}

	w, err := e.svc.Edit(ctx, e.chaoy, v.ID, 1, "每周申报", statsreport.Timing{Schedule: statsreport.Weekly, Weekday: 5, Hour: 9})
	if err != nil {
		t.Fatal(err)
	}
	if w.Version != 2 || w.Name != "每周申报" || w.ScheduleName() != "每周五 09:00" {
		t.Fatalf("edited %+v", w)
	}
	if _, err := e.svc.Edit(ctx, e.chaoy, v.ID, 1, "旧版本", statsreport.Timing{}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("edit of a stale version: %v", err)
	}
	if _, err := e.svc.Edit(ctx, e.haid, v.ID, 2, "别人的", statsreport.Timing{}); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("edit by another officer: %v", err)
	}
	if _, err := e.svc.Get(ctx, e.haid, v.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another district officer reads it: %v", err)
	}
	if err := e.svc.Delete(ctx, e.chaoy, v.ID, 1); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("delete of a stale version: %v", err)
	}
	if err := e.svc.Delete(ctx, e.chaoy, v.ID, 2); err != nil {
		t.Fatal(err)
	}
	if mine, err := e.svc.Mine(ctx, e.chaoy); err != nil || len(mine) != 0 {
		t.Fatalf("after delete: %v %v", mine, err)
	}
}

func TestNextRun(t *testing.T) {
	bj := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, clock.Beijing) } // 2026-03-02 is a Monday
	for _, c := range []struct {
		name          string
		sched         string
		weekday, hour int
		after, want   time.Time
	}{
		{"daily later today", statsreport.Daily, 0, 7, bj(2, 6, 30), bj(2, 7, 0)},
		{"daily at the hour is tomorrow", statsreport.Daily, 0, 7, bj(2, 7, 0), bj(3, 7, 0)},
		{"daily past the hour", statsreport.Daily, 0, 7, bj(2, 7, 1), bj(3, 7, 0)},
		// 01:00 Beijing is 17:00 UTC the day before: the Beijing day counts.
		{"daily after Beijing midnight", statsreport.Daily, 0, 1, bj(3, 0, 30), bj(3, 1, 0)},
		{"weekly Monday today", statsreport.Weekly, 1, 7, bj(2, 6, 0), bj(2, 7, 0)},
		{"weekly Monday passed", statsreport.Weekly, 1, 7, bj(2, 8, 0), bj(9, 7, 0)},
		{"weekly Friday", statsreport.Weekly, 5, 18, bj(2, 8, 0), bj(6, 18, 0)},
		{"weekly Sunday", statsreport.Weekly, 7, 0, bj(2, 8, 0), bj(8, 0, 0)},
		{"manual", statsreport.Manual, 0, 7, bj(2, 8, 0), time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := statsreport.NextRun(c.sched, c.weekday, c.hour, c.after.UTC())
			if !got.Equal(c.want) {
				t.Fatalf("NextRun = %s, want %s", got.In(clock.Beijing), c.want)
			}
		})
	}
	// A year of daily runs stays at 07:00 Beijing: no daylight saving.
	at := bj(2, 6, 0)
	for range 365 {
		at = statsreport.NextRun(statsreport.Daily, 0, 7, at)
		if b := at.In(clock.Beijing); b.Hour() != 7 || b.Minute() != 0 {
			t.Fatalf("daily run at %s", b)
		}
	}
}

func TestSweepClaimsOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Save(ctx, e.chaoy, "每日", statsreport.KindQuery, query, statsreport.Timing{Schedule: statsreport.Daily, Hour: 7})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before due: %d %v", n, err)
	}
	// Missed for three days: one run, and the next is tomorrow's.
	e.clock.Set(start.Add(3*24*time.Hour + time.Hour))
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Go(func() {
			n, err := e.svc.Sweep(ctx)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if total := counts[0] + counts[1] + counts[2] + counts[3]; total != 1 {
		t.Fatalf("sweeps claimed %v, want one in all", counts)
	}
	if n := e.count(`SELECT count(*) FROM river_job WHERE kind = 'stats_report_produce'`); n != 1 {
		t.Fatalf("%d produce jobs, want 1", n)
	}
	w, err := e.svc.Get(ctx, e.chaoy, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 6, 7, 0, 0, 0, clock.Beijing); !w.NextRunAt.Equal(want) {
		t.Fatalf("next run %s, want %s", w.NextRunAt.In(clock.Beijing), want)
	}
	if n, err := e.svc.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep again: %d %v", n, err)
	}
}

func noComplete(context.Context) error { return nil }

func TestProduceOnceMailsSubscribersAndDownloads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Save(ctx, e.chaoy, "朝阳日报", statsreport.KindQuery, query, statsreport.Timing{Schedule: statsreport.Daily, Hour: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Subscribe(ctx, e.chaoy, v.ID, "haidian"); !apperr.Is(err, apperr.Invalid) || fieldOf(err) != "login" {
		t.Fatalf("another district's officer subscribes: %v", err)
	}
	if _, err := e.svc.Subscribe(ctx, e.chaoy, v.ID, "nomail"); fieldOf(err) != "login" {
		t.Fatalf("an account without mail subscribes: %v", err)
	}
	if _, err := e.svc.Subscribe(ctx, e.chaoy, v.ID, "nobody"); fieldOf(err) != "login" {
		t.Fatalf("unknown login: %v", err)
	}
	for _, login := range []string{"city", "chaoyang", "city"} {
		if _, err := e.svc.Subscribe(ctx, e.chaoy, v.ID, login); err != nil {
			t.Fatal(err)
		}
	}
	if subs, err := e.svc.Subscribers(ctx, e.chaoy, v.ID); err != nil || len(subs) != 2 {
		t.Fatalf("subscribers %v %v", subs, err)
	}

	due := statsreport.ProduceArgs{SavedID: v.ID, DueAt: db.Micros(start)}
	completed := 0
	for range 2 {
		if err := e.svc.Produce(ctx, due, false, func(context.Context) error { completed++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count(`SELECT count(*) FROM stats_report_files WHERE saved_id = $1`, v.ID); n != 1 || completed != 1 {
		t.Fatalf("%d files, %d completions after two runs; want 1, 1", n, completed)
	}
	if len(e.runner.calls) != 1 || e.runner.calls[0].UserID != 2 || e.runner.calls[0].District != "朝阳区" {
		t.Fatalf("ran as %+v, want once as the owner", e.runner.calls)
	}
	files, err := e.svc.Files(ctx, e.chaoy)
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v %v", files, err)
	}
	f := files[0]
	if f.Rows != 2 || f.Failed() || f.SuppressedBelow != statsreport.DefaultSuppressBelow ||
		!f.ExpiresAt.Equal(start.AddDate(1, 0, 0)) || f.Format != "xlsx" {
		t.Fatalf("file %+v", f)
	}
	rows, err := e.db.Query(ctx, `SELECT to_addr, subject, body_text FROM mail_outbox WHERE category = 'stats.report' ORDER BY to_addr`)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for rows.Next() {
		var addr, subject, body string
		if err := rows.Scan(&addr, &subject, &body); err != nil {
			t.Fatal(err)
		}
		to = append(to, addr)
		if !strings.Contains(subject, "朝阳日报") || !strings.Contains(body, "https://office.example/office/reports/files/") ||
			!strings.Contains(body, "2026-03-02 06:30") || strings.Contains(body, "海淀区") {
			t.Errorf("mail to %s: %s\n%s", addr, subject, body)
		}
	}
	rows.Close()
	if strings.Join(to, ",") != "city@example.com,cy@example.com" {
		t.Fatalf("mailed %v", to)
	}

	// The download area: the owner, a subscriber and the city; not another district.
	if _, err := e.svc.Download(ctx, e.haid, f.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another district downloads: %v", err)
	}
	if fs, _ := e.svc.Files(ctx, e.haid); len(fs) != 0 {
		t.Fatalf("another district lists %d files", len(fs))
	}
	for _, by := range []actor.Actor{e.chaoy, e.city} {
		if _, err := e.svc.Download(ctx, by, f.ID); err != nil {
			t.Fatalf("%s downloads: %v", by.Login, err)
		}
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'stats.report.export' AND object_id = $1`, strconv.FormatInt(f.ID, 10)); n != 2 {
		t.Fatalf("%d export audit rows, want 2", n)
	}
}

func TestOwnerWithoutPermissionGetsAnErrorRow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Save(ctx, e.chaoy, "朝阳日报", statsreport.KindQuery, query, statsreport.Timing{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Subscribe(ctx, e.chaoy, v.ID, "city"); err != nil {
		t.Fatal(err)
	}
	e.users.setRoles(2) // no role left
	if err := e.svc.Produce(ctx, statsreport.ProduceArgs{SavedID: v.ID, DueAt: 1}, false, noComplete); err != nil {
		t.Fatal(err)
	}
	if len(e.runner.calls) != 0 {
		t.Fatal("the query ran without the owner's permission")
	}
	files, err := e.svc.Files(ctx, e.city)
	if err != nil || len(files) != 1 {
		t.Fatalf("files %v %v", files, err)
	}
	if f := files[0]; !f.Failed() || f.Size != 0 || f.Rows != 0 || !strings.Contains(f.Error, "权限") {
		t.Fatalf("file %+v", f)
	}
	if _, err := e.svc.Download(ctx, e.city, files[0].ID); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("download of a failed run: %v", err)
	}
	// The owner hears of it; subscribers get no "report ready" mail.
	if n := e.count(`SELECT count(*) FROM mail_outbox WHERE category = 'stats.report' AND to_addr = 'cy@example.com' AND subject LIKE '%未能生成%'`); n != 1 {
		t.Fatalf("%d failure mails to the owner", n)
	}
	if n := e.count(`SELECT count(*) FROM mail_outbox WHERE to_addr = 'city@example.com'`); n != 0 {
		t.Fatalf("%d mails to the subscriber", n)
	}

	// An internal error is retried (no row) until the last attempt.
	e.users.setRoles(2, actor.DistrictOfficer)
	e.runner.err = errors.New("database gone")
	args := statsreport.ProduceArgs{SavedID: v.ID, DueAt: 2}
	if err := e.svc.Produce(ctx, args, false, noComplete); err == nil {
		t.Fatal("an internal error was not returned for a retry")
	}
	if n := e.count(`SELECT count(*) FROM stats_report_files WHERE due_at = 2`); n != 0 {
		t.Fatalf("%d rows after a retryable failure", n)
	}
	if err := e.svc.Produce(ctx, args, true, noComplete); err != nil {
		t.Fatal(err)
	}
	var msg string
	if err := e.db.QueryRow(ctx, `SELECT error FROM stats_report_files WHERE due_at = 2`).Scan(&msg); err != nil ||
		strings.Contains(msg, "database gone") || msg == "" {
		t.Fatalf("error text %q %v (internal detail must not show)", msg, err)
	}
}

func TestPurgeKeepsTwelveMonths(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Save(ctx, e.city, "全市月报", statsreport.KindQuery, query, statsreport.Timing{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Produce(ctx, statsreport.ProduceArgs{SavedID: v.ID, DueAt: 1}, false, noComplete); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.AddDate(0, 1, 0))
	if err := e.svc.Produce(ctx, statsreport.ProduceArgs{SavedID: v.ID, DueAt: 2}, false, noComplete); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.AddDate(1, 0, 0)) // the first is 12 months old, the second 11
	n, err := e.svc.Purge(ctx)
	if err != nil || n != 1 {
		t.Fatalf("purged %d %v, want 1", n, err)
	}
	if got := e.count(`SELECT count(*) FROM stats_report_files WHERE due_at = 2`); got != 1 {
		t.Fatal("the 11-month-old file was purged")
	}
	if got := e.count(`SELECT count(*) FROM stats_report_files WHERE due_at = 1`); got != 0 {
		t.Fatal("the 12-month-old file was kept")
	}
}

// TestScheduleRunsOnRiver runs the real jobs: the periodic sweep (run at
// start) claims the due schedule and the produce job writes the file and
// completes in the same transaction.
func TestScheduleRunsOnRiver(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v, err := e.svc.Save(ctx, e.chaoy, "朝阳日报", statsreport.KindQuery, query, statsreport.Timing{Schedule: statsreport.Daily, Hour: 7})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(start.Add(time.Hour))
	e.jobs.PollInterval = 20 * time.Millisecond
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := e.jobs.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.jobs.Stop(context.Background()) }()
	deadline := time.Now().Add(15 * time.Second)
	for e.count(`SELECT count(*) FROM river_job WHERE kind = 'stats_report_produce' AND state = 'completed'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the produce job did not complete")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.count(`SELECT count(*) FROM stats_report_files WHERE saved_id = $1 AND due_at = $2`, v.ID,
		db.Micros(time.Date(2026, 3, 2, 7, 0, 0, 0, clock.Beijing))); n != 1 {
		t.Fatalf("%d files of the 07:00 run", n)
	}
}
