package bounce

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseSamples reads the real-world samples (see testdata/README.md).
func TestParseSamples(t *testing.T) {
	t.Parallel()
	type want struct {
		rcpt, action, status, kind, diag string
		complaint                        bool
	}
	cases := []struct {
		file string
		want []want
	}{
		// Postfix: a DSN with a local delivery failure (x-unix diagnostic).
		{"lhost-postfix-01.eml", []want{{"r@p351355.pool.example.ne.jp", "failed", "5.1.1", "hard", "No such user", false}}},
		// Postfix: two recipients in one report.
		{"lhost-postfix-02.eml", []want{
			{"filtered@example.co.jp", "failed", "5.2.1", "hard", "User Unknown", false},
			{"userunknown@example.co.jp", "failed", "5.1.1", "hard", "User Unknown", false},
		}},
		// Postfix giving up on a timeout: failed, but 4.x.x — soft.
		{"lhost-postfix-08.eml", []want{{"kijitora@example.com", "failed", "4.4.1", "soft", "Connection timed out", false}}},
		// Postfix reporting QQ Mail's refusal: a frequency limit is about
		// the sender, not the address — soft despite 550.
		{"rhost-tencent-01.eml", []want{{"nekochan@qq.example.cn", "failed", "5.0.0", "soft", "Ip frequency limited", false}}},
		// Exim with a DSN: the vague 5.0.0 refined from the diagnostic; a
		// policy refusal of the sending server (5.7.1) is soft.
		{"lhost-exim-43.eml", []want{{"kijitora@example.net", "failed", "5.7.1", "soft", "without a valid sender domain", false}}},
		// Exim without a DSN: X-Failed-Recipients and the text.
		{"lhost-exim-01.eml", []want{{"kijitora@example.ed.jp", "failed", "5.7.0", "soft", "Please use the smtp server of your ISP", false}}},
		// Exchange 2007: a DSN with RESOLVER.ADR.RecipNotFound.
		{"lhost-exchange2007-01.eml", []want{{"mikeneko@example.co.jp", "failed", "5.1.1", "hard", "RESOLVER.ADR.RecipNotFound", false}}},
		// Exchange 2003 NDR, text only: "The recipient name is not recognized".
		{"lhost-exchange2003-01.eml", []want{{"kijitora@example.jp", "failed", "5.1.1", "hard", "not recognized", false}}},
		// QQ Mail's own bounce: GB18030 HTML, Chinese text.
		{"qqmail-chinese-01.eml", []want{{"zhangsan.test@qq.com", "failed", "5.1.1", "hard", "Mailbox not found", false}}},
		// A delay warning (RFC 3464, Action: Delayed).
		{"rfc3464-07.eml", []want{{"kijitora@example.net", "delayed", "4.4.0", "soft", "", false}}},
		// ARF complaints (RFC 5965).
		{"arf-01.eml", []want{{"redacted@example.net", "delivered", "", "", "abuse", true}}},
		{"arf-02.eml", []want{{"this-local-part-does-not-exist-on-yahoo@yahoo.com", "delivered", "", "", "abuse", true}}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := Parse(readSample(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d reports, want %d: %+v", len(got), len(c.want), got)
			}
			for i, w := range c.want {
				g := got[i]
				if g.Recipient != w.rcpt || g.Action != w.action || g.Status != w.status || g.Kind != w.kind ||
					g.Complaint != w.complaint || !strings.Contains(g.Diagnostic, w.diag) {
					t.Errorf("report %d = %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

func TestParseMixedReport(t *testing.T) {
	t.Parallel()
	raw := "From: MAILER-DAEMON@mx.example.cn\r\n" +
		"Subject: Delivery Status Notification\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nsee below\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.cn\r\n\r\n" +
		"Final-Recipient: rfc822; <Ok@Example.cn>\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n" +
		"Final-Recipient: rfc822; full@example.cn\r\nAction: failed\r\nStatus: 5.2.2\r\n" +
		"Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n\r\n" +
		"Final-Recipient: rfc822; later@example.cn\r\nAction: delayed\r\nStatus: 4.7.0\r\n" +
		"Diagnostic-Code: smtp; 451 4.7.0 greylisted,\r\n  come back later\r\n" +
		"--B--\r\n"
	got, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := []Report{
		{Recipient: "ok@example.cn", Action: "delivered", Status: "2.0.0"},
		{Recipient: "full@example.cn", Action: "failed", Status: "5.2.2", Kind: "soft", Diagnostic: "552 5.2.2 Mailbox full"},
		{Recipient: "later@example.cn", Action: "delayed", Status: "4.7.0", Kind: "soft", Diagnostic: "451 4.7.0 greylisted, come back later"},
	}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("report %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseNotABounce(t *testing.T) {
	t.Parallel()
	vacation := "From: zhang.san@example.cn\r\nSubject: 自动回复: 积分落户通知\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"我正在休假，请联系 li.si@example.cn。\r\n"
	if _, err := Parse([]byte(vacation)); !errors.Is(err, ErrNotBounce) {
		t.Errorf("vacation reply: %v, want ErrNotBounce", err)
	}
	if _, err := Parse([]byte("no header separator and no colon")); err == nil {
		t.Error("garbage parsed")
	}
	empty := "From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail\r\n\r\nnothing useful here\r\n"
	if _, err := Parse([]byte(empty)); !errors.Is(err, ErrNotBounce) {
		t.Errorf("bounce without a recipient: %v", err)
	}
}

func TestParseBoundsNesting(t *testing.T) {
	t.Parallel()
	// Deeply nested multiparts are not followed past maxDepth.
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@x.example\r\nSubject: Undelivered\r\n")
	for i := range 50 {
		b.WriteString("Content-Type: multipart/mixed; boundary=\"b" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "\"\r\n\r\n")
		b.WriteString("--b" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "\r\n")
	}
	b.WriteString("Content-Type: text/plain\r\n\r\n<deep@example.cn>: 550 5.1.1 user unknown\r\n")
	if _, err := Parse([]byte(b.String())); !errors.Is(err, ErrNotBounce) {
		t.Errorf("nesting: %v", err)
	}
}
