package mail

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestPool(t testing.TB, servers ...ServerConfig) *Pool {
	t.Helper()
	p, err := NewPool(servers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func (s *testServer) server(conns int) ServerConfig {
	return ServerConfig{Config: s.config(), Conns: conns}
}

func (s *testServer) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

func campaignMessage(id int64, to string) Message {
	m := chineseNotice()
	m.ID, m.To, m.ToName = id, to, ""
	return m
}

func TestPoolSendsWithEnvelope(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	p := newTestPool(t, srv.server(2))
	key := []byte("verp key")
	env := Envelope{
		ReturnPath: VERPAddress(key, "bounce", "bounce.jifen.test", 77),
		MessageID:  "<campaign.3.77@jifen.test>",
		Headers: map[string]string{
			"List-Unsubscribe":      "<https://jifen.test/u/abc>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			"Precedence":            "bulk",
		},
		DSN: true,
	}
	if err := p.Send(context.Background(), env, campaignMessage(77, "li.si@example.cn")); err != nil {
		t.Fatal(err)
	}
	got := srv.messages()
	if len(got) != 1 {
		t.Fatalf("received %d messages", len(got))
	}
	if got[0].From != env.ReturnPath {
		t.Errorf("MAIL FROM %q, want the VERP address %q", got[0].From, env.ReturnPath)
	}
	if id, ok := ParseVERP(key, got[0].From); !ok || id != 77 {
		t.Errorf("ParseVERP(MAIL FROM) = %d, %v", id, ok)
	}
	if got[0].Ret != "HDRS" || len(got[0].Notify) != 1 || got[0].Notify[0] != "FAILURE,DELAY" {
		t.Errorf("DSN: RET=%q NOTIFY=%q, want HDRS and FAILURE,DELAY", got[0].Ret, got[0].Notify)
	}
	pm := parseMail(t, got[0].Data)
	for k, want := range map[string]string{
		"Message-Id":            "<campaign.3.77@jifen.test>",
		"List-Unsubscribe":      "<https://jifen.test/u/abc>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Precedence":            "bulk",
		"Auto-Submitted":        "auto-generated",
	} {
		if g := pm.Header.Get(k); g != want {
			t.Errorf("header %s = %q, want %q", k, g, want)
		}
	}
	if pm.From.Address != "noreply@jifen.test" || pm.Subject != chineseNotice().Subject {
		t.Errorf("from %v subject %q", pm.From, pm.Subject)
	}

	// A campaign's own sender identity.
	if err := p.Send(context.Background(), Envelope{From: "notice@rsj.jifen.test", FromName: "市人力社保局"}, campaignMessage(79, "zhao.liu@example.cn")); err != nil {
		t.Fatal(err)
	}
	if pm := parseMail(t, srv.messages()[1].Data); pm.From.Address != "notice@rsj.jifen.test" || pm.From.Name != "市人力社保局" ||
		!strings.HasSuffix(pm.MessageID, "@rsj.jifen.test>") || srv.messages()[1].From != "notice@rsj.jifen.test" {
		t.Errorf("campaign sender: from %v, message id %q, MAIL FROM %q", pm.From, pm.MessageID, srv.messages()[1].From)
	}

	// Without DSN and return path: no RET/NOTIFY, MAIL FROM is From, and
	// the Message-ID is derived from the row as the SMTPSender does.
	if err := p.Send(context.Background(), Envelope{}, campaignMessage(78, "wang.wu@example.cn")); err != nil {
		t.Fatal(err)
	}
	got = srv.messages()
	if got[2].From != "noreply@jifen.test" || got[2].Ret != "" || got[2].Notify[0] != "" {
		t.Errorf("plain envelope: from %q ret %q notify %q", got[2].From, got[2].Ret, got[2].Notify)
	}
	if mid := parseMail(t, got[2].Data).MessageID; mid != "<"+srv.sender().MessageID(campaignMessage(78, ""))+">" {
		t.Errorf("derived Message-ID %q", mid)
	}
}

func TestPoolReusesConnections(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	p := newTestPool(t, srv.server(2))
	for i := range 20 {
		if err := p.Send(context.Background(), Envelope{}, campaignMessage(int64(i+1), "a@example.cn")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.messages()); n != 20 {
		t.Fatalf("received %d, want 20", n)
	}
	if n := srv.sessionCount(); n != 1 {
		t.Errorf("20 sequential messages used %d connections, want 1 kept open", n)
	}
}

func TestPoolRejectsBadEnvelope(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	p := newTestPool(t, srv.server(1))
	for name, env := range map[string]Envelope{
		"header injection": {Headers: map[string]string{"List-Unsubscribe": "<x>\r\nBcc: all@example.cn"}},
		"bad header name":  {Headers: map[string]string{"Bad Name": "x"}},
		"owned header":     {Headers: map[string]string{"From": "evil@example.cn"}},
		"bad return path":  {ReturnPath: "not an address"},
		"bad message id":   {MessageID: "<a b>"},
		"bad from":         {From: "张三 <a@b.cn>"},
		"from name break":  {FromName: "a\nBcc: x@y.cn"},
	} {
		err := p.Send(context.Background(), env, campaignMessage(1, "a@example.cn"))
		if err == nil || !IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
	if n := len(srv.messages()); n != 0 {
		t.Errorf("%d messages sent", n)
	}
}

func TestPoolClassifiesFailures(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	cfg := srv.server(1)
	cfg.Timeout = 300 * time.Millisecond
	p := newTestPool(t, cfg)
	ctx := context.Background()
	send := func(id int64, to string) error { return p.Send(ctx, Envelope{DSN: true}, campaignMessage(id, to)) }

	// Accepted.
	if err := send(1, "ok@example.cn"); err != nil {
		t.Fatalf("accept: %v", err)
	}

	// 5xx to RCPT: permanent, with code and enhanced code.
	srv.set(func(s *testServer) { s.rejectRcpt["gone@example.cn"] = true })
	err := send(2, "gone@example.cn")
	var se *SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.Enhanced != "5.1.1" || se.Temporary || !IsPermanent(err) ||
		CodeOf(err) != 550 || !strings.Contains(se.Text, "no such user") {
		t.Errorf("reject: %#v (%v)", se, err)
	}

	// 4xx to RCPT and to DATA: temporary.
	srv.set(func(s *testServer) { s.deferRcpt["busy@example.cn"] = true })
	err = send(3, "busy@example.cn")
	if !errors.As(err, &se) || se.Code != 450 || se.Enhanced != "4.2.1" || !se.Temporary || IsPermanent(err) {
		t.Errorf("defer rcpt: %#v (%v)", se, err)
	}
	srv.set(func(s *testServer) { s.failData = 1 })
	err = send(4, "ok@example.cn")
	if !errors.As(err, &se) || se.Code != 451 || se.Enhanced != "4.3.0" || !se.Temporary || IsPermanent(err) {
		t.Errorf("defer data: %#v (%v)", se, err)
	}
	// The session survives a refused transaction: the same connection goes on.
	if err := send(5, "ok@example.cn"); err != nil {
		t.Fatalf("after refusals: %v", err)
	}
	if n := srv.sessionCount(); n != 1 {
		t.Errorf("refusals reopened the connection: %d sessions", n)
	}

	// Dropped mid-DATA: temporary, code 0; the next message reopens a
	// connection and goes through.
	srv.set(func(s *testServer) { s.dropData = 1 })
	err = send(6, "ok@example.cn")
	if !errors.As(err, &se) || se.Code != 0 || !se.Temporary || IsPermanent(err) || CodeOf(err) != 0 {
		t.Errorf("dropped: %#v (%v)", se, err)
	}
	if err := send(7, "ok@example.cn"); err != nil {
		t.Fatalf("after a dropped connection: %v", err)
	}
	if n := srv.sessionCount(); n != 2 {
		t.Errorf("sessions %d, want 2 (one reopened)", n)
	}

	// Slow answer past the timeout: temporary, code 0.
	srv.set(func(s *testServer) { s.slowData = time.Second })
	start := time.Now()
	err = send(8, "ok@example.cn")
	if !errors.As(err, &se) || se.Code != 0 || !se.Temporary || IsPermanent(err) {
		t.Errorf("slow: %#v (%v)", se, err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("slow server held the send %s, beyond the timeout", d)
	}
	srv.set(func(s *testServer) { s.slowData = 0 })
	time.Sleep(time.Second) // let the slow session finish
	if err := send(9, "ok@example.cn"); err != nil {
		t.Fatalf("after a timeout: %v", err)
	}

	var sent []string
	for _, r := range srv.messages() {
		sent = append(sent, parseMail(t, r.Data).MessageID)
	}
	// 1, 5, 7, 9 surely; 8 was accepted after the client gave up (the
	// server finished the slow transaction) — the ambiguity a timeout has.
	for _, id := range []int64{1, 5, 7, 9} {
		want := "<" + srv.sender().MessageID(campaignMessage(id, "")) + ">"
		found := false
		for _, s := range sent {
			found = found || s == want
		}
		if !found {
			t.Errorf("message %d not received", id)
		}
	}
}

func TestPoolContextCancel(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	srv.set(func(s *testServer) { s.slowData = 2 * time.Second })
	p := newTestPool(t, srv.server(1))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Send(ctx, Envelope{}, campaignMessage(1, "a@example.cn"))
	var se *SMTPError
	if !errors.As(err, &se) || !se.Temporary || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled: %#v (%v)", se, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %s", d)
	}
}

func TestPoolFailsOverAndBacksOff(t *testing.T) {
	t.Parallel()
	down := startSMTP(t)
	up := startSMTP(t)
	down.stop()
	p := newTestPool(t, down.server(2), up.server(2))
	p.backoff = time.Hour
	for i := range 10 {
		if err := p.Send(context.Background(), Envelope{}, campaignMessage(int64(i+1), "a@example.cn")); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	if n := len(up.messages()); n != 10 {
		t.Errorf("the working server got %d of 10", n)
	}
	p.mu.Lock()
	failures := p.servers[0].failures
	p.mu.Unlock()
	if failures != 1 {
		t.Errorf("the dead server was dialled %d times, want once then backed off", failures)
	}

	// Every server down: a temporary error at once, naming the failure.
	up.stop()
	p2 := newTestPool(t, down.server(1), up.server(1))
	err := p2.Send(context.Background(), Envelope{}, campaignMessage(1, "a@example.cn"))
	var se *SMTPError
	if !errors.As(err, &se) || !se.Temporary || se.Code != 0 {
		t.Errorf("all down: %#v (%v)", se, err)
	}
	err = p2.Send(context.Background(), Envelope{}, campaignMessage(2, "a@example.cn"))
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "backed off") {
		t.Errorf("all backed off: %v", err)
	}

	// The back-off expires and the server is tried again.
	p3 := newTestPool(t, down.server(1))
	p3.backoff = 50 * time.Millisecond
	if err := p3.Send(context.Background(), Envelope{}, campaignMessage(1, "a@example.cn")); err == nil {
		t.Fatal("sent to a stopped server")
	}
	down.restart()
	time.Sleep(100 * time.Millisecond)
	if err := p3.Send(context.Background(), Envelope{}, campaignMessage(2, "a@example.cn")); err != nil {
		t.Fatalf("after the back-off: %v", err)
	}
}

func TestPoolRoundRobin(t *testing.T) {
	t.Parallel()
	a, b := startSMTP(t), startSMTP(t)
	p := newTestPool(t, a.server(1), b.server(1))
	for i := range 10 {
		if err := p.Send(context.Background(), Envelope{}, campaignMessage(int64(i+1), "a@example.cn")); err != nil {
			t.Fatal(err)
		}
	}
	if na, nb := len(a.messages()), len(b.messages()); na != 5 || nb != 5 {
		t.Errorf("round robin gave %d and %d", na, nb)
	}
}

func TestPoolReopensConnectionClosedWhileIdle(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	p := newTestPool(t, srv.server(1))
	if err := p.Send(context.Background(), Envelope{}, campaignMessage(1, "a@example.cn")); err != nil {
		t.Fatal(err)
	}
	// The server restarts: the kept connection is dead.
	srv.stop()
	srv.restart()
	if err := p.Send(context.Background(), Envelope{}, campaignMessage(2, "a@example.cn")); err != nil {
		t.Fatalf("after the server closed the idle connection: %v", err)
	}
	if n := len(srv.messages()); n != 2 {
		t.Errorf("received %d", n)
	}
}

func TestPoolConcurrent(t *testing.T) {
	t.Parallel()
	a, b := startSMTP(t), startSMTP(t)
	a.set(func(s *testServer) { s.rejectRcpt["gone@example.cn"] = true })
	p := newTestPool(t, a.server(3), b.server(3))
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			to := "x" + strconv.Itoa(i) + "@example.cn"
			errs[i] = p.Send(context.Background(), Envelope{DSN: i%2 == 0}, campaignMessage(int64(i+1), to))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if got := len(a.messages()) + len(b.messages()); got != n {
		t.Errorf("received %d of %d", got, n)
	}
	if s := a.sessionCount() + b.sessionCount(); s > 6 {
		t.Errorf("%d connections for 6 slots", s)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(context.Background(), Envelope{}, campaignMessage(1, "a@example.cn")); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("send after close: %v", err)
	}
}

func TestNewPoolValidates(t *testing.T) {
	t.Parallel()
	if _, err := NewPool(nil); err == nil {
		t.Error("no server accepted")
	}
	_, err := NewPool([]ServerConfig{{Config: Config{Host: "h", From: "bad"}}, {Config: Config{Host: "h", From: "a@b.cn"}, Conns: -1}})
	if err == nil || !strings.Contains(err.Error(), "smtp from") || !strings.Contains(err.Error(), "conns") {
		t.Errorf("validation: %v", err)
	}
}

// BenchmarkPoolSend sends campaign messages to the in-process go-smtp server
// over 4 pooled connections from 16 goroutines.
func BenchmarkPoolSend(b *testing.B) {
	srv := startSMTP(b)
	srv.set(func(s *testServer) { s.discard = true })
	p := newTestPool(b, srv.server(4))
	env := Envelope{ReturnPath: VERPAddress([]byte("k"), "bounce", "b.jifen.test", 1), DSN: true,
		Headers: map[string]string{"Precedence": "bulk", "List-Unsubscribe": "<https://jifen.test/u/x>"}}
	b.SetParallelism(4)
	b.ResetTimer()
	var id atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := id.Add(1)
			if err := p.Send(context.Background(), env, campaignMessage(n, fmt.Sprintf("r%d@example.cn", n))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.count != b.N {
		b.Errorf("server accepted %d of %d", srv.count, b.N)
	}
}

func TestPoolAuthAndSenderRefusals(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t)
	srv.set(func(s *testServer) { s.user, s.pass = "jifen", "s3cret" })

	good := srv.server(1)
	good.Username, good.Password = "jifen", "s3cret"
	if err := newTestPool(t, good).Send(context.Background(), Envelope{}, campaignMessage(1, "a@example.cn")); err != nil {
		t.Fatalf("with AUTH: %v", err)
	}

	// A wrong password is the operator's to fix: temporary, not a
	// failure of the recipient.
	bad := srv.server(1)
	bad.Username, bad.Password = "jifen", "guess"
	err := newTestPool(t, bad).Send(context.Background(), Envelope{}, campaignMessage(2, "a@example.cn"))
	var se *SMTPError
	if !errors.As(err, &se) || se.Code != 535 || !se.Temporary || IsPermanent(err) {
		t.Errorf("wrong password: %#v (%v)", se, err)
	}

	// MAIL FROM refused with 5xx (here: no AUTH at all): temporary too.
	err = newTestPool(t, srv.server(1)).Send(context.Background(), Envelope{}, campaignMessage(3, "a@example.cn"))
	if !errors.As(err, &se) || se.Code/100 != 5 || !se.Temporary || IsPermanent(err) {
		t.Errorf("MAIL FROM refused: %#v (%v)", se, err)
	}
	if n := len(srv.messages()); n != 1 {
		t.Errorf("received %d, want 1", n)
	}
}
