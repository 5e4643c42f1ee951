package mail

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// SMTPError is a failure with the server's answer; Permanent (5xx) versus
// temporary (4xx, a dropped connection, a timeout) as today's Permanent().
//
// A permanent SMTPError satisfies IsPermanent, so the Worker and the
// campaign sender treat it like an error marked with Permanent.
type SMTPError struct {
	Code      int    // the SMTP reply code; 0 when the server gave none (network failure, timeout)
	Enhanced  string // the enhanced status code (RFC 3463), e.g. "5.1.1"; "" when none
	Text      string // the server's text, or the network error
	Temporary bool   // worth a retry: 4xx, network failures, timeouts

	stage string // the SMTP step that failed: dial, mail, rcpt, data, body
	cause error
}

// Error describes the failure with the server's answer.
func (e *SMTPError) Error() string {
	var b strings.Builder
	b.WriteString("smtp")
	if e.stage != "" {
		b.WriteString(" " + e.stage)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " %d", e.Code)
	}
	if e.Enhanced != "" {
		b.WriteString(" " + e.Enhanced)
	}
	b.WriteString(": ")
	b.WriteString(e.Text)
	return b.String()
}

// Unwrap returns the underlying error (a *textproto.Error, a net.Error ...).
func (e *SMTPError) Unwrap() error { return e.cause }

// Is makes a permanent SMTPError match the mark of Permanent.
func (e *SMTPError) Is(target error) bool { return target == errPermanent && !e.Temporary }

// CodeOf returns the SMTP code of an error (0 when none: a network failure).
func CodeOf(err error) int {
	var se *SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	var ge *gomail.SendError
	if errors.As(err, &ge) {
		return ge.ErrorCode()
	}
	return 0
}

// enhancedRE finds an enhanced status code at the start of a reply text.
var enhancedRE = regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})\b`)

// classify turns the error of one SMTP step into an *SMTPError: a reply of
// the server keeps its code, enhanced code and text; anything else (a
// refused connection, a reset, EOF, a timeout, a cancelled context) is a
// temporary failure with code 0.
func classify(stage string, err error) *SMTPError {
	var se *SMTPError
	if errors.As(err, &se) {
		return se
	}
	e := &SMTPError{stage: stage, cause: err, Temporary: true}
	var te *textproto.Error
	if errors.As(err, &te) {
		e.Code = te.Code
		text := strings.ReplaceAll(strings.TrimSpace(te.Msg), "\n", " ")
		if m := enhancedRE.FindString(text); m != "" {
			e.Enhanced = m
			text = strings.TrimSpace(text[len(m):])
		}
		e.Text = text
		// 5xx is permanent; so is anything else that is not 4xx (a 2xx/3xx
		// where another was expected is a protocol error, not a queue state).
		e.Temporary = te.Code >= 400 && te.Code < 500
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Text = "timed out: " + err.Error()
	case errors.Is(err, context.Canceled):
		e.Text = "cancelled: " + err.Error()
	default:
		e.Text = err.Error()
	}
	return e
}

// isReply reports whether err is an answer of the server (as opposed to a
// failure of the connection).
func isReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}
