package backup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"jifen/internal/audit"
	"jifen/internal/backup"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
)

type fixture struct {
	dsn, dataDir, dir string
	db                *db.DB
	svc               *backup.Service
	clock             *clock.Fake
}

// setup opens a fresh database with an audit chain of 20 rows, a recorded
// backup run and an attachment file.
func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dsn: dbtest.DSN(t), dataDir: t.TempDir(), dir: t.TempDir(),
		clock: clock.NewFake(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC))}
	f.open(t)
	log := audit.New(f.db, f.clock)
	for i := range 20 {
		if err := log.Record(ctx, audit.Entry{Action: "account.login", ObjectType: "user", ObjectID: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	blob := filepath.Join(f.dataDir, "blobs", "ab", "cd", "abcd0001")
	if err := os.MkdirAll(filepath.Dir(blob), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blob, []byte("附件内容"), 0o640); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	d, err := db.Open(context.Background(), f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.db = d
	f.svc = backup.New(d, f.clock, backup.Options{DataDir: f.dataDir, Dir: f.dir})
}

func (f *fixture) close() { _ = f.db.Close() }

func counts(t *testing.T, d *db.DB) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	tables, err := d.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, tb := range tables {
		if out[tb], err = d.CountRows(ctx, tb); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func exec(t *testing.T, d *db.DB, q string) {
	t.Helper()
	if _, err := d.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// Backup, damage the database (rows deleted, a table dropped, an
// attachment removed), restore: every table, the audit chain and the
// attachment are as they were.
func TestBackupDamageRestore(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	run, m, err := f.svc.Backup(ctx, "")
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if run.Status != "ok" || run.DrillStatus != "ok" || !strings.Contains(run.DrillDetail, "审计链完整") {
		t.Fatalf("run %+v", run)
	}
	if m.Tables["audit_log"] != 20 || m.AuditHead.ID != 20 || m.SchemaVersion < 29 || len(m.Files) != 2 {
		t.Fatalf("manifest %+v", m)
	}
	if b, _ := os.ReadFile(filepath.Join(run.Dir, backup.ManifestFile)); strings.Contains(string(b), "master.key\"") {
		t.Fatal("manifest names a master key file")
	}
	latest, err := f.svc.Latest(ctx)
	if err != nil || latest.ID != run.ID || latest.Failed() {
		t.Fatalf("latest %+v %v", latest, err)
	}
	if msg, err := f.svc.Alert(ctx); msg != "" || err != nil {
		t.Fatalf("alert after a good backup: %q %v", msg, err)
	}
	before := counts(t, f.db)
	before["backup_runs"]-- // recorded after the copy was taken

	off := `DROP TRIGGER audit_log_no_delete`
	if f.db.Engine() == "postgres" {
		off = `ALTER TABLE audit_log DISABLE TRIGGER USER`
	}
	exec(t, f.db, off)
	exec(t, f.db, `DELETE FROM audit_log WHERE id > 10`)
	exec(t, f.db, `DROP TABLE calendar_days`)
	if err := os.RemoveAll(filepath.Join(f.dataDir, "blobs")); err != nil {
		t.Fatal(err)
	}
	if res, _ := audit.New(f.db, f.clock).Verify(ctx); res.OK() {
		t.Fatal("damage not visible to verify")
	}
	f.close()

	_, _, err = backup.Restore(ctx, backup.RestoreOptions{From: run.Dir, DSN: f.dsn, DataDir: f.dataDir})
	if !errors.Is(err, backup.ErrNotEmpty) {
		t.Fatalf("restore over a non-empty database without force: %v", err)
	}
	_, res, err := backup.Restore(ctx, backup.RestoreOptions{From: run.Dir, DSN: f.dsn, DataDir: f.dataDir, Force: true})
	if err != nil || !res.OK {
		t.Fatalf("restore: %v %+v", err, res)
	}
	f.open(t)
	defer f.close()
	after := counts(t, f.db)
	for tb, n := range before {
		if after[tb] != n {
			t.Errorf("table %s: %d rows after restore, %d before", tb, after[tb], n)
		}
	}
	if v, err := audit.New(f.db, f.clock).Verify(ctx); err != nil || !v.OK() || v.Rows != 20 {
		t.Fatalf("verify after restore: %+v %v", v, err)
	}
	if b, err := os.ReadFile(filepath.Join(f.dataDir, "blobs", "ab", "cd", "abcd0001")); err != nil || string(b) != "附件内容" {
		t.Fatalf("attachment after restore: %q %v", b, err)
	}
}

// A flipped byte in the dump or an attachment: the drill names the file.
func TestDrillCatchesCorruption(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	defer f.close()
	run, m, err := f.svc.Backup(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{m.Database, "files/blobs/ab/cd/abcd0001"} {
		p := filepath.Join(run.Dir, file)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x40
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
		res := f.svc.Drill(ctx, run.Dir)
		if res.OK || res.Status() != "failed" || !strings.Contains(res.Detail, file) || !strings.Contains(res.Detail, "SM3") {
			t.Fatalf("drill of a corrupted %s: %+v", file, res)
		}
		b[len(b)/2] ^= 0x40
		if err := os.WriteFile(p, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if res := f.svc.Drill(ctx, run.Dir); !res.OK {
		t.Fatalf("drill after repair: %+v", res)
	}
	// A restore refuses the corrupted backup before touching anything.
	p := filepath.Join(run.Dir, backup.ManifestFile)
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), `"audit_log": 20`, `"audit_log": 21`, 1)), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := backup.Restore(ctx, backup.RestoreOptions{From: run.Dir, DSN: f.dsn, DataDir: f.dataDir, Force: true}); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("restore of an edited manifest: %v", err)
	}
}

// A backup whose manifest says a newer schema than the binary knows is
// refused, with the versions named; so is one of the other engine.
func TestRestoreRefusesFutureSchemaAndOtherEngine(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	run, m, err := f.svc.Backup(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	f.close()
	rewrite := func(change func(*backup.Manifest)) string {
		t.Helper()
		dir := t.TempDir()
		for _, file := range m.Files {
			_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, file.Path)), 0o750)
			if err := db.CopyFile(filepath.Join(run.Dir, file.Path), filepath.Join(dir, file.Path)); err != nil {
				t.Fatal(err)
			}
		}
		mm := *m
		change(&mm)
		if err := backup.WriteManifest(dir, &mm); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	future := rewrite(func(m *backup.Manifest) { m.SchemaVersion = 9999 })
	_, _, err = backup.Restore(ctx, backup.RestoreOptions{From: future, DSN: dbtest.DSN(t), DataDir: t.TempDir()})
	if !errors.Is(err, backup.ErrSchemaNewer) || !strings.Contains(err.Error(), "9999") {
		t.Fatalf("future schema: %v", err)
	}
	other := rewrite(func(m *backup.Manifest) {
		m.Engine = map[string]string{"sqlite": "postgres", "postgres": "sqlite"}[m.Engine]
	})
	if _, _, err = backup.Restore(ctx, backup.RestoreOptions{From: other, DSN: f.dsn, DataDir: t.TempDir(), Force: true}); !errors.Is(err, backup.ErrEngineDiffer) {
		t.Fatalf("other engine: %v", err)
	}
}

// A target that cannot be written fails cleanly: no backup directory, a
// failed run recorded with the reason.
func TestBackupToUnwritableTargetFailsCleanly(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	defer f.close()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	run, _, err := f.svc.Backup(ctx, filepath.Join(file, "sub"))
	if err == nil || run.Status != "failed" {
		t.Fatalf("backup into a file: %+v %v", run, err)
	}
	latest, err := f.svc.Latest(ctx)
	if err != nil || !latest.Failed() || latest.Error == "" {
		t.Fatalf("latest %+v %v", latest, err)
	}
	if msg, err := f.svc.Alert(ctx); err != nil || !strings.Contains(msg, "备份失败") {
		t.Fatalf("alert %q %v", msg, err)
	}
}

func TestPruneKeepsWeeksAndMonths(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	for d := 0; d < 120; d++ {
		name := start.AddDate(0, 0, d).Format("20060102T150405Z")
		if err := os.MkdirAll(filepath.Join(dir, name), 0o750); err != nil {
			t.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(dir, name, backup.ManifestFile), []byte("{}"), 0o640)
	}
	_ = os.Mkdir(filepath.Join(dir, "keep-me"), 0o750)
	if _, err := backup.Prune(dir, 4, 3, start.AddDate(0, 0, 120)); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	// 4 weeks (the newest of each) and the months April, March, February
	// (their newest days; April's is also a week's).
	if len(names) != 7 || !strings.Contains(strings.Join(names, ","), "keep-me") {
		t.Fatalf("left %v", names)
	}
}

// The target disappears after the dump: the backup fails, nothing that
// looks like a backup is left, the run says why, the database is whole.
func TestTargetVanishesMidBackup(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	defer f.close()
	target := filepath.Join(t.TempDir(), "usb")
	backup.SetAfterDump(f.svc, func() { _ = os.RemoveAll(target) })
	run, _, err := f.svc.Backup(ctx, target)
	if err == nil || run.Status != "failed" || !strings.Contains(err.Error(), "消失") {
		t.Fatalf("backup into a vanishing target: %+v %v", run, err)
	}
	if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the vanished target was made again: %v", err)
	}
	if v, err := audit.New(f.db, f.clock).Verify(ctx); err != nil || !v.OK() || v.Rows != 20 {
		t.Fatalf("database after the failed backup: %+v %v", v, err)
	}
}

// A backup damaged before its drill: Backup fails with the drill's
// finding, the directory is set aside as .failed and the alert says so.
func TestFailedDrillFailsTheBackup(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	defer f.close()
	backup.SetBeforeDrill(f.svc, func(dir string) {
		p := filepath.Join(dir, "files/blobs/ab/cd/abcd0001")
		_ = os.WriteFile(p, []byte("篡改"), 0o640)
	})
	run, _, err := f.svc.Backup(ctx, "")
	if !errors.Is(err, backup.ErrDrill) || run.Status != "ok" || run.DrillStatus != "failed" || !strings.HasSuffix(run.Dir, ".failed") {
		t.Fatalf("damaged backup: %+v %v", run, err)
	}
	if msg, _ := f.svc.Alert(ctx); !strings.Contains(msg, "恢复演练未通过") || !strings.Contains(msg, "abcd0001") {
		t.Fatalf("alert %q", msg)
	}
}
