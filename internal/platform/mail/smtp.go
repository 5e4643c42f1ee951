package mail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Sender delivers one message. Send must use m.ID to give the message a
// stable identity (the SMTP sender derives the Message-ID from it), and
// should wrap failures that no retry can cure with Permanent.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// TLSMode says how the connection to the SMTP server is secured.
type TLSMode string

// The TLS modes.
const (
	TLSNone     TLSMode = "none"     // plain SMTP, e.g. a relay on the same host (port 25)
	TLSStartTLS TLSMode = "starttls" // STARTTLS required (port 587)
	TLSImplicit TLSMode = "tls"      // TLS from the first byte (port 465)
)

// DefaultFromName is the display name of the system's mail.
const DefaultFromName = "北京市积分落户管理信息系统"

// DefaultTimeout bounds one SMTP conversation.
const DefaultTimeout = 30 * time.Second

// Config is how to reach the SMTP server. An empty Host means no server:
// the worker then leaves every message queued for the mail log.
type Config struct {
	Host     string
	Port     int     // 0: 25, 587 or 465 according to TLS
	Username string  // empty: no SMTP AUTH
	Password string  // secret
	TLS      TLSMode // "" means starttls
	From     string  // the sender address, e.g. "noreply@jifen.beijing.gov.cn"
	FromName string  // "" means DefaultFromName
	Timeout  time.Duration
	HELO     string // the name to greet the server with; "" means this host's name
}

// Enabled reports whether a server is configured.
func (c Config) Enabled() bool { return c.Host != "" }

// withDefaults fills in the zero fields.
func (c Config) withDefaults() Config {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Port == 0 {
		switch c.TLS {
		case TLSNone:
			c.Port = 25
		case TLSImplicit:
			c.Port = 465
		default:
			c.Port = 587
		}
	}
	if c.FromName == "" {
		c.FromName = DefaultFromName
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate checks an enabled configuration, defaults applied, and names
// each wrong field.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("smtp host: empty"))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp port: %d is not a port number", c.Port))
	}
	switch c.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		errs = append(errs, fmt.Errorf("smtp tls: %q is not one of none, starttls, tls", c.TLS))
	}
	if !validAddress(c.From) {
		errs = append(errs, fmt.Errorf("smtp from: %q is not an e-mail address", c.From))
	}
	if hasLineBreak(c.FromName) {
		errs = append(errs, errors.New("smtp from name: contains a line break"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("smtp timeout: %s is negative", c.Timeout))
	}
	if c.Password != "" && c.Username == "" {
		errs = append(errs, errors.New("smtp password: set without a username"))
	}
	return errors.Join(errs...)
}

// String describes the configuration with the password masked.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "xxxxx"
	}
	c = c.withDefaults()
	return fmt.Sprintf("host=%s port=%d tls=%s username=%s password=%s from=%q from_name=%q timeout=%s",
		c.Host, c.Port, c.TLS, c.Username, pw, c.From, c.FromName, c.Timeout)
}

// SMTPSender sends over SMTP with go-mail, one connection per message: the
// worker's rate is a few messages a second, far below where connection
// reuse would matter, and a fresh connection never inherits a broken one.
type SMTPSender struct {
	cfg    Config
	domain string
	client *gomail.Client
}

// NewSMTPSender checks cfg and prepares a sender. It does not connect.
func NewSMTPSender(cfg Config) (*SMTPSender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &SMTPSender{cfg: cfg, domain: fromDomain(cfg.From), client: c}, nil
}

// newClient makes the go-mail client that reaches cfg's server (cfg with
// defaults applied): TLS and AUTH as configured. The SMTPSender dials it
// once per message, the Pool once per pooled connection.
func newClient(cfg Config) (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout)}
	switch cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	}
	if cfg.Username != "" {
		// Over TLS, take the best mechanism the server offers. Without TLS,
		// PLAIN, which go-mail allows only to a server on this host: a
		// password is never sent in clear over the network.
		auth := gomail.SMTPAuthAutoDiscover
		if cfg.TLS == TLSNone {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	c, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return c, nil
}

// MessageID returns the Message-ID that m is sent with, without the angle
// brackets. It depends only on the stored message, so every attempt to send
// it, before and after a crash, carries the same one; the creation time
// keeps ids from two databases (a test system, a restore) apart.
func (s *SMTPSender) MessageID(m Message) string { return messageID(m, s.domain) }

// messageID is the Message-ID of the stored message m sent from domain,
// without the angle brackets.
func messageID(m Message, domain string) string {
	return fmt.Sprintf("jifen.mail.%d.%d@%s", m.ID, db.Micros(m.CreatedAt), domain)
}

// fromDomain is the domain of the sender address, which Message-IDs name.
func fromDomain(from string) string {
	_, domain, _ := strings.Cut(from, "@")
	return domain
}

// Send delivers m. A recipient the server rejects permanently (a 5xx reply
// to RCPT TO) comes back marked Permanent; everything else is worth a retry.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg, err := s.build(m)
	if err != nil {
		return Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err = s.client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		return Permanent(err)
	}
	return err
}

func (s *SMTPSender) build(m Message) (*gomail.Msg, error) { return buildMsg(s.cfg, s.domain, m) }

// buildMsg makes the go-mail message of m sent from cfg's address (cfg with
// defaults applied); the SMTPSender and the Pool both send what it builds.
func buildMsg(cfg Config, domain string, m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingB64))
	if err := msg.FromFormat(cfg.FromName, cfg.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	var err error
	if m.ToName != "" {
		err = msg.AddToFormat(m.ToName, m.To)
	} else {
		err = msg.AddTo(m.To)
	}
	if err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	msg.Subject(m.Subject)
	if m.ID != 0 {
		msg.SetMessageIDWithValue(messageID(m, domain))
	} else {
		msg.SetMessageID()
	}
	date := m.CreatedAt
	if date.IsZero() {
		date = time.Now()
	}
	msg.SetDateWithValue(date.In(clock.Beijing))
	// A notice, not a conversation: no vacation replies (RFC 3834).
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if m.Category != "" {
		msg.SetGenHeader("X-Jifen-Category", m.Category)
	}
	if m.Ref != "" {
		msg.SetGenHeader("X-Jifen-Ref", m.Ref)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}
