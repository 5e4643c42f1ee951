//go:build linux

package backup_test

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"

	"jifen/internal/audit"
	"jifen/internal/platform/db"
)

// A target on a full disk: a clean error saying so, no partial directory
// left, the database untouched. Needs root to mount a small tmpfs.
func TestBackupOnFullDiskFailsCleanly(t *testing.T) {
	ctx := context.Background()
	target := t.TempDir()
	if err := syscall.Mount("tmpfs", target, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(target, 0) })
	f := setup(t)
	defer f.close()
	run, _, err := f.svc.Backup(ctx, target)
	if err == nil || run.Status != "failed" || !errors.Is(err, db.ErrDiskFull) {
		t.Fatalf("backup onto a full disk: %+v %v", run, err)
	}
	if left, _ := os.ReadDir(target); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if v, err := audit.New(f.db, f.clock).Verify(ctx); err != nil || !v.OK() || v.Rows != 20 {
		t.Fatalf("database after the failed backup: %+v %v", v, err)
	}
}
