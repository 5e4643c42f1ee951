package main

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Result is what a wrk --latency run says.
type Result struct {
	RequestsPerSec float64
	P50, P99       time.Duration
	Requests       int64
	Non2xx3xx      int64 // answers outside 2xx/3xx: a rate limit or an error page
	SocketErrors   int64 // connect + read + write + timeout
}

// ParseWrk reads wrk's text output (wrk 4, with --latency). Requests/sec
// and the 50% and 99% lines of the latency distribution are required.
func ParseWrk(out string) (*Result, error) {
	r := &Result{}
	var haveRPS, have50, have99 bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return nil, fmt.Errorf("requests per second %q: %w", f[1], err)
			}
			r.RequestsPerSec, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return nil, fmt.Errorf("latency %s: %w", f[0], err)
			}
			if f[0] == "50%" {
				r.P50, have50 = d, true
			} else {
				r.P99, have99 = d, true
			}
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("requests %q: %w", f[0], err)
			}
			r.Requests = n
		case len(f) == 5 && strings.Join(f[:4], " ") == "Non-2xx or 3xx responses:":
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("non-2xx %q: %w", f[4], err)
			}
			r.Non2xx3xx = n
		case len(f) == 10 && f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 3; i < 10; i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[i], ","), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("socket errors %q: %w", f[i], err)
				}
				r.SocketErrors += n
			}
		}
	}
	if !haveRPS || !have50 || !have99 {
		return nil, errors.New("not wrk --latency output: Requests/sec, 50% or 99% missing")
	}
	return r, nil
}

// wrkUnits are the suffixes wrk prints times with (units.c), longest
// match first so "ms" is not read as "s".
var wrkUnits = []struct {
	suffix string
	unit   time.Duration
}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}

func parseWrkDuration(s string) (time.Duration, error) {
	for _, u := range wrkUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("bad duration %q", s)
}
