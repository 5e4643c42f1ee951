package app_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"jifen/internal/app/apptest"
	"jifen/internal/synth"
)

// BenchmarkDraftSave saves declarations of 64 different synthetic
// applicants from parallel clients against the real app (SQLite or
// PostgreSQL): session, applicant, application, validation, scoring and
// one conditional UPDATE per request.
func BenchmarkDraftSave(b *testing.B) {
	a := apptest.Start(b)
	ctx := context.Background()
	r, err := a.EnsureRound(ctx, 0, true)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.Synth(ctx, r, 3000, 300, 1, 0, nil); err != nil {
		b.Fatal(err)
	}
	rows, err := a.DB.Query(ctx, `SELECT u.login FROM applications ap JOIN persons p ON p.id = ap.person_id
		JOIN users u ON u.id = p.user_id WHERE ap.status = 'draft' ORDER BY ap.id LIMIT 64`)
	if err != nil {
		b.Fatal(err)
	}
	var logins []string
	for rows.Next() {
		var l string
		_ = rows.Scan(&l)
		logins = append(logins, l)
	}
	rows.Close()
	var cookies []string
	var body string
	for i, l := range logins {
		c := a.Client(a.Internet)
		if r := c.LoginAPI(l, synth.Password); r.Status != 200 {
			b.Fatalf("login %s: %d", l, r.Status)
		}
		for _, ck := range c.HTTP.Jar.Cookies(mustURL(a.Internet)) {
			cookies = append(cookies, ck.Name+"="+ck.Value)
		}
		if i == 0 {
			g := c.Get("/api/v1/application")
			i := strings.Index(g.Body, `"declaration":`)
			j := strings.Index(g.Body, `,"estimate"`)
			body = `{"version":0,"declaration":` + g.Body[i+len(`"declaration":`):j] + `}`
		}
	}
	var next atomic.Int64
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hc := &http.Client{Transport: tr}
		for pb.Next() {
			ck := cookies[next.Add(1)%int64(len(cookies))]
			req, _ := http.NewRequest("PUT", a.Internet+"/api/v1/application/declaration", strings.NewReader(body))
			req.Header.Set("Cookie", ck)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			buf := make([]byte, 8<<10)
			for n, _ := resp.Body.Read(buf); n > 0; n, _ = resp.Body.Read(buf) {
			}
			resp.Body.Close()
			if resp.StatusCode != 200 && resp.StatusCode != 409 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
