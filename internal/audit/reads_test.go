package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db/dbtest"
)

// Reads are buffered, written in one batch that joins the chain between
// ordinary rows, and found by applicant; the applicant's own reads are not
// recorded.
func TestReadsAreBatchedChainedAndFoundByApplicant(t *testing.T) {
	_, l, c := setup(t)
	officer := actor.Actor{UserID: 9, Login: "hd-officer", Roles: []actor.Role{actor.DistrictOfficer}, ClientAddr: "10.0.0.9", RequestID: "r9"}
	ctx := audit.WithRoute(actor.With(context.Background(), officer), func() string { return "GET /office/discrepancies/{id}" })
	record(t, l, ctx, 1)
	for i := 0; i < 3; i++ {
		l.RecordRead(ctx, officer, audit.Read{Action: audit.ReadDiscrepancy, PersonID: 42, What: "比对差异 7"})
	}
	c.Advance(time.Second)
	l.RecordRead(ctx, officer, audit.Read{Action: audit.ReadAttachment, PersonID: 43, What: "附件 1\x00\xff"})
	self := actor.Actor{UserID: 5, Login: "applicant", Roles: []actor.Role{actor.Applicant}, PersonID: 42}
	l.RecordRead(ctx, self, audit.Read{Action: audit.ReadApplication, PersonID: 42, What: "own"})
	if n := l.PendingReads(); n != 4 {
		t.Fatalf("pending %d reads, want 4 (the applicant's own read is not audited)", n)
	}
	if got, _ := l.Search(ctx, audit.ApplicantFilter(42)); len(got) != 0 {
		t.Fatalf("reads written before the flush: %d", len(got))
	}
	if err := l.FlushReads(ctx); err != nil {
		t.Fatal(err)
	}
	record(t, l, ctx, 1)
	got, err := l.Search(ctx, audit.ApplicantFilter(42))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("found %d reads of person 42, want 3", len(got))
	}
	e := got[0]
	if e.Action != audit.ReadDiscrepancy || e.ActorLogin != "hd-officer" || e.ActorRole != "district_officer" ||
		e.ClientAddr != "10.0.0.9" || e.RequestID != "r9" || !strings.Contains(e.Reason, "比对差异 7") ||
		!strings.Contains(e.Reason, "GET /office/discrepancies/{id}") {
		t.Fatalf("read row %+v", e)
	}
	other, _ := l.Search(ctx, audit.ApplicantFilter(43))
	if len(other) != 1 || strings.ContainsRune(other[0].Reason, 0) {
		t.Fatalf("reads of person 43: %+v", other)
	}
	res, err := l.Verify(ctx)
	if err != nil || !res.OK() || res.Rows != 6 {
		t.Fatalf("verify after a batch: %+v %v", res, err)
	}
	if err := l.FlushReads(ctx); err != nil || l.PendingReads() != 0 {
		t.Fatalf("empty flush: %v", err)
	}
}

// The flusher writes a full batch without waiting for its interval, and
// what is left when it stops.
func TestReadFlusherWritesFullBatchesAndTheRestAtStop(t *testing.T) {
	_, l, _ := setup(t)
	by := actor.Actor{UserID: 1, Login: "op", Roles: []actor.Role{actor.EmployerOperator}, EmployerID: 3}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.RunReadFlusher(ctx, time.Hour, func(err error) { t.Error(err) }); close(done) }()
	for i := 0; i < audit.ReadBatch; i++ {
		l.RecordRead(ctx, by, audit.Read{Action: audit.ReadApplication, PersonID: 7, What: "申请 1"})
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.PendingReads() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := l.PendingReads(); n != 0 {
		t.Fatalf("a full batch still waits: %d", n)
	}
	l.RecordRead(ctx, by, audit.Read{Action: audit.ReadApplication, PersonID: 7, What: "申请 1"})
	cancel()
	<-done
	got, err := l.Search(context.Background(), audit.Filter{ObjectType: "person", ObjectID: "7", Limit: 1000})
	if err != nil || len(got) != audit.ReadBatch+1 {
		t.Fatalf("written %d reads, want %d (%v)", len(got), audit.ReadBatch+1, err)
	}
	if res, err := l.Verify(context.Background()); err != nil || !res.OK() {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

// BenchmarkRecordRead is what a page pays to audit a read (an append to
// the buffer), against BenchmarkRecord, an audit row in its own
// transaction, and BenchmarkFlushReads, the batch write per 256 reads.
func BenchmarkRecordRead(b *testing.B) {
	l := audit.New(dbtest.Open(b), clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)))
	by := actor.Actor{UserID: 1, Login: "op", Roles: []actor.Role{actor.EmployerOperator}, EmployerID: 3}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.RecordRead(ctx, by, audit.Read{Action: audit.ReadApplication, PersonID: 7, What: "申请 1"})
		if i%audit.ReadBatch == audit.ReadBatch-1 {
			b.StopTimer()
			_ = l.FlushReads(ctx)
			b.StartTimer()
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	l := audit.New(dbtest.Open(b), clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)))
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if err := l.Record(ctx, audit.Entry{Action: audit.ReadApplication, ObjectType: "person", ObjectID: "7", ActorLogin: "op"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFlushReads(b *testing.B) {
	l := audit.New(dbtest.Open(b), clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)))
	by := actor.Actor{UserID: 1, Login: "op", Roles: []actor.Role{actor.EmployerOperator}, EmployerID: 3}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := 0; j < audit.ReadBatch; j++ {
			l.RecordRead(ctx, by, audit.Read{Action: audit.ReadApplication, PersonID: 7, What: "申请 1"})
		}
		b.StartTimer()
		if err := l.FlushReads(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
