package app_test

import (
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app/apptest"
)

// BenchmarkLoginHTTP logs in over the JSON API, one at a time: argon2id
// verification, the session insert and the audit record. It reports the
// median latency (target ≤ 100 ms on the 2-core machine).
func BenchmarkLoginHTTP(b *testing.B) {
	a := apptest.Start(b)
	a.CreateUser("bench1", account.Applicant)
	c := a.Client(a.Internet)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r := c.LoginAPI("bench1", apptest.Password); r.Status != 200 {
			b.Fatalf("login: %d", r.Status)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkAuthenticatedPage fetches the logged-in account page from
// parallel clients: session lookup, user and roles, render.
func BenchmarkAuthenticatedPage(b *testing.B) {
	a := apptest.Start(b)
	a.CreateUser("bench1", account.Applicant)
	c := a.Client(a.Internet)
	if r := c.LoginAPI("bench1", apptest.Password); r.Status != 200 {
		b.Fatal(r.Body)
	}
	cookie := ""
	for _, ck := range c.HTTP.Jar.Cookies(mustURL(a.Internet)) {
		cookie = ck.Name + "=" + ck.Value
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		hc := &http.Client{Transport: tr}
		for pb.Next() {
			req, _ := http.NewRequest("GET", a.Internet+"/account", nil)
			req.Header.Set("Cookie", cookie)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			buf := make([]byte, 32<<10)
			n, _ := resp.Body.Read(buf)
			for n > 0 {
				n, _ = resp.Body.Read(buf)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }
