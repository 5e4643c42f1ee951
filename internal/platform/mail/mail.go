// Package mail sends jifen's notification e-mail through a transactional
// outbox.
//
// A state change that concerns a person (an application submitted, returned,
// scored ...) calls Outbox.Enqueue with the context of its own transaction,
// so the message — its outbox row and its delivery job on River
// (platform/jobs) — is committed together with the change or not at all.
// The Worker runs those jobs: it sends through a Sender (SMTP, built on
// github.com/wneessen/go-mail) and records the outcome on the row, retrying
// failures with exponential backoff. Delivery is at least once: a worker
// that dies after the SMTP server accepted a message but before the outcome
// was recorded leaves its job running; River rescues it and the message is
// sent again with the same Message-ID, so the duplicate can be recognised.
//
// With no SMTP server configured the messages stay queued; the office "mail
// log" (Outbox.List, Get, Counts and Retry) shows them all the same.
package mail

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/platform/apperr"
)

// Status is where a message is in its life.
type Status string

// The statuses of a message. A message is queued until its job starts a
// send, sending from then until the outcome is recorded (or its worker
// died), and ends sent or failed; an operator may put a failed one back in
// the queue (Outbox.Retry).
const (
	StatusQueued  Status = "queued"
	StatusSending Status = "sending"
	StatusSent    Status = "sent"
	StatusFailed  Status = "failed"
)

// Statuses lists every status in the order of a message's life.
var Statuses = []Status{StatusQueued, StatusSending, StatusSent, StatusFailed}

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusSending, StatusSent, StatusFailed:
		return true
	}
	return false
}

// Message is one e-mail to one person. The caller fills in the content
// fields (To to IdempotencyKey); the outbox keeps the delivery fields.
type Message struct {
	ID        int64
	CreatedAt time.Time

	To       string // a bare address, e.g. "zhang.san@example.com"
	ToName   string // the recipient's name for the To header, may be empty
	Subject  string
	Text     string // the plain-text body, always present
	HTML     string // an optional HTML alternative of the same content
	Category string // what kind of notice, e.g. "application.status"
	Ref      string // the object it is about, e.g. "application:123"
	// IdempotencyKey, when not empty, makes a second Enqueue with the same
	// key return the first message instead of queuing another.
	IdempotencyKey string

	Status        Status
	Attempts      int       // send attempts started so far
	NextAttemptAt time.Time // when a queued message is due
	LastError     string    // why the last attempt failed
	SentAt        time.Time // when the SMTP server accepted it
	LockedUntil   time.Time // the claim of a campaign's sender (zero for transactional mail)

	// CampaignID is the mass-mail campaign the message belongs to (0:
	// transactional mail); Vars its recipient's template variables (JSON),
	// the body being rendered at send time; LastCode the SMTP code of the
	// last failure (0: none, or no answer).
	CampaignID int64
	Vars       string
	LastCode   int
}

// Filter selects messages for the mail log. Empty fields match everything.
type Filter struct {
	Status   Status
	To       string // the recipient's address, matched without regard to case
	Category string
	Ref      string
	Campaign int64     // a campaign's messages; 0: any
	Code     int       // the SMTP code of the last failure
	Since    time.Time // queued at or after
	Until    time.Time // queued before
	Limit    int       // at most MaxListLimit; 0 means DefaultListLimit
	Offset   int
}

// Page sizes of the mail log.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// Field limits, in characters.
const (
	maxAddrLen     = 254 // RFC 5321 path limit
	maxNameLen     = 100
	maxSubjectLen  = 200
	maxCategoryLen = 64
	maxRefLen      = 128
	maxKeyLen      = 200
)

// normalize trims the address fields the way they are stored.
func (m Message) normalize() Message {
	m.To = strings.TrimSpace(m.To)
	m.ToName = strings.TrimSpace(m.ToName)
	m.Subject = strings.TrimSpace(m.Subject)
	return m
}

// validate checks the content fields of a normalised message and names
// every field that is wrong, in Chinese.
func (m Message) validate() error {
	var fs []apperr.FieldError
	add := func(field, msg string) { fs = append(fs, apperr.FieldError{Field: field, Message: msg}) }
	switch {
	case m.To == "":
		add("to", "请填写收件人电子邮箱")
	case utf8.RuneCountInString(m.To) > maxAddrLen:
		add("to", fmt.Sprintf("收件人电子邮箱不能超过 %d 个字符", maxAddrLen))
	case !validAddress(m.To):
		add("to", "收件人电子邮箱格式不正确，请核对（例如 zhangsan@example.com）")
	}
	if hasLineBreak(m.ToName) {
		add("to_name", "收件人姓名不能包含换行")
	} else if utf8.RuneCountInString(m.ToName) > maxNameLen {
		add("to_name", fmt.Sprintf("收件人姓名不能超过 %d 个字符", maxNameLen))
	}
	switch {
	case m.Subject == "":
		add("subject", "邮件主题不能为空")
	case hasLineBreak(m.Subject):
		add("subject", "邮件主题不能包含换行")
	case utf8.RuneCountInString(m.Subject) > maxSubjectLen:
		add("subject", fmt.Sprintf("邮件主题不能超过 %d 个字符", maxSubjectLen))
	}
	if strings.TrimSpace(m.Text) == "" {
		add("text", "邮件正文不能为空")
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"category", m.Category, maxCategoryLen},
		{"ref", m.Ref, maxRefLen},
		{"idempotency_key", m.IdempotencyKey, maxKeyLen},
	} {
		if utf8.RuneCountInString(f.value) > f.max {
			add(f.name, fmt.Sprintf("不能超过 %d 个字符", f.max))
		}
	}
	return apperr.Fields(fs)
}

// validAddress accepts a bare addr-spec ("a@b.cn"), not a display form
// ("张三 <a@b.cn>"): the name has a field of its own.
func validAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func hasLineBreak(s string) bool { return strings.ContainsAny(s, "\r\n") }

// errPermanent marks a send error that no retry will cure.
var errPermanent = errors.New("permanent delivery failure")

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

func (e permanentError) Unwrap() []error { return []error{e.err, errPermanent} }

// Permanent marks err as a failure that retrying cannot cure, such as a
// recipient the server rejects with a 5xx code: the worker marks the message
// failed at once and does not count it towards pausing.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool { return errors.Is(err, errPermanent) }
