package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ClientIPs resolves the client address of a request: the connection's
// address, unless that is a configured trusted proxy, in which case the
// right-most address of X-Forwarded-For that is not itself a trusted proxy.
// Client-supplied headers are never believed otherwise.
type ClientIPs struct {
	trusted []netip.Prefix
}

// NewClientIPs returns a resolver trusting the given proxy networks.
func NewClientIPs(trusted []netip.Prefix) *ClientIPs { return &ClientIPs{trusted: trusted} }

func (c *ClientIPs) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// Resolve returns the client address of r.
func (c *ClientIPs) Resolve(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || len(c.trusted) == 0 || !c.isTrusted(addr) {
		return host
	}
	parts := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			break
		}
		if !c.isTrusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}

// Limiter is a per-client token bucket (login and registration attempts).
type Limiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*limiterEntry
	sweep   time.Time
}

type limiterEntry struct {
	l    *rate.Limiter
	seen time.Time
}

// NewLimiter allows each client perSecond events with the given burst.
func NewLimiter(perSecond float64, burst int) *Limiter {
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, clients: map[string]*limiterEntry{}}
}

// Allow reports whether client may act now.
func (l *Limiter) Allow(client string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		// Forget clients whose bucket has refilled: memory stays bounded
		// by the clients of the last few minutes.
		for k, e := range l.clients {
			if now.Sub(e.seen) > 10*time.Minute {
				delete(l.clients, k)
			}
		}
		l.sweep = now
	}
	e, ok := l.clients[client]
	if !ok {
		e = &limiterEntry{l: rate.NewLimiter(l.rate, l.burst)}
		l.clients[client] = e
	}
	e.seen = now
	return e.l.AllowN(now, 1)
}

// Limit wraps h: over the limit the client gets 429 with Retry-After.
func (l *Limiter) Limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.Allow(ClientAddr(r.Context())) {
			w.Header().Set("Retry-After", "10")
			WriteError(w, r, tooMany)
			return
		}
		h.ServeHTTP(w, r)
	})
}
