package app_test

import (
	"context"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
	"jifen/internal/config"
)

// TestScheduledBackup: with weekly backups on, the worker's schedule makes
// the first backup at once and drills it; a week later, not before, the
// next one.
func TestScheduledBackup(t *testing.T) {
	a := apptest.Start(t, func(c *config.Config) { c.Backup.Every = 7 * 24 * time.Hour })
	a.CreateUser("root1", account.SystemAdmin)
	ctx := context.Background()
	a.WorkJobs(60*time.Second, func() bool {
		r, err := a.Backup.Latest(ctx)
		return err == nil && r != nil
	})
	r, err := a.Backup.Latest(ctx)
	if err != nil || r.Failed() || r.Size == 0 || r.Dir == "" {
		t.Fatalf("scheduled backup: %+v %v", r, err)
	}
	if ran, err := a.Backup.RunIfDue(ctx); ran || err != nil {
		t.Fatalf("a second backup the same week: %v %v", ran, err)
	}
	a.Clock.Advance(7*24*time.Hour + time.Minute)
	if ran, err := a.Backup.RunIfDue(ctx); !ran || err != nil {
		t.Fatalf("no backup a week later: %v %v", ran, err)
	}
	if r2, _ := a.Backup.Latest(ctx); r2.ID == r.ID || r2.Failed() {
		t.Fatalf("second run %+v", r2)
	}
}
