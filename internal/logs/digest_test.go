package logs

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"jifen/internal/audit"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/mail"
)

func TestDigestCountsYesterdayAndIsMadeOnceAt0700(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	c := clock.NewFake(start) // 2026-03-02 10:00 Beijing
	fs, _ := openTest(t, c, 1<<20)
	hook := SecurityHook(fs.SecurityLog)
	logAt(fs, c, slog.LevelWarn, "slow query")
	logAt(fs, c, slog.LevelWarn, "slow query")
	logAt(fs, c, slog.LevelError, "agency timeout")
	logAt(fs, c, slog.LevelInfo, "http")
	for range 3 {
		hook(audit.Entry{At: c.Now(), Action: "account.login", Outcome: audit.Failure, ActorLogin: "zhang"})
	}
	hook(audit.Entry{At: c.Now(), Action: "account.lockout", Outcome: audit.Success, ActorLogin: "zhang"})
	hook(audit.Entry{At: c.Now(), Action: "round.create", Outcome: audit.Success, ActorLogin: "li"}) // not security
	// The next day: a warning that belongs to the next digest.
	c.Advance(15 * time.Hour) // 03-03 01:00 Beijing
	logAt(fs, c, slog.LevelWarn, "tomorrow")

	outbox := mail.NewOutbox(d, c)
	s := NewDigests(d, c, outbox, fs.App.Dir(), []string{"oncall@example.gov.cn", "ops@example.gov.cn"})
	if made, err := s.RunDaily(ctx); made || err != nil { // before 07:00
		t.Fatalf("before 07:00: made %v, %v", made, err)
	}
	c.Advance(6 * time.Hour) // 07:00
	if made, err := s.RunDaily(ctx); !made || err != nil {
		t.Fatalf("at 07:00: made %v, %v", made, err)
	}
	if made, err := s.RunDaily(ctx); made || err != nil {
		t.Fatalf("second run: made %v, %v", made, err)
	}
	list, err := s.List(ctx, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("list = %v, %v", list, err)
	}
	g := list[0]
	if g.Day != "2026-03-02" || g.Warnings != 2 || g.Errors != 1 || g.SecurityTotal != 4 {
		t.Fatalf("digest = %+v", g)
	}
	if g.Messages[0] != (Count{"WARN slow query", 2}) || g.Messages[1] != (Count{"ERROR agency timeout", 1}) {
		t.Errorf("messages = %v", g.Messages)
	}
	if g.Kinds[0] != (Count{KindLoginFailure, 3}) || g.Kinds[1] != (Count{KindLockout, 1}) {
		t.Errorf("kinds = %v", g.Kinds)
	}
	if g.Top[0] != (Count{"login_failure zhang", 3}) {
		t.Errorf("top = %v", g.Top)
	}
	msgs, err := outbox.List(ctx, mail.Filter{})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("mail = %d, %v", len(msgs), err)
	}
	if !strings.Contains(msgs[0].Text, "警告 2 条，错误 1 条，安全事件 4 条") || !strings.Contains(msgs[0].Text, "登录失败") {
		t.Errorf("mail text:\n%s", msgs[0].Text)
	}
}
