package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"jifen/internal/platform/web"
)

// TestOverloadShedsPastTheBound: with both slots taken, a request waits
// its 100 ms and gets 503 with Retry-After and the Chinese message; the
// health endpoints still answer; once a slot frees, requests are served.
func TestOverloadShedsPastTheBound(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	o := web.NewOverload(2, 100*time.Millisecond)
	srv := httptest.NewServer(web.Chain(h, web.WithRequest(web.NewClientIPs(nil)), o.Middleware()))
	defer srv.Close()

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/slow")
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("admitted request: %d", resp.StatusCode)
			}
		})
	}
	<-entered
	<-entered

	start := time.Now()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/anything", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body web.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" ||
		body.Error.Message != "系统繁忙，请稍后再试" {
		t.Errorf("shed: %d %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("shed after %s, before its wait", waited)
	}
	if o.Shed.Load() != 1 {
		t.Errorf("shed count %d", o.Shed.Load())
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s while full: %d", p, resp.StatusCode)
		}
	}

	close(release)
	wg.Wait()
	resp, err = http.Get(srv.URL + "/fast")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the slots freed: %d", resp.StatusCode)
	}
}

// TestOverloadOff: a bound of 0 is no bound.
func TestOverloadOff(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	wrapped := web.NewOverload(0, 0).Middleware()(h)
	rec := httptest.NewRecorder()
	wrapped.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("%d", rec.Code)
	}
}
