package audit_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
)

func setup(t *testing.T) (*db.DB, *audit.Log, *clock.Fake) {
	t.Helper()
	d := dbtest.Open(t)
	c := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	return d, audit.New(d, c), c
}

func record(t *testing.T, l *audit.Log, ctx context.Context, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := l.Record(ctx, audit.Entry{Action: "account.login", ObjectType: "user", ObjectID: "7", Reason: "第" + string(rune('0'+i%10)) + "次"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecordTakesActorFromContextAndChains(t *testing.T) {
	_, l, _ := setup(t)
	ctx := actor.With(context.Background(), actor.Actor{UserID: 3, Login: "zhangsan", Roles: []actor.Role{actor.SystemAdmin}, ClientAddr: "10.1.2.3", RequestID: "req-1"})
	record(t, l, ctx, 5)
	got, err := l.Search(ctx, audit.Filter{Actor: "zhangsan"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("found %d rows", len(got))
	}
	newest := got[0]
	if newest.ID != 5 || newest.ActorRole != "system_admin" || newest.ClientAddr != "10.1.2.3" || newest.RequestID != "req-1" {
		t.Fatalf("row %+v", newest)
	}
	if newest.PrevHash != got[1].Hash {
		t.Fatal("row 5 is not chained to row 4")
	}
	res, err := l.Verify(ctx)
	if err != nil || !res.OK() || res.Rows != 5 {
		t.Fatalf("verify: %+v, %v", res, err)
	}
}

func TestRecordJoinsTransaction(t *testing.T) {
	d, l, _ := setup(t)
	ctx := context.Background()
	_ = d.WithTx(ctx, func(ctx context.Context) error {
		record(t, l, ctx, 1)
		return io.EOF // roll back
	})
	rows, err := l.Search(ctx, audit.Filter{})
	if err != nil || len(rows) != 0 {
		t.Fatalf("rolled-back record survived: %d rows, %v", len(rows), err)
	}
	record(t, l, ctx, 1)
	if res, _ := l.Verify(ctx); !res.OK() {
		t.Fatalf("chain after rollback: %+v", res)
	}
}

func TestDatabaseRefusesUpdateAndDelete(t *testing.T) {
	d, l, _ := setup(t)
	ctx := context.Background()
	record(t, l, ctx, 3)
	if _, err := d.Exec(ctx, `UPDATE audit_log SET reason = 'x' WHERE id = 2`); err == nil {
		t.Fatal("UPDATE of an audit row was accepted")
	}
	if _, err := d.Exec(ctx, `DELETE FROM audit_log WHERE id = 2`); err == nil {
		t.Fatal("DELETE of an unarchived audit row was accepted")
	}
	if res, _ := l.Verify(ctx); !res.OK() {
		t.Fatalf("verify: %+v", res)
	}
}

// tamper changes a row the way an intruder with database access would: by
// switching the protection off first.
func tamper(t *testing.T, d *db.DB, stmt string) {
	t.Helper()
	ctx := context.Background()
	off, on := `DROP TRIGGER audit_log_no_update`, ``
	if d.Dialect == db.Postgres {
		off, on = `ALTER TABLE audit_log DISABLE TRIGGER USER`, `ALTER TABLE audit_log ENABLE TRIGGER USER`
	}
	if _, err := d.Exec(ctx, off); err != nil {
		t.Fatal(err)
	}
	if d.Dialect == db.SQLite && strings.HasPrefix(stmt, "DELETE") {
		if _, err := d.Exec(ctx, `DROP TRIGGER audit_log_no_delete`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	if on != "" {
		if _, err := d.Exec(ctx, on); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyNamesTheTamperedRow(t *testing.T) {
	cases := []struct {
		name, stmt string
		broken     int64
	}{
		{"changed reason", `UPDATE audit_log SET reason = '改过' WHERE id = 4`, 4},
		{"changed time", `UPDATE audit_log SET at = at + 1 WHERE id = 2`, 2},
		{"deleted middle", `DELETE FROM audit_log WHERE id = 3`, 4},
		{"deleted tail", `DELETE FROM audit_log WHERE id = 6`, 6},
		{"rehashed row", `UPDATE audit_log SET hash = 'abc' WHERE id = 5`, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, l, _ := setup(t)
			ctx := context.Background()
			record(t, l, ctx, 6)
			tamper(t, d, tc.stmt)
			res, err := l.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() || res.BrokenID != tc.broken {
				t.Fatalf("verify = %+v, want row %d named", res, tc.broken)
			}
		})
	}
}

func TestPurgeArchivesThenDeletes(t *testing.T) {
	d, l, c := setup(t)
	ctx := context.Background()
	record(t, l, ctx, 4) // at 2025-01-01
	c.Advance(400 * 24 * time.Hour)
	record(t, l, ctx, 2) // at 2026-02-05
	dir := t.TempDir()
	a, err := l.Purge(ctx, dir, c.Now().Add(-audit.Retention))
	if err != nil {
		t.Fatal(err)
	}
	if a.FirstID != 1 || a.LastID != 4 || a.Rows != 4 {
		t.Fatalf("archive %+v", a)
	}
	raw, err := os.ReadFile(a.File)
	if err != nil {
		t.Fatal(err)
	}
	sum := sm3.Sum(raw)
	if hex.EncodeToString(sum[:]) != a.FileSM3 {
		t.Fatal("recorded SM3 does not match the file")
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if n := strings.Count(string(body), "\n"); n != 4 {
		t.Fatalf("archive holds %d lines", n)
	}
	var live int
	if err := d.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != 3 { // 2 recent rows + the purge record itself
		t.Fatalf("%d live rows", live)
	}
	res, err := l.Verify(ctx)
	if err != nil || !res.OK() {
		t.Fatalf("verify after purge: %+v, %v", res, err)
	}
	if _, err := d.Exec(ctx, `DELETE FROM audit_log WHERE id = 5`); err == nil {
		t.Fatal("a live row was deletable after a purge")
	}
	if _, err := d.Exec(ctx, `DELETE FROM audit_archives`); err == nil {
		t.Fatal("archives were deletable")
	}
	again, err := l.Purge(ctx, dir, c.Now().Add(-audit.Retention))
	if err != nil || again.Rows != 0 {
		t.Fatalf("second purge: %+v, %v", again, err)
	}
	_ = filepath.Base(a.File)
}

func TestExportCSV(t *testing.T) {
	_, l, _ := setup(t)
	ctx := actor.With(context.Background(), actor.Actor{Login: "=cmd|' /C calc'!A0"})
	record(t, l, ctx, 2)
	_ = l.Record(context.Background(), audit.Entry{Action: "config.change", ActorLogin: "root"})
	var buf bytes.Buffer
	n, err := l.ExportCSV(ctx, audit.Filter{Action: "account."}, &buf)
	if err != nil || n != 2 {
		t.Fatalf("exported %d, %v", n, err)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0][0] != "序号" {
		t.Fatalf("csv %v", recs)
	}
	if recs[1][3] != "'=cmd|' /C calc'!A0" {
		t.Fatalf("formula not neutralised: %q", recs[1][3])
	}
}
