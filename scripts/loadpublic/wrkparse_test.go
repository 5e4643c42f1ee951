package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseWrkRealOutput(t *testing.T) {
	b, err := os.ReadFile("testdata/wrk-hello.txt") // wrk 4.1.0 -t2 -c64 -d10s --latency on the hello-world
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseWrk(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{RequestsPerSec: 74644.69, P50: 696 * time.Microsecond, P99: 7090 * time.Microsecond, Requests: 749726}
	if *r != want {
		t.Fatalf("got %+v, want %+v", *r, want)
	}
}

func TestParseWrkErrorsAndUnits(t *testing.T) {
	// The lines wrk adds when answers fail, and every time unit it prints.
	out := `Running 10s test @ http://127.0.0.1:1/x
  Latency Distribution
     50%    1.50s 
     75%    2.00m
     99%    1.00h
  10 requests in 10.00s, 1.00KB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 7
Requests/sec:      1.00
`
	r, err := ParseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.P50 != 1500*time.Millisecond || r.P99 != time.Hour || r.Non2xx3xx != 7 || r.SocketErrors != 10 || r.Requests != 10 {
		t.Fatalf("%+v", *r)
	}
	for _, bad := range []string{
		"",
		strings.Replace(out, "Requests/sec:      1.00", "", 1),
		strings.Replace(out, "99%    1.00h", "99%    1.00parsecs", 1),
		strings.Replace(out, "50%    1.50s", "", 1),
		strings.Replace(out, "Requests/sec:      1.00", "Requests/sec: lots", 1),
	} {
		if _, err := ParseWrk(bad); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	if _, err := parseFlags([]string{"/x"}); err == nil {
		t.Error("paths without -base accepted")
	}
	if _, err := parseFlags([]string{"-base", "http://h", "x"}); err == nil {
		t.Error("relative path accepted")
	}
	c, err := parseFlags([]string{"-base", "http://h:1/", "/a", "/b?q=1"})
	if err != nil || c.base != "http://h:1" || len(c.paths) != 2 || c.threads != 2 || c.conns != 64 || c.duration != 10*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{696 * time.Microsecond: "0.70 ms", 12340 * time.Microsecond: "12.3 ms", 250 * time.Millisecond: "250 ms"} {
		if got := fmtDur(d); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
}
