package bounce

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"jifen/internal/platform/mail"
)

var testKey = []byte("bounce listener test key")

type recorder struct {
	mu      sync.Mutex
	got     []handled
	failing int // fail the next n calls
}

type handled struct {
	id int64
	r  Report
}

func (rec *recorder) handle(_ context.Context, id int64, r Report) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.failing > 0 {
		rec.failing--
		return errors.New("database unavailable")
	}
	rec.got = append(rec.got, handled{id, r})
	return nil
}

func (rec *recorder) calls() []handled {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]handled(nil), rec.got...)
}

func startListener(t *testing.T, rec *recorder) *Listener {
	t.Helper()
	l := NewListener("127.0.0.1:0", "Bounce.Jifen.Example", testKey, rec.handle)
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// deliver sends raw to rcpt over SMTP with go-smtp's client, from the null
// sender as a bounce comes.
func deliver(t *testing.T, addr, rcpt string, raw []byte) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Hello("mx.remote.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("", nil); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	return w.Close()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func TestListenerDeliversSamples(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	l := startListener(t, rec)
	samples := []struct{ file, rcpt string }{
		{"lhost-postfix-02.eml", "userunknown@example.co.jp"},
		{"lhost-exim-01.eml", "kijitora@example.ed.jp"},
		{"lhost-exchange2003-01.eml", "kijitora@example.jp"},
		{"qqmail-chinese-01.eml", "zhangsan.test@qq.com"},
		{"arf-02.eml", "this-local-part-does-not-exist-on-yahoo@yahoo.com"},
	}
	id := int64(100)
	want := map[int64]string{}
	for _, sm := range samples {
		file := sm.file
		id++
		want[id] = sm.rcpt
		to := mail.VERPAddress(testKey, "bounce", "bounce.jifen.example", id)
		if err := deliver(t, l.Addr(), to, readSample(t, file)); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	calls := rec.calls()
	found := map[int64]bool{}
	for _, c := range calls {
		if c.r.Recipient == want[c.id] {
			found[c.id] = true
		}
		if c.id == 105 && !c.r.Complaint {
			t.Errorf("ARF report not a complaint: %+v", c.r)
		}
	}
	if len(found) != len(want) {
		t.Errorf("handled %+v, want a report for each of %v", calls, want)
	}
}

func TestListenerRefusesForgedAndForeign(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	l := startListener(t, rec)
	raw := readSample(t, "lhost-postfix-01.eml")
	good := mail.VERPAddress(testKey, "bounce", "bounce.jifen.example", 7)
	tagOf8 := mail.VERPAddress(testKey, "bounce", "bounce.jifen.example", 8)
	for name, rcpt := range map[string]string{
		"wrong key":       mail.VERPAddress([]byte("another key"), "bounce", "bounce.jifen.example", 7),
		"tag altered":     flipTagChar(good),
		"id swapped":      strings.Replace(tagOf8, "+8-", "+7-", 1),
		"other domain":    mail.VERPAddress(testKey, "bounce", "elsewhere.example", 7),
		"plain address":   "postmaster@bounce.jifen.example",
		"no tag":          "bounce+7@bounce.jifen.example",
		"subdomain trick": strings.Replace(good, "@", "@x.", 1),
	} {
		if err := deliver(t, l.Addr(), rcpt, raw); smtpCode(err) != 550 {
			t.Errorf("%s (%s): %v, want 550", name, rcpt, err)
		}
	}
	if n := len(rec.calls()); n != 0 {
		t.Errorf("handler called %d times for refused mail", n)
	}
	// The valid one, with the domain in another case, goes through.
	if err := deliver(t, l.Addr(), strings.ToUpper(good), raw); err != nil {
		t.Fatalf("valid VERP address refused: %v", err)
	}
	if c := rec.calls(); len(c) != 1 || c[0].id != 7 || c[0].r.Kind != Hard {
		t.Errorf("handled %+v", c)
	}
}

func TestListenerRefusesOversized(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	l := startListener(t, rec)
	raw := append(readSample(t, "lhost-postfix-01.eml"), bytes.Repeat([]byte("x"), 76)...)
	big := append([]byte(nil), raw...)
	for len(big) <= DefaultMaxMessageBytes {
		big = append(big, []byte("\r\n"+strings.Repeat("padding ", 9))...)
	}
	to := mail.VERPAddress(testKey, "", "bounce.jifen.example", 9)
	if err := deliver(t, l.Addr(), to, big); smtpCode(err) != 552 {
		t.Errorf("oversized: %v, want 552", err)
	}
	if n := len(rec.calls()); n != 0 {
		t.Errorf("handler called for an oversized message")
	}
}

func TestListenerHandlerErrorIsTemporary(t *testing.T) {
	t.Parallel()
	rec := &recorder{failing: 1}
	l := startListener(t, rec)
	to := mail.VERPAddress(testKey, "bounce", "bounce.jifen.example", 11)
	raw := readSample(t, "lhost-exchange2007-01.eml")
	if err := deliver(t, l.Addr(), to, raw); smtpCode(err) != 451 {
		t.Fatalf("handler error: %v, want 451", err)
	}
	// The remote server retries later; now it works.
	if err := deliver(t, l.Addr(), to, raw); err != nil {
		t.Fatal(err)
	}
	if c := rec.calls(); len(c) != 1 || c[0].id != 11 || c[0].r.Recipient != "mikeneko@example.co.jp" {
		t.Errorf("handled %+v", c)
	}
}

func TestListenerDropsNonReports(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	l := startListener(t, rec)
	to := mail.VERPAddress(testKey, "bounce", "bounce.jifen.example", 12)
	reply := []byte("From: zhang.san@example.cn\r\nSubject: Re: 通知\r\n\r\n收到，谢谢。\r\n")
	if err := deliver(t, l.Addr(), to, reply); err != nil {
		t.Fatalf("a reply must be accepted and dropped: %v", err)
	}
	if n := len(rec.calls()); n != 0 {
		t.Errorf("handler called for a reply")
	}
}

func TestListenerStartChecks(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	if err := NewListener("127.0.0.1:0", "", testKey, rec.handle).Start(); err == nil {
		t.Error("started without a domain")
	}
	if err := NewListener("127.0.0.1:0", "b.example", nil, rec.handle).Start(); err == nil {
		t.Error("started without a key")
	}
	l := NewListener("127.0.0.1:0", "b.example", testKey, rec.handle)
	if l.Addr() != "" || l.Close() != nil {
		t.Error("a listener not started has an address or fails to close")
	}
}

// flipTagChar changes the last hex digit of a VERP address's tag.
func flipTagChar(addr string) string {
	at := strings.IndexByte(addr, '@')
	c := byte('0')
	if addr[at-1] == '0' {
		c = '1'
	}
	return addr[:at-1] + string(c) + addr[at:]
}
