package mail

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testServer is a real SMTP server on 127.0.0.1 that keeps what it is sent
// and can be told to misbehave.
type testServer struct {
	t    testing.TB
	addr string

	mu         sync.Mutex
	srv        *smtp.Server
	ln         net.Listener
	received   []received
	failData   int             // answer the next n DATA commands with 451
	rejectRcpt map[string]bool // answer RCPT TO these with 550
	deferRcpt  map[string]bool // answer RCPT TO these with 450
	dropData   int             // close the connection after reading the next n messages, without an answer
	slowData   time.Duration   // wait this long before answering DATA
	user, pass string          // demand AUTH PLAIN with these when user is set
	sessions   int             // connections accepted so far
	discard    bool            // count messages instead of keeping them (benchmarks)
	count      int             // messages accepted
}

// received is one message as the server took it.
type received struct {
	From   string
	To     []string
	Data   []byte
	Ret    string   // the DSN RET= of MAIL FROM
	Notify []string // the DSN NOTIFY= of each RCPT TO
}

// startSMTP starts a capturing server on a free port, stopped when the test ends.
func startSMTP(t testing.TB) *testServer {
	t.Helper()
	s := &testServer{t: t, rejectRcpt: map[string]bool{}, deferRcpt: map[string]bool{}}
	s.listen("127.0.0.1:0")
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) listen(addr string) {
	s.t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatalf("smtp listen: %v", err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &testSession{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.EnableDSN = true
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	s.mu.Lock()
	s.addr, s.srv, s.ln = l.Addr().String(), srv, l
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// stop closes the server: connections are refused until restart.
func (s *testServer) stop() {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv != nil {
		// Close the listener too: Serve may not have registered it with
		// the server yet, and then srv.Close would leave it open.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// restart listens again on the same address.
func (s *testServer) restart() { s.listen(s.addr) }

func (s *testServer) set(fn func(s *testServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *testServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

// config is a sender configuration that reaches the server.
func (s *testServer) config() Config {
	host, port, _ := net.SplitHostPort(s.addr)
	p, _ := strconv.Atoi(port)
	return Config{Host: host, Port: p, TLS: TLSNone, From: "noreply@jifen.test", Timeout: 5 * time.Second}
}

// sender returns the real go-mail sender for the server.
func (s *testServer) sender() *SMTPSender {
	s.t.Helper()
	snd, err := NewSMTPSender(s.config())
	if err != nil {
		s.t.Fatal(err)
	}
	return snd
}

type testSession struct {
	s      *testServer
	conn   *smtp.Conn
	authed bool
	from   string
	ret    string
	to     []string
	notify []string
}

func (ss *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *testSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		ss.s.mu.Lock()
		defer ss.s.mu.Unlock()
		if user != ss.s.user || pass != ss.s.pass {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *testSession) Mail(from string, opts *smtp.MailOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	if opts != nil {
		ss.ret = string(opts.Return)
	}
	return nil
}

func (ss *testSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.rejectRcpt[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	if ss.s.deferRcpt[to] {
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try later"}
	}
	ss.to = append(ss.to, to)
	var notify []string
	if opts != nil {
		for _, n := range opts.Notify {
			notify = append(notify, string(n))
		}
	}
	ss.notify = append(ss.notify, strings.Join(notify, ","))
	return nil
}

func (ss *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	slow := ss.s.slowData
	drop := ss.s.dropData > 0
	if drop {
		ss.s.dropData--
	}
	ss.s.mu.Unlock()
	if drop {
		_ = ss.conn.Close()
		return errors.New("connection dropped by the test")
	}
	if slow > 0 {
		time.Sleep(slow)
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.failData > 0 {
		ss.s.failData--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.s.count++
	if !ss.s.discard {
		ss.s.received = append(ss.s.received, received{From: ss.from, To: ss.to, Data: b, Ret: ss.ret, Notify: ss.notify})
	}
	return nil
}

func (ss *testSession) Reset() { ss.from, ss.ret, ss.to, ss.notify = "", "", nil, nil }

func (ss *testSession) Logout() error { return nil }

// parsedMail is a received message decoded as a mail program would.
type parsedMail struct {
	Header    netmail.Header
	Subject   string
	From      *netmail.Address
	To        *netmail.Address
	MessageID string
	Text      string
	HTML      string
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("read message: %v", err)
	}
	p := parsedMail{Header: msg.Header, MessageID: msg.Header.Get("Message-Id")}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject: %v", err)
	}
	if p.From, err = netmail.ParseAddress(msg.Header.Get("From")); err != nil {
		t.Fatalf("from: %v", err)
	}
	if p.To, err = netmail.ParseAddress(msg.Header.Get("To")); err != nil {
		t.Fatalf("to: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		p.Text = decodePart(t, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return p
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		body := decodePart(t, part.Header.Get("Content-Transfer-Encoding"), part)
		switch pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); pt {
		case "text/plain":
			p.Text = body
		case "text/html":
			p.HTML = body
		}
	}
}

func decodePart(t *testing.T, cte string, r io.Reader) string {
	t.Helper()
	if strings.EqualFold(cte, "base64") {
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s body: %v", cte, err)
	}
	return string(b)
}
