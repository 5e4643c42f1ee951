// Command faultproxy is an independent fault injector for measuring the
// cross-check against unreliable agencies: an HTTP reverse proxy that sits
// in front of the agencies (jifen agencysim, or anything speaking
// docs/agencies.md) and, per request, adds latency, answers 503 or 429 (with
// Retry-After) instead of forwarding, or drops the connection; and it can
// take everything down for one outage window. It knows nothing of jifen's
// code on purpose, so the measured behaviour is jifen's and not a
// simulator's cooperation.
//
//	go run ./scripts/faultproxy -listen 127.0.0.1:9400 -target http://127.0.0.1:9300 \
//	    -p503 0.10 -p429 0.03 -retry-after 1 -pdrop 0.02 -latency 20ms-80ms \
//	    -outage-after 60s -outage-for 60s -seed 1
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type proxy struct {
	next                *httputil.ReverseProxy
	p503, p429, pdrop   float64
	retryAfter          int
	latMin, latMax      time.Duration
	outageAfter, outage time.Duration

	mu    sync.Mutex
	rng   *rand.Rand
	first time.Time // the first query seen: the outage clock starts here

	forwarded, e503, e429, drops, down atomic.Int64
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9400", "address to serve on")
	target := flag.String("target", "http://127.0.0.1:9300", "the agencies' base URL to forward to")
	p503 := flag.Float64("p503", 0.10, "share of requests answered 503")
	p429 := flag.Float64("p429", 0.03, "share of requests answered 429 with Retry-After")
	retryAfter := flag.Int("retry-after", 1, "Retry-After seconds on a 429")
	pdrop := flag.Float64("pdrop", 0.02, "share of requests whose connection is dropped without an answer")
	latency := flag.String("latency", "20ms-80ms", "latency added to every request: MIN-MAX, uniform")
	outageAfter := flag.Duration("outage-after", 0, "start of the outage, after the first query (0 with -outage-for 0: none)")
	outageFor := flag.Duration("outage-for", 0, "length of the outage: every request fails (503 or a dropped connection)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil {
		log.Fatal(err)
	}
	lo, hi, ok := strings.Cut(*latency, "-")
	latMin, err1 := time.ParseDuration(lo)
	latMax, err2 := time.ParseDuration(hi)
	if !ok || err1 != nil || err2 != nil || latMax < latMin {
		log.Fatalf("-latency %q: want MIN-MAX, e.g. 20ms-80ms", *latency)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	p := &proxy{next: rp, p503: *p503, p429: *p429, pdrop: *pdrop, retryAfter: *retryAfter, latMin: latMin, latMax: latMax,
		outageAfter: *outageAfter, outage: *outageFor, rng: rand.New(rand.NewPCG(*seed, *seed^0x5eed))}
	log.Printf("faultproxy %s → %s: 503 %.0f%%, 429 %.0f%% (Retry-After %ds), drop %.0f%%, latency %s–%s, outage %s after the first query for %s",
		*listen, *target, *p503*100, *p429*100, *retryAfter, *pdrop*100, latMin, latMax, *outageAfter, *outageFor)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		t := time.NewTicker(10 * time.Second)
		for {
			select {
			case <-t.C:
				p.report()
			case <-stop:
				p.report()
				os.Exit(0)
			}
		}
	}()
	log.Fatal(http.ListenAndServe(*listen, p))
}

func (p *proxy) report() {
	log.Printf("forwarded %d, 503 %d, 429 %d, dropped %d, refused in the outage %d",
		p.forwarded.Load(), p.e503.Load(), p.e429.Load(), p.drops.Load(), p.down.Load())
}

// decide draws one request's fate under the lock (the generator is not safe
// for concurrent use).
func (p *proxy) decide(now time.Time, query bool) (delay time.Duration, fate string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if query && p.first.IsZero() {
		p.first = now
		log.Printf("first query; outage from %s to %s", now.Add(p.outageAfter).Format(time.TimeOnly),
			now.Add(p.outageAfter+p.outage).Format(time.TimeOnly))
	}
	delay = p.latMin + time.Duration(p.rng.Int64N(int64(p.latMax-p.latMin)+1))
	if p.outage > 0 && !p.first.IsZero() {
		if at := now.Sub(p.first); at >= p.outageAfter && at < p.outageAfter+p.outage {
			if p.rng.IntN(2) == 0 {
				return 0, "down503"
			}
			return 0, "downdrop"
		}
	}
	switch x := p.rng.Float64(); {
	case x < p.p503:
		return delay, "503"
	case x < p.p503+p.p429:
		return delay, "429"
	case x < p.p503+p.p429+p.pdrop:
		return delay, "drop"
	}
	return delay, "forward"
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	delay, fate := p.decide(time.Now(), strings.HasSuffix(r.URL.Path, "/query"))
	time.Sleep(delay)
	switch fate {
	case "forward":
		p.forwarded.Add(1)
		p.next.ServeHTTP(w, r)
	case "503", "down503":
		if fate == "503" {
			p.e503.Add(1)
		} else {
			p.down.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"unavailable","message":"injected by faultproxy"}}`)
	case "429":
		p.e429.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"code":"rate_limited","message":"injected by faultproxy"}}`)
	default: // drop, downdrop: close the connection without an answer
		if fate == "drop" {
			p.drops.Add(1)
		} else {
			p.down.Add(1)
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
}
