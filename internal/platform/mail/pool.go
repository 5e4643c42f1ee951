package mail

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// ServerConfig is one SMTP server of the pool (Config as today, plus the
// number of connections kept open to it).
type ServerConfig struct {
	Config
	Conns int // connections kept open; default 2
}

// DefaultPoolConns is the number of connections kept open to a server
// whose ServerConfig leaves Conns at 0.
const DefaultPoolConns = 2

// MaxPoolConns bounds the connections to one server: providers count
// parallel sessions and refuse beyond a few.
const MaxPoolConns = 64

// Envelope is what a campaign message carries besides the Message.
type Envelope struct {
	ReturnPath string            // the SMTP MAIL FROM (VERP address), "" for the From address
	MessageID  string            // "<...@host>"; stable per outbox row
	Headers    map[string]string // extra headers, e.g. List-Unsubscribe, List-Unsubscribe-Post, Precedence: bulk
	DSN        bool              // ask for a DSN on failure (RET=HDRS, NOTIFY=FAILURE,DELAY)

	// From and FromName, when set, replace the server's sender identity
	// (a campaign's own sender); the server must accept it for relay.
	From     string
	FromName string
}

// The back-off of a server whose connection could not be opened: the
// first failure takes it out for poolBackoff, each further one doubles
// that up to poolMaxBackoff; a successful connection resets it.
const (
	poolBackoff    = 2 * time.Second
	poolMaxBackoff = time.Minute
)

// ErrPoolClosed is returned by Send after Close.
var ErrPoolClosed = errors.New("smtp pool: closed")

// Pool sends over several SMTP servers, reusing connections (round robin
// over the servers' connections; a server whose connection fails is
// skipped for a while).
//
// Each server has Conns connection slots. Send takes an idle slot, the
// servers taken in turn; a slot whose connection is closed dials it (TLS
// and AUTH as the SMTPSender does) and keeps it open for the next messages.
// A connection that fails (a dropped connection, a timeout, 421) is closed,
// and the slot dials again the next time it is used. A server that cannot
// be reached is backed off: its closed slots are not used until the
// back-off expires, and the message goes to another server. A message
// that fails on one server is not re-sent on another, except when nothing
// of it had reached the server yet (it could not connect, or a kept
// connection turned out dead before MAIL FROM was answered).
//
// Send is safe for concurrent use; at most Conns messages go to a server at
// once, and callers wait for a free slot.
type Pool struct {
	servers []*poolServer
	backoff time.Duration // the first back-off; tests shorten it
	now     func() time.Time

	mu      sync.Mutex
	next    int           // the server to try first (round robin)
	changed chan struct{} // closed and replaced when a slot is released or the pool closed
	closed  bool
}

type poolServer struct {
	cfg    Config // defaults applied
	domain string
	client *gomail.Client // the dialer: TLS, AUTH, HELO and timeout of cfg
	slots  int            // Conns

	// guarded by Pool.mu
	idle      []*poolConn
	open      int // slots with an open connection, idle or busy
	downUntil time.Time
	failures  int
	lastErr   *SMTPError
}

// poolConn is one connection slot; c is nil while the connection is closed.
// A slot is used by one Send at a time.
type poolConn struct {
	srv *poolServer
	c   *gosmtp.Client
}

// NewPool checks every server's configuration and prepares the pool. It
// does not connect: connections are opened by the first messages.
func NewPool(servers []ServerConfig) (*Pool, error) {
	if len(servers) == 0 {
		return nil, errors.New("smtp pool: no server")
	}
	p := &Pool{backoff: poolBackoff, now: time.Now, changed: make(chan struct{})}
	var errs []error
	for i, sc := range servers {
		if !sc.Enabled() {
			errs = append(errs, fmt.Errorf("smtp server %d: no host", i+1))
			continue
		}
		if err := sc.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("smtp server %d (%s): %w", i+1, sc.Host, err))
			continue
		}
		if sc.Conns < 0 || sc.Conns > MaxPoolConns {
			errs = append(errs, fmt.Errorf("smtp server %d (%s): conns %d is not between 0 and %d", i+1, sc.Host, sc.Conns, MaxPoolConns))
			continue
		}
		if sc.Conns == 0 {
			sc.Conns = DefaultPoolConns
		}
		cfg := sc.withDefaults()
		c, err := newClient(cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("smtp server %d (%s): %w", i+1, sc.Host, err))
			continue
		}
		srv := &poolServer{cfg: cfg, domain: fromDomain(cfg.From), client: c, slots: sc.Conns}
		for range sc.Conns {
			srv.idle = append(srv.idle, &poolConn{srv: srv})
		}
		p.servers = append(p.servers, srv)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Send delivers m with the envelope env over one of the pool's servers.
// A failure comes back as an *SMTPError: permanent (IsPermanent) for a 5xx
// answer to RCPT TO or to the message (DATA); temporary for a 4xx, a
// network failure, a timeout, a connection dropped mid-DATA (the message
// may or may not have been taken: sending it again repeats its
// Message-ID), and for any refusal before the recipient is named — at
// connection, EHLO, AUTH or MAIL FROM — which concerns the sender or the
// configuration rather than the recipient. A message that cannot be built
// (a bad header in env) is marked Permanent.
func (p *Pool) Send(ctx context.Context, env Envelope, m Message) error {
	if err := env.validate(); err != nil {
		return Permanent(err)
	}
	var tried []*poolServer
	var lastErr error
	for range p.servers {
		pc, err := p.acquire(ctx, tried)
		if err != nil {
			if lastErr != nil && !errors.Is(err, ErrPoolClosed) {
				return lastErr
			}
			return err
		}
		retry, err := p.sendOn(ctx, pc, env, m)
		p.release(pc)
		if !retry {
			return err
		}
		tried = append(tried, pc.srv)
		lastErr = err
	}
	return lastErr
}

// Close quits every open connection, after waiting for the messages being
// sent. Send fails with ErrPoolClosed afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.broadcast()
	for {
		busy := false
		for _, s := range p.servers {
			busy = busy || len(s.idle) < s.slots
		}
		if !busy {
			break
		}
		ch := p.changed
		p.mu.Unlock()
		<-ch
		p.mu.Lock()
	}
	var conns []*poolConn
	for _, s := range p.servers {
		conns = append(conns, s.idle...)
	}
	p.mu.Unlock()
	for _, pc := range conns {
		if pc.c != nil {
			// Best effort: a connection the server closed while idle
			// cannot say goodbye, and need not.
			_ = pc.c.UpdateDeadline(min(pc.srv.cfg.Timeout, 5*time.Second))
			_ = pc.c.Quit()
			p.drop(pc)
		}
	}
	return nil
}

// broadcast wakes the callers waiting for a slot. Called with p.mu held.
func (p *Pool) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// acquire takes a connection slot: the servers in turn from the round-robin
// position, skipping those in skip; an idle open connection first, or a
// closed slot of a server that is not backed off. It waits while every
// usable slot is busy, and fails at once when no server is usable.
func (p *Pool) acquire(ctx context.Context, skip []*poolServer) (*poolConn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		now := p.now()
		n := len(p.servers)
		usable := false
		var wake time.Time
		for i := range n {
			s := p.servers[(p.next+i)%n]
			if slices.Contains(skip, s) {
				continue
			}
			down := now.Before(s.downUntil)
			if down && s.open == 0 {
				if wake.IsZero() || s.downUntil.Before(wake) {
					wake = s.downUntil
				}
				continue
			}
			usable = true
			if pc := s.take(down); pc != nil {
				p.next = (p.next + i + 1) % n
				p.mu.Unlock()
				return pc, nil
			}
		}
		if !usable {
			err := p.unavailable(skip, wake)
			p.mu.Unlock()
			return nil, err
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, classify("wait", ctx.Err())
		}
	}
}

// take returns an idle slot of s: one with an open connection if any, else
// a closed one unless s is backed off. Called with p.mu held.
func (s *poolServer) take(down bool) *poolConn {
	for i := len(s.idle) - 1; i >= 0; i-- {
		if s.idle[i].c != nil {
			pc := s.idle[i]
			s.idle = slices.Delete(s.idle, i, i+1)
			return pc
		}
	}
	if down || len(s.idle) == 0 {
		return nil
	}
	pc := s.idle[len(s.idle)-1]
	s.idle = s.idle[:len(s.idle)-1]
	return pc
}

// unavailable is the error when no server may be tried: the last
// connection failure of one of them. Called with p.mu held.
func (p *Pool) unavailable(skip []*poolServer, until time.Time) error {
	for _, s := range p.servers {
		if !slices.Contains(skip, s) && s.lastErr != nil {
			e := *s.lastErr
			e.Text = fmt.Sprintf("%s (server %s backed off until %s)", e.Text, s.cfg.Host, until.Format(time.TimeOnly))
			return &e
		}
	}
	return &SMTPError{stage: "dial", Temporary: true, Text: "no SMTP server available"}
}

// release puts a slot back and wakes a waiting Send.
func (p *Pool) release(pc *poolConn) {
	p.mu.Lock()
	pc.srv.idle = append(pc.srv.idle, pc)
	p.broadcast()
	p.mu.Unlock()
}

// dialed records the outcome of opening a connection to s.
func (p *Pool) dialed(s *poolServer, err *SMTPError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		s.open++
		s.failures = 0
		s.downUntil = time.Time{}
		s.lastErr = nil
		return
	}
	s.failures++
	d := p.backoff << min(s.failures-1, 10)
	d = min(d, max(poolMaxBackoff, p.backoff))
	s.downUntil = p.now().Add(d)
	s.lastErr = err
}

// drop closes the connection of a slot.
func (p *Pool) drop(pc *poolConn) {
	if pc.c == nil {
		return
	}
	_ = pc.c.Close()
	pc.c = nil
	p.mu.Lock()
	pc.srv.open--
	p.mu.Unlock()
}

// sendOn sends over the slot pc, opening its connection if needed. retry
// says that nothing reached the server and another server may be tried.
func (p *Pool) sendOn(ctx context.Context, pc *poolConn, env Envelope, m Message) (retry bool, err error) {
	s := pc.srv
	cfg, domain := s.cfg, s.domain
	if env.From != "" {
		cfg.From, domain = env.From, fromDomain(env.From)
	}
	if env.FromName != "" {
		cfg.FromName = env.FromName
	}
	msg, err := buildMsg(cfg, domain, m)
	if err == nil {
		err = env.apply(msg)
	}
	if err != nil {
		return false, Permanent(err)
	}
	for attempt := 0; ; attempt++ {
		fresh := false
		if pc.c == nil {
			c, err := s.client.DialToSMTPClientWithContext(ctx)
			if err != nil {
				// Unreachable, or refusing us at the greeting, EHLO,
				// STARTTLS or AUTH: the server or its configuration is
				// wrong, not the message. Back it off, try another, and
				// keep the message for later even on a 5xx, so that a
				// campaign pauses rather than fails every recipient.
				se := classify("dial", err)
				se.Temporary = true
				if ctx.Err() != nil {
					return false, se // the caller gave up, not the server
				}
				p.dialed(s, se)
				return true, se
			}
			pc.c = c
			fresh = true
			p.dialed(s, nil)
		}
		stage, err := p.transact(ctx, pc.c, env, msg, s.cfg.Timeout)
		if err == nil {
			return false, nil
		}
		se := classify(stage, err)
		if stage == "mail" {
			// A refused MAIL FROM is about the sender (its address, its
			// reputation, a quota of the account), the same for every
			// recipient: temporary, whatever the code, so that a campaign
			// pauses instead of failing its whole list.
			se.Temporary = true
		}
		switch {
		case !isReply(err):
			// The connection is broken (reset, EOF, timeout, cancelled).
			p.drop(pc)
			if !fresh && stage == "mail" && attempt == 0 && ctx.Err() == nil {
				// A kept connection that the server closed while it was
				// idle: nothing was sent, open a new one and send again.
				continue
			}
			return false, se
		case se.Code == 421:
			// The server is closing the session.
			p.drop(pc)
		default:
			// The transaction failed but the session is fine: start
			// afresh for the next message, or close when that fails.
			if rerr := pc.c.Reset(); rerr != nil {
				p.drop(pc)
			}
		}
		return false, se
	}
}

// transact runs one mail transaction on c: MAIL FROM, RCPT TO, DATA. The
// connection's deadline is the timeout or ctx's deadline, whichever comes
// first; cancelling ctx breaks the connection. stage names the step that
// failed.
func (p *Pool) transact(ctx context.Context, c *gosmtp.Client, env Envelope, msg *gomail.Msg, timeout time.Duration) (stage string, err error) {
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if err := ctx.Err(); err != nil {
		return "mail", err
	}
	if err := c.UpdateDeadline(timeout); err != nil {
		return "mail", err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.Text.Close() })
	defer func() {
		stop()
		if err == nil {
			return
		}
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w (%w)", cerr, err)
		} else if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			// The connection's deadline, set to ctx's, fired a moment
			// before ctx's own timer.
			err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
		}
	}()

	from, err := msg.GetSender(false)
	if err != nil {
		return "mail", err
	}
	rcpts, err := msg.GetRecipients()
	if err != nil {
		return "rcpt", err
	}
	if env.DSN {
		c.SetDSNMailReturnOption(string(gomail.DSNMailReturnHeadersOnly))
		c.SetDSNRcptNotifyOption(string(gomail.DSNRcptNotifyFailure) + "," + string(gomail.DSNRcptNotifyDelay))
	} else {
		c.SetDSNMailReturnOption("")
		c.SetDSNRcptNotifyOption("")
	}
	if err := c.Mail(from); err != nil {
		return "mail", err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return "rcpt", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "data", err
	}
	if _, err := msg.WriteTo(w); err != nil {
		_ = w.Close()
		return "body", err
	}
	if err := w.Close(); err != nil {
		return "body", err
	}
	return "", nil
}

// validate checks the envelope: its addresses and headers go into the SMTP
// dialogue and the message head, where a line break would inject more.
func (e Envelope) validate() error {
	var errs []error
	if e.From != "" && !validAddress(e.From) {
		errs = append(errs, fmt.Errorf("from: %q is not an e-mail address", e.From))
	}
	if hasLineBreak(e.FromName) {
		errs = append(errs, errors.New("from name: contains a line break"))
	}
	if e.ReturnPath != "" && !validAddress(e.ReturnPath) {
		errs = append(errs, fmt.Errorf("return path: %q is not an e-mail address", e.ReturnPath))
	}
	if e.MessageID != "" {
		id := strings.TrimSuffix(strings.TrimPrefix(e.MessageID, "<"), ">")
		if hasLineBreak(id) || strings.ContainsAny(id, "<> \t") || !strings.Contains(id, "@") {
			errs = append(errs, fmt.Errorf("message id: %q is not <local@host>", e.MessageID))
		}
	}
	for k, v := range e.Headers {
		if !validHeaderName(k) {
			errs = append(errs, fmt.Errorf("header %q: not a header field name", k))
		}
		if hasLineBreak(v) {
			errs = append(errs, fmt.Errorf("header %s: contains a line break", k))
		}
	}
	return errors.Join(errs...)
}

// apply sets the envelope's return path, Message-ID and headers on msg.
func (e Envelope) apply(msg *gomail.Msg) error {
	if e.ReturnPath != "" {
		if err := msg.EnvelopeFrom(e.ReturnPath); err != nil {
			return fmt.Errorf("return path: %w", err)
		}
	}
	if e.MessageID != "" {
		msg.SetMessageIDWithValue(strings.TrimSuffix(strings.TrimPrefix(e.MessageID, "<"), ">"))
	}
	for _, k := range slices.Sorted(maps.Keys(e.Headers)) {
		msg.SetGenHeader(gomail.Header(k), e.Headers[k])
	}
	return nil
}

// validHeaderName accepts a field name of RFC 5322 (printable ASCII but
// the colon), not one of the headers the message builder owns.
func validHeaderName(k string) bool {
	if k == "" || len(k) > 76 {
		return false
	}
	for i := range len(k) {
		if k[i] < 33 || k[i] > 126 || k[i] == ':' {
			return false
		}
	}
	switch strings.ToLower(k) {
	case "from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version", "content-type",
		"content-transfer-encoding", "return-path":
		return false
	}
	return true
}
