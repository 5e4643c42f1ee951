package app_test

import (
	"context"
	"crypto/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"jifen/internal/app/apptest"
)

// TestWholeFileArchiveSpeed (issue 17, item 4): the archive of an applicant
// with 3 rounds and 30 attachments (10 a round, 2 MB each of random,
// incompressible content: 60 MB) is ready within 10 s of the request,
// counted from the request to the job's "ready", through the real app and
// River. The two earlier rounds' applications are copies of this round's
// (rows written here, sharing the stored files). Run with
// JIFEN_BENCH_EXPORT=1 (and JIFEN_TEST_POSTGRES for PostgreSQL).
func TestWholeFileArchiveSpeed(t *testing.T) {
	if os.Getenv("JIFEN_BENCH_EXPORT") == "" {
		t.Skip("JIFEN_BENCH_EXPORT not set")
	}
	a := apptest.Start(t)
	ctx := context.Background()
	_, app, appID := flow(t, a)
	for i := range 10 {
		pdf := make([]byte, 2<<20)
		_, _ = rand.Read(pdf)
		copy(pdf, "%PDF-1.7\n")
		if r := uploadAPI(app, "材料"+strconv.Itoa(i)+".pdf", pdf); r.Status != 201 {
			t.Fatalf("upload %d: %d %s", i, r.Status, r.Body)
		}
	}
	for _, year := range []int{2024, 2025} {
		rd, err := a.EnsureRound(ctx, year, false)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := a.DB.QueryRow(ctx, `INSERT INTO applications (round_id, person_id, employer_id, status, declaration, created_at, updated_at)
			SELECT $1, person_id, employer_id, status, declaration, created_at, updated_at FROM applications WHERE id = $2 RETURNING id`,
			rd.ID, appID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := a.DB.Exec(ctx, `INSERT INTO attachments (application_id, indicator, blob_key, filename, content_type, size_bytes, uploaded_by, created_at)
			SELECT $1, indicator, blob_key, filename, content_type, size_bytes, uploaded_by, created_at FROM attachments WHERE application_id = $2`,
			id, appID); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if r := app.PostJSON("/api/v1/me/data-export", nil); r.Status != 202 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	a.WorkJobs(30*time.Second, func() bool { return exportStatus(app) == "ready" })
	took := time.Since(start)
	r := app.Get("/api/v1/me/data-export/download")
	files := unzip(t, []byte(r.Body))
	if len(files) != 32 {
		t.Fatalf("%d files in the archive, want data.json, summary.html and 30 attachments", len(files))
	}
	t.Logf("3 rounds, 30 attachments, %d bytes: ready in %s", len(r.Body), took)
	if took > 10*time.Second {
		t.Fatalf("ready in %s, want ≤ 10 s", took)
	}
}
