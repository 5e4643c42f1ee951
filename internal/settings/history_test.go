package settings_test

import (
	"context"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/password"
	"jifen/internal/settings"
)

func TestHistoryAndTwoPersonApproval(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	c := clock.NewFake(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	a := audit.New(d, c)
	keys, err := crypto.NewKeyring(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(keys.Pepper(), 2)
	if err != nil {
		t.Fatal(err)
	}
	st := settings.New(d, a, c, 0)
	accts := account.NewService(d, a, c, h, keys, st)
	mk := func(login string, r account.Role) *account.User {
		u, err := accts.CreateUser(ctx, account.NewUser{Login: login, DisplayName: login, Zone: account.Office,
			Password: "Qz7#mVt2pLw9", Roles: []account.Role{r}})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	sys := mk("sys", account.SystemAdmin)
	sec1 := mk("sec1", account.SecurityAdmin)

	// An ordinary setting changes at once, with its history; a reason is required.
	if _, err := st.Change(ctx, sys.Actor(), settings.HelpdeskPhone, "010-12333", " "); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("no reason: %v", err)
	}
	ch, err := st.Change(ctx, sys.Actor(), settings.HelpdeskPhone, "010-12333", "热线号码调整")
	if err != nil || ch.Status != settings.ChangeApplied || ch.OldValue != "12333" || ch.NewValue != "010-12333" || ch.ProposerLogin != "sys" {
		t.Fatalf("change: %+v %v", ch, err)
	}
	if v, _ := st.Get(ctx, settings.HelpdeskPhone); v != "010-12333" {
		t.Fatalf("value %q", v)
	}
	// A security setting with a single security administrator applies at
	// once, the waiver recorded.
	ch, err = st.Change(ctx, sec1.Actor(), settings.LockoutThreshold, "6", "等保测评要求")
	if err != nil || ch.Status != settings.ChangeAppliedSingle || st.Int(ctx, settings.LockoutThreshold) != 6 {
		t.Fatalf("single: %+v %v", ch, err)
	}
	// With a second one, it waits for them.
	sec2 := mk("sec2", account.SecurityAdmin)
	ch, err = st.Change(ctx, sec1.Actor(), settings.LockoutThreshold, "4", "收紧锁定策略")
	if err != nil || ch.Status != settings.ChangePending || st.Int(ctx, settings.LockoutThreshold) != 6 {
		t.Fatalf("pending: %+v %v", ch, err)
	}
	if _, err := st.Change(ctx, sec2.Actor(), settings.LockoutThreshold, "5", "另一个"); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("second pending change: %v", err)
	}
	if err := st.DecideChange(ctx, sec1.Actor(), ch.ID, true, ""); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("proposer approved own change: %v", err)
	}
	if err := st.DecideChange(ctx, sys.Actor(), ch.ID, true, ""); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("system admin approved a security change: %v", err)
	}
	c.Advance(time.Hour)
	if err := st.DecideChange(ctx, sec2.Actor(), ch.ID, true, "同意"); err != nil {
		t.Fatal(err)
	}
	if st.Int(ctx, settings.LockoutThreshold) != 4 {
		t.Fatal("not applied on approval")
	}
	if err := st.DecideChange(ctx, sec2.Actor(), ch.ID, true, ""); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("decided twice: %v", err)
	}
	// A rejected change leaves the value.
	ch, _ = st.Change(ctx, sec2.Actor(), settings.IdleOfficeMin, "60", "方便")
	if err := st.DecideChange(ctx, sec1.Actor(), ch.ID, false, "不符合安全要求"); err != nil {
		t.Fatal(err)
	}
	if st.Int(ctx, settings.IdleOfficeMin) != 15 {
		t.Fatal("rejected change applied")
	}
	hist, err := st.History(ctx, sec1.Actor(), settings.OwnerSecurity, 0)
	if err != nil || len(hist) != 3 {
		t.Fatalf("history: %d %v", len(hist), err)
	}
	// Newest first: the rejection, the approved change, the single one.
	if hist[0].Status != settings.ChangeRejected || hist[1].DeciderLogin != "sec2" || hist[1].OldValue != "6" ||
		hist[1].NewValue != "4" || hist[1].Reason != "收紧锁定策略" || !hist[1].DecidedAt.Equal(c.Now()) {
		t.Fatalf("history rows: %+v %+v", hist[0], hist[1])
	}
	if _, err := st.History(ctx, sys.Actor(), settings.OwnerSecurity, 0); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("system admin read security history: %v", err)
	}
	if sysHist, _ := st.History(ctx, sys.Actor(), settings.OwnerSystem, 0); len(sysHist) != 1 {
		t.Fatalf("system history: %d", len(sysHist))
	}
}
