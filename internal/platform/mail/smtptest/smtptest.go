// Package smtptest is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests: it keeps every message it accepts, counts them by
// recipient and Message-ID, and can be told to defer (4xx), reject (5xx),
// drop the connection mid-DATA or answer slowly. A test double: never
// imported by production code.
package smtptest

import (
	"bytes"
	"errors"
	"io"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From      string
	To        []string
	MessageID string
	Subject   string
	Header    netmail.Header
	Data      []byte
}

// Behaviour decides the answer to one recipient's message.
type Behaviour int

// The behaviours.
const (
	Accept Behaviour = iota
	Defer            // 451 at DATA
	Reject           // 550 at RCPT
	Drop             // close the connection during DATA
)

// Server is a running test server.
type Server struct {
	Addr string

	mu       sync.Mutex
	srv      *smtp.Server
	ln       net.Listener
	messages []Message
	// Decide, when set, chooses the behaviour for a recipient.
	decide func(rcpt string) Behaviour
	delay  time.Duration
	// discard keeps no message, only the count (load runs).
	discard bool
	count   int
}

// Discard makes the server count messages without keeping them.
func (s *Server) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discard = true
}

// Start starts a server on a free port of 127.0.0.1.
func Start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: l.Addr().String(), ln: l}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, conn: c}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxRecipients = 100
	srv.MaxMessageBytes = 10 << 20
	s.srv = srv
	go func() { _ = srv.Serve(l) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error {
	_ = s.ln.Close()
	return s.srv.Close()
}

// Port is the server's port.
func (s *Server) Port() string {
	_, p, _ := net.SplitHostPort(s.Addr)
	return p
}

// Decide sets how the server answers each recipient (nil: accept all).
func (s *Server) Decide(f func(rcpt string) Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decide = f
}

// Delay makes the server wait before answering DATA.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (s *Server) behaviour(rcpt string) Behaviour {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.decide == nil {
		return Accept
	}
	return s.decide(rcpt)
}

// Messages returns a copy of the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Count is how many messages were accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// ByRecipient counts the accepted messages per recipient: all of them,
// and the distinct Message-IDs.
func (s *Server) ByRecipient() (all, distinct map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, distinct = map[string]int{}, map[string]int{}
	seen := map[string]bool{}
	for _, m := range s.messages {
		for _, to := range m.To {
			to = strings.ToLower(to)
			all[to]++
			if k := to + "\x00" + m.MessageID; !seen[k] {
				seen[k] = true
				distinct[to]++
			}
		}
	}
	return all, distinct
}

type session struct {
	s    *Server
	conn *smtp.Conn
	from string
	to   []string
	how  []Behaviour // decided once per recipient, at RCPT
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	b := x.s.behaviour(to)
	if b == Reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	x.to, x.how = append(x.to, to), append(x.how, b)
	return nil
}

var errDrop = errors.New("smtptest: connection dropped")

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	delay := x.s.delay
	x.s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	for _, b := range x.how {
		switch b {
		case Defer:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "try again later"}
		case Drop:
			_ = x.conn.Close()
			return errDrop
		}
	}
	m := Message{From: x.from, To: append([]string(nil), x.to...), Data: b}
	if msg, err := netmail.ReadMessage(bytes.NewReader(b)); err == nil {
		m.Header, m.MessageID, m.Subject = msg.Header, msg.Header.Get("Message-Id"), msg.Header.Get("Subject")
	}
	x.s.mu.Lock()
	x.s.count++
	if !x.s.discard {
		x.s.messages = append(x.s.messages, m)
	}
	x.s.mu.Unlock()
	return nil
}

func (x *session) Reset()        { x.from, x.to, x.how = "", nil, nil }
func (x *session) Logout() error { return nil }
