package mail

import (
	"context"
	"strings"
	"testing"
	"time"
)

func chineseNotice() Message {
	return Message{
		ID:        42,
		CreatedAt: time.Date(2026, 4, 15, 2, 30, 0, 0, time.UTC),
		To:        "zhang.san@example.cn",
		ToName:    "张三",
		Subject:   "积分落户申报已退回，请修改后重新提交",
		Text:      "张三，您好：\n\n您的积分落户申报已被单位退回，原因：社保缴纳记录不完整。\n请于 2026-05-10 前修改后重新提交。",
		HTML:      "<p>张三，您好：</p><p>您的积分落户申报已被单位<strong>退回</strong>。</p>",
		Category:  "application.status",
		Ref:       "application:123",
	}
}

func TestSMTPSenderDeliversUTF8(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	snd := srv.sender()
	m := chineseNotice()
	if err := snd.Send(context.Background(), m); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	if got[0].From != "noreply@jifen.test" || len(got[0].To) != 1 || got[0].To[0] != m.To {
		t.Errorf("envelope from %q to %v", got[0].From, got[0].To)
	}
	p := parseMail(t, got[0].Data)
	checks := []struct{ name, got, want string }{
		{"subject", p.Subject, m.Subject},
		{"from name", p.From.Name, DefaultFromName},
		{"from address", p.From.Address, "noreply@jifen.test"},
		{"to name", p.To.Name, "张三"},
		{"to address", p.To.Address, m.To},
		{"text", strings.ReplaceAll(p.Text, "\r\n", "\n"), m.Text},
		{"html", p.HTML, m.HTML},
		{"message id", p.MessageID, "<jifen.mail.42.1776220200000000@jifen.test>"},
		{"auto-submitted", p.Header.Get("Auto-Submitted"), "auto-generated"},
		{"category", p.Header.Get("X-Jifen-Category"), "application.status"},
		{"ref", p.Header.Get("X-Jifen-Ref"), "application:123"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if date, err := p.Header.Date(); err != nil || !date.Equal(m.CreatedAt) {
		t.Errorf("date %v (%v), want %v", date, err, m.CreatedAt)
	}
	if !strings.Contains(p.Header.Get("Date"), "+0800") {
		t.Errorf("date %q is not in Beijing time", p.Header.Get("Date"))
	}
}

func TestSMTPSenderTextOnly(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	m := chineseNotice()
	m.HTML, m.ToName = "", ""
	if err := srv.sender().Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, srv.messages()[0].Data)
	if p.HTML != "" || !strings.Contains(p.Text, "社保缴纳记录不完整") || p.To.Address != m.To {
		t.Errorf("text-only message: html %q, text %q, to %v", p.HTML, p.Text, p.To)
	}
}

func TestSMTPSenderAuth(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	srv.set(func(s *testServer) { s.user, s.pass = "jifen", "s3cret" })
	for _, tc := range []struct {
		name, pass string
		ok         bool
	}{
		{"right password", "s3cret", true},
		{"wrong password", "guess", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.config()
			cfg.Username, cfg.Password = "jifen", tc.pass
			snd, err := NewSMTPSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = snd.Send(context.Background(), chineseNotice())
			if (err == nil) != tc.ok {
				t.Fatalf("send: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && IsPermanent(err) {
				t.Errorf("an authentication failure is the operator's to fix, not permanent: %v", err)
			}
		})
	}
	if n := len(srv.messages()); n != 1 {
		t.Errorf("server received %d messages, want 1", n)
	}
}

func TestSMTPSenderErrors(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	srv.set(func(s *testServer) {
		s.rejectRcpt["nobody@example.cn"] = true
		s.failData = 1
	})
	ctx := context.Background()

	m := chineseNotice()
	if err := srv.sender().Send(ctx, m); err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "451") {
		t.Errorf("451 on DATA: got %v, want a temporary error", err)
	}
	m.To = "nobody@example.cn"
	if err := srv.sender().Send(ctx, m); err == nil || !IsPermanent(err) {
		t.Errorf("550 on RCPT: got %v, want a permanent error", err)
	}

	cfg := srv.config()
	cfg.TLS = TLSStartTLS
	snd, err := NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, chineseNotice()); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("starttls required from a server without it: got %v", err)
	}

	srv.stop()
	if err := srv.sender().Send(ctx, chineseNotice()); err == nil || IsPermanent(err) {
		t.Errorf("connection refused: got %v, want a temporary error", err)
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("server received %d messages, want 0", n)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	valid := Config{Host: "smtp.example.cn", From: "noreply@example.cn"}
	for _, tc := range []struct {
		name    string
		edit    func(c *Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no host", func(c *Config) { c.Host = "" }, "host"},
		{"bad port", func(c *Config) { c.Port = 70000 }, "port"},
		{"bad tls", func(c *Config) { c.TLS = "ssl" }, "tls"},
		{"bad from", func(c *Config) { c.From = "北京 <noreply@example.cn>" }, "from"},
		{"password alone", func(c *Config) { c.Password = "x" }, "password"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.edit(&c)
			err := c.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate() = %v, want error about %q", err, tc.wantErr)
			}
		})
	}

	for tlsMode, port := range map[TLSMode]int{"": 587, TLSStartTLS: 587, TLSNone: 25, TLSImplicit: 465} {
		c := valid
		c.TLS = tlsMode
		if got := c.withDefaults().Port; got != port {
			t.Errorf("tls %q: default port %d, want %d", tlsMode, got, port)
		}
	}
	c := valid
	c.Username, c.Password = "jifen", "s3cret"
	if s := c.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "password=xxxxx") {
		t.Errorf("String() = %q leaks or hides the password wrongly", s)
	}
	if (Config{}).Enabled() || !valid.Enabled() {
		t.Error("Enabled() must follow Host")
	}
}
