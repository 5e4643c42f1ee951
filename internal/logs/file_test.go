package logs

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"jifen/internal/platform/clock"
)

// start is 2026-03-02 10:00 Beijing.
var start = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

func openTest(t *testing.T, c clock.Clock, max int64) (*Files, *bytes.Buffer) {
	t.Helper()
	var stdout bytes.Buffer
	fs, err := Open(slog.NewJSONHandler(&stdout, nil), Options{Dir: t.TempDir(), MaxBytes: max, Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	return fs, &stdout
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// logAt writes one app record dated by the fake clock (slog dates records
// by the system clock, so the test builds the record itself).
func logAt(fs *Files, c *clock.Fake, level slog.Level, msg string, attrs ...slog.Attr) {
	r := slog.NewRecord(c.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = fs.Log.Handler().Handle(context.Background(), r)
}

func TestRotationByDayAndSizeCompressesAndPurgesAfterTwelveMonths(t *testing.T) {
	c := clock.NewFake(start)
	fs, stdout := openTest(t, c, 400)
	dir := fs.App.Dir()
	logAt(fs, c, slog.LevelInfo, "first")
	c.Advance(24 * time.Hour) // the next Beijing day: rotate at the next write
	logAt(fs, c, slog.LevelInfo, "second day")
	for range 5 { // each line ~100 bytes: passing 400 rotates by size
		logAt(fs, c, slog.LevelInfo, "filler", slog.String("pad", strings.Repeat("x", 60)))
	}
	fs.App.Wait()
	var gz, live int
	for _, n := range names(t, dir) {
		switch {
		case strings.HasPrefix(n, "app-") && strings.HasSuffix(n, ".jsonl.gz"):
			gz++
		case n == "app-current.jsonl":
			live++
		case strings.HasPrefix(n, "app-"):
			t.Errorf("uncompressed rotated file left: %s", n)
		}
	}
	if gz < 2 || live != 1 {
		t.Fatalf("want >=2 compressed files and the live one, got %v", names(t, dir))
	}
	if !strings.Contains(stdout.String(), "second day") {
		t.Error("stdout did not get the records")
	}
	// Everything is still searchable across the compressed files.
	res, err := Search(context.Background(), dir, Query{Log: App})
	if err != nil || len(res.Records) != 7 || res.Records[0].Msg != "first" {
		t.Fatalf("search = %d records, %v", len(res.Records), err)
	}

	// Eleven months on, nothing is purged; past twelve, the rotated files go
	// and the live file stays.
	c.Advance(330 * 24 * time.Hour)
	if n, err := fs.Purge(); n != 0 || err != nil {
		t.Fatalf("purge at 11 months = %d, %v", n, err)
	}
	c.Advance(40 * 24 * time.Hour)
	if n, err := fs.Purge(); n != gz || err != nil {
		t.Fatalf("purge at 12+ months = %d (want %d), %v", n, gz, err)
	}
	for _, n := range names(t, dir) {
		if n != "app-current.jsonl" {
			t.Errorf("left after purge: %s", n)
		}
	}
}

func TestSearchFiltersAcrossRotatedAndLiveFiles(t *testing.T) {
	c := clock.NewFake(start)
	fs, _ := openTest(t, c, 1<<20)
	dir := fs.App.Dir()
	logAt(fs, c, slog.LevelInfo, "http", slog.String("request_id", "r1"))
	c.Advance(time.Minute)
	logAt(fs, c, slog.LevelWarn, "slow query", slog.String("request_id", "r2"), slog.String("user", "zhang"))
	c.Advance(time.Minute)
	fs.App.Rotate()
	fs.App.Wait()
	c.Advance(time.Minute)
	logAt(fs, c, slog.LevelError, "agency timeout", slog.String("request_id", "r3"), slog.String("user", "zhang"))
	c.Advance(time.Minute)
	logAt(fs, c, slog.LevelInfo, "listening")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"all", Query{}, []string{"http", "slow query", "agency timeout", "listening"}},
		{"warn and up", Query{Level: "warn"}, []string{"slow query", "agency timeout"}},
		{"request id", Query{RequestID: "r3"}, []string{"agency timeout"}},
		{"user", Query{User: "zhang"}, []string{"slow query", "agency timeout"}},
		{"text ignores case", Query{Text: "TIMEOUT"}, []string{"agency timeout"}},
		{"time range", Query{From: start.Add(time.Minute), To: start.Add(3 * time.Minute)}, []string{"slow query"}},
		{"live file only by time", Query{From: start.Add(3 * time.Minute)}, []string{"agency timeout", "listening"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Log = App
			res, err := Search(ctx, dir, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range res.Records {
				got = append(got, r.Msg)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	// The live-only query opened one file, not the rotated one.
	if res, _ := Search(ctx, dir, Query{Log: App, From: start.Add(3 * time.Minute)}); res.Files != 1 {
		t.Errorf("opened %d files for a range inside the live file", res.Files)
	}
	// Paging: two at a time, continuing across the files.
	var all []string
	q := Query{Log: App, Limit: 2}
	for page := 0; page < 5; page++ {
		res, err := Search(ctx, dir, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records {
			all = append(all, r.Msg)
		}
		if !res.More {
			break
		}
		q.After = res.Next
	}
	if strings.Join(all, "|") != "http|slow query|agency timeout|listening" {
		t.Fatalf("paged = %q", all)
	}
}

// enospc stands for a full disk.
type enospc struct{}

func (enospc) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func TestFullDiskIsCountedAndStdoutGoesOn(t *testing.T) {
	c := clock.NewFake(start)
	fs, stdout := openTest(t, c, 1<<20)
	fs.App.wrap = func(io.Writer) io.Writer { return enospc{} }
	logAt(fs, c, slog.LevelInfo, "one")
	logAt(fs, c, slog.LevelInfo, "two")
	if fs.App.Failures() != 2 || fs.Healthy() || !strings.Contains(fs.App.LastError(), "no space") {
		t.Fatalf("failures %d healthy %v last %q", fs.App.Failures(), fs.Healthy(), fs.App.LastError())
	}
	out := stdout.String()
	if !strings.Contains(out, `"msg":"one"`) || !strings.Contains(out, `"msg":"two"`) {
		t.Fatalf("stdout lost records: %s", out)
	}
	if strings.Count(out, "log file write failed") != 1 {
		t.Errorf("the failure should be announced once on stdout: %s", out)
	}
	// The disk has room again: writes resume and the file is healthy.
	fs.App.mu.Lock()
	fs.App.w = fs.App.f
	fs.App.mu.Unlock()
	logAt(fs, c, slog.LevelInfo, "three")
	if !fs.Healthy() {
		t.Fatal("still unhealthy after a good write")
	}
	b, _ := os.ReadFile(filepath.Join(fs.App.Dir(), "app-current.jsonl"))
	if !strings.Contains(string(b), `"msg":"three"`) {
		t.Fatalf("file: %s", b)
	}
}

// A live file an earlier process left on an earlier day is rotated before
// today's first record, so no file spans two days.
func TestLiveFileOfAnEarlierDayIsRotatedAtStart(t *testing.T) {
	c := clock.NewFake(start)
	dir := t.TempDir()
	old := filepath.Join(dir, "app-current.jsonl")
	if err := os.WriteFile(old, []byte(`{"time":"2026-03-02T02:00:00Z","level":"INFO","msg":"yesterday"}`+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(old, start, start); err != nil {
		t.Fatal(err)
	}
	c.Advance(24 * time.Hour)
	f, err := OpenFile(dir, App, FileOptions{Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(`{"time":"2026-03-03T02:00:00Z","level":"INFO","msg":"today"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(old)
	if strings.Contains(string(b), "yesterday") || !strings.Contains(string(b), "today") {
		t.Fatalf("live file: %s", b)
	}
	res, err := Search(context.Background(), dir, Query{Log: App})
	if err != nil || len(res.Records) != 2 || res.Records[0].Msg != "yesterday" || res.Files != 2 {
		t.Fatalf("search: %+v %v", res, err)
	}
}
