package bounce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"jifen/internal/platform/mail"
)

// Handler is told one recipient's outcome of the outbox row that the VERP
// address names. It is called again for the same report when the remote
// server retries (after a handler error, or a lost answer): it must be
// idempotent. An error makes the listener answer 451, so the remote
// server keeps the bounce and tries again later.
type Handler func(ctx context.Context, outboxID int64, r Report) error

// Listener limits.
const (
	DefaultMaxMessageBytes = 1 << 20 // a bounce carries at most the headers of the original
	DefaultMaxRecipients   = 10      // one bounce goes to one return path
	DefaultHandleTimeout   = 30 * time.Second
)

// Listener is the inbound SMTP server (github.com/emersion/go-smtp) that
// takes bounces at its own address: it accepts mail to VERP addresses of
// its domain (others are refused with 550), parses each and calls handle
// with the outbox row the VERP address names.
//
// A message that is not a report (an auto-reply, a person writing back) is
// accepted and dropped with a log line: refusing it would only make the
// sending server bounce the bounce.
type Listener struct {
	// Set before Start; NewListener fills in the defaults.
	MaxMessageBytes int64
	MaxRecipients   int
	HandleTimeout   time.Duration
	ReadTimeout     time.Duration
	Log             *slog.Logger

	addr   string
	domain string
	key    []byte
	handle Handler

	mu     sync.Mutex
	srv    *smtp.Server
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
}

// NewListener prepares a listener on addr (host:port) for the VERP
// addresses of domain signed with key. It does not listen yet.
func NewListener(addr, domain string, key []byte, handle Handler) *Listener {
	return &Listener{
		MaxMessageBytes: DefaultMaxMessageBytes,
		MaxRecipients:   DefaultMaxRecipients,
		HandleTimeout:   DefaultHandleTimeout,
		ReadTimeout:     time.Minute,
		Log:             slog.New(slog.DiscardHandler),
		addr:            addr,
		domain:          strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), ".")),
		key:             key,
		handle:          handle,
	}
}

// Start listens; Addr() tells where.
func (l *Listener) Start() error {
	if l.domain == "" {
		return errors.New("bounce listener: no domain")
	}
	if len(l.key) == 0 {
		return errors.New("bounce listener: no key")
	}
	if l.handle == nil {
		return errors.New("bounce listener: no handler")
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("bounce listener: %w", err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{l: l, remote: c.Conn().RemoteAddr().String()}, nil
	}))
	srv.Domain = l.domain
	srv.MaxMessageBytes = l.MaxMessageBytes
	srv.MaxRecipients = l.MaxRecipients
	srv.ReadTimeout = l.ReadTimeout
	srv.WriteTimeout = l.ReadTimeout
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogPrinter{l.Log}
	ctx, cancel := context.WithCancel(context.Background())
	l.mu.Lock()
	l.srv, l.ln, l.ctx, l.cancel = srv, ln, ctx, cancel
	l.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			l.Log.Error("bounce listener stopped", slog.String("error", err.Error()))
		}
	}()
	return nil
}

// Addr is the address the listener listens on ("" before Start).
func (l *Listener) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// Close stops listening and closes the open sessions; handlers running are
// cancelled.
func (l *Listener) Close() error {
	l.mu.Lock()
	srv, ln, cancel := l.srv, l.ln, l.cancel
	l.srv = nil
	l.mu.Unlock()
	if srv == nil {
		return nil
	}
	cancel()
	_ = ln.Close()
	if err := srv.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return err
	}
	return nil
}

// rcptTo checks a recipient: a VERP address of the listener's domain with
// a valid tag.
func (l *Listener) rcptTo(to string) (int64, bool) {
	at := strings.LastIndexByte(to, '@')
	if at < 0 || !strings.EqualFold(strings.TrimSuffix(to[at+1:], "."), l.domain) {
		return 0, false
	}
	return mail.ParseVERP(l.key, to)
}

type session struct {
	l      *Listener
	remote string
	ids    []int64
}

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	id, ok := s.l.rcptTo(to)
	if !ok {
		s.l.Log.Info("bounce listener: refused recipient", slog.String("rcpt", to), slog.String("remote", s.remote))
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such bounce address"}
	}
	s.ids = append(s.ids, id)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		// Too large (552) or a broken connection: go-smtp answers.
		return err
	}
	reports, err := Parse(raw)
	if err != nil {
		s.l.Log.Info("bounce listener: dropped a message that is no report",
			slog.String("error", err.Error()), slog.String("remote", s.remote), slog.Any("outbox_ids", s.ids))
		return nil
	}
	ctx, cancel := context.WithTimeout(s.l.ctx, s.l.HandleTimeout)
	defer cancel()
	for _, id := range s.ids {
		for _, rep := range reports {
			if err := s.l.handle(ctx, id, rep); err != nil {
				s.l.Log.Warn("bounce listener: handler failed, the sender will retry",
					slog.Int64("outbox_id", id), slog.String("recipient", rep.Recipient), slog.String("error", err.Error()))
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary failure, try again later"}
			}
		}
	}
	return nil
}

func (s *session) Reset() { s.ids = nil }

func (s *session) Logout() error { return nil }

// slogPrinter lets go-smtp report its internal errors through slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Warn("bounce listener: " + fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("bounce listener: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
