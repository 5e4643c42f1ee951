package accessstats

import (
	"context"
	"testing"
	"time"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db/dbtest"
)

// TestRunFlusherFlushesOnStop: the counts of a stopping process are
// written by the last flush.
func TestRunFlusherFlushesOnStop(t *testing.T) {
	d := dbtest.Open(t)
	fc := clock.NewFake(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC))
	s := New(d, fc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.RunFlusher(ctx, time.Hour, func(err error) { t.Error(err) }); close(done) }()
	serve(s, "GET /x", "/x", "ua", ok)
	cancel()
	<-done
	var views int64
	if err := d.QueryRow(context.Background(), `SELECT views FROM access_minutes WHERE page = $1`, "GET /x").Scan(&views); err != nil || views != 1 {
		t.Fatalf("views %d, %v", views, err)
	}
}

// TestFailedFlushKeepsTheCounts: a flush that cannot write puts its counts
// back for the next one.
func TestFailedFlushKeepsTheCounts(t *testing.T) {
	d := dbtest.Open(t)
	s := New(d, clock.NewFake(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)))
	serve(s, "GET /x", "/x", "ua", ok)
	_ = d.Close()
	if err := s.Flush(context.Background()); err == nil {
		t.Fatal("a flush on a closed database succeeded")
	}
	if n := s.Pending(); n != 2 { // the page and the site row (the visitor)
		t.Fatalf("pending %d after a failed flush, want 2", n)
	}
}
