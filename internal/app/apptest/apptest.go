// Package apptest starts the real jifen application in-process on port 0
// against a fresh database (SQLite, or PostgreSQL when JIFEN_TEST_POSTGRES is
// set), with a fake clock, and gives tests HTTP clients for its listeners.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/app"
	"jifen/internal/config"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/platform/totp"
	"jifen/internal/round"
)

// App is a running application under test.
type App struct {
	*app.App
	T        testing.TB
	Clock    *clock.Fake
	Internet string // base URL
	Office   string
	Metrics  string

	// totp keeps the TOTP secret each staff account enrolled with, and
	// changed the password it was given at first login, so LoginStaff can
	// log it in again (after the fake clock jumped past the session's end).
	totpMu  sync.Mutex
	totp    map[string]string
	changed map[string]string // the password LoginStaff changed it to
}

// Option changes the configuration before start.
type Option func(*config.Config)

// Start runs the application until the test ends.
func Start(t testing.TB, opts ...Option) *App {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"JIFEN_DATA_DIR": dir, "JIFEN_DB": dbtest.DSN(t), "JIFEN_INTERNET_ADDR": "127.0.0.1:0",
		"JIFEN_OFFICE_ADDR": "127.0.0.1:0", "JIFEN_METRICS_ADDR": "127.0.0.1:0", "JIFEN_WORKER": "false",
		"JIFEN_LOGIN_RATE": "1000", "JIFEN_LOGIN_BURST": "1000", "JIFEN_PUBLIC_RATE_LIMIT": "0",
		// A backup at the worker's start would slow every test that works
		// jobs; the backup tests turn it on.
		"JIFEN_BACKUP_EVERY": "off",
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(cfg)
	}
	fc := clock.NewFake(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	a, err := app.New(context.Background(), cfg, log, app.Options{Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	// Tests look for new jobs often (WorkJobs); production every 500 ms.
	a.Jobs.PollInterval = 20 * time.Millisecond
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	ta := &App{App: a, T: t, Clock: fc}
	if addr := a.Addr("internet"); addr != "" {
		ta.Internet = "http://" + addr
	}
	if addr := a.Addr("office"); addr != "" {
		ta.Office = "http://" + addr
	}
	if addr := a.Addr("metrics"); addr != "" {
		ta.Metrics = "http://" + addr
	}
	return ta
}

// WorkJobs runs the worker — the job mechanism with the cross-check, mail
// and the schedules, as JIFEN_WORKER=true would — until cond holds, and
// fails the test if it does not within timeout.
func (a *App) WorkJobs(timeout time.Duration, cond func() bool) {
	a.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Check.Work(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			a.T.Fatalf("jobs did not reach the condition within %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SynthRound is the setup of the tests that work a population against the
// agencies: it starts the simulated agencies, opens the 2026 round and
// synthesises people applicants of employers employers into it (seed, and
// disc the share of applications that misstate one indicator, as for
// Synth). It fails the test on any error.
func (a *App) SynthRound(people, employers int, seed uint64, disc float64) *round.Round {
	a.T.Helper()
	ctx := context.Background()
	if err := a.StartAgencySim(ctx); err != nil {
		a.T.Fatal(err)
	}
	rd, err := a.EnsureRound(ctx, 2026, true)
	if err != nil {
		a.T.Fatal(err)
	}
	if _, err := a.Synth(ctx, rd, people, employers, seed, disc, nil); err != nil {
		a.T.Fatal(err)
	}
	return rd
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// Password is the password of accounts made by CreateUser.
const Password = "Tq8#vLm2xPz5"

// CreateUser makes an account with roles directly (as the CLI would).
// Staff accounts start ready for TOTP: the returned secret enrols them.
func (a *App) CreateUser(login string, roles ...account.Role) *account.User {
	a.T.Helper()
	return a.CreateUserIn("", login, roles...)
}

// CreateUserIn is CreateUser for a staff member of a district; district
// officers made by CreateUser belong to 海淀区.
func (a *App) CreateUserIn(district, login string, roles ...account.Role) *account.User {
	a.T.Helper()
	for _, r := range roles {
		if (r == account.DistrictOfficer || r == account.DistrictSupervisor) && district == "" {
			district = "海淀区"
		}
	}
	zone := account.Internet
	if len(roles) > 0 {
		if ri, _ := account.Info(roles[0]); ri.Zone == account.Office {
			zone = account.Office
		}
	}
	u, err := a.Accounts.CreateUser(context.Background(), account.NewUser{Login: login, DisplayName: "测试" + login, Zone: zone,
		Password: Password, Roles: roles, District: district})
	if err != nil {
		a.T.Fatal(err)
	}
	return u
}

// Client is a browser-like HTTP client with its own cookie jar, bound to one
// listener.
type Client struct {
	T    testing.TB
	Base string
	HTTP *http.Client
}

// Client returns a client for base (a.Internet or a.Office). It does not
// follow redirects, so tests see them.
func (a *App) Client(base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: a.T, Base: base, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is a read response.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) {
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		panic("not JSON: " + r.Body)
	}
}

// Do sends a request. Same-origin browser headers are added to unsafe
// requests unless the caller sets its own.
func (c *Client) Do(method, path string, body io.Reader, hdr map[string]string) *Response {
	c.T.Helper()
	req, err := http.NewRequest(method, c.Base+path, body)
	if err != nil {
		c.T.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// Get fetches a page.
func (c *Client) Get(path string) *Response { return c.Do("GET", path, nil, nil) }

// PostForm submits a form as a same-origin browser would.
func (c *Client) PostForm(path string, form url.Values) *Response {
	return c.Do("POST", path, strings.NewReader(form.Encode()), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": c.Base, "Sec-Fetch-Site": "same-origin"})
}

// PostJSON sends a JSON body as an API client (no browser headers).
func (c *Client) PostJSON(path string, v any) *Response {
	b, _ := json.Marshal(v)
	return c.Do("POST", path, bytes.NewReader(b), map[string]string{"Content-Type": "application/json"})
}

// LoginAPI logs in through the JSON API and returns the answer.
func (c *Client) LoginAPI(login, pw string) *Response {
	return c.PostJSON("/api/v1/session", map[string]string{"login": login, "password": pw})
}

// LoginStaff takes a staff account through password change (if owed) and
// TOTP enrolment with the fake clock, ending with a full session.
func (a *App) LoginStaff(c *Client, login, pw string) {
	a.T.Helper()
	a.totpMu.Lock()
	if changed, ok := a.changed[login]; ok {
		pw = changed
	}
	a.totpMu.Unlock()
	r := c.LoginAPI(login, pw)
	if r.Status != 200 {
		a.T.Fatalf("login %s: %d %s", login, r.Status, r.Body)
	}
	var ans struct{ Next *string }
	r.JSON(&ans)
	if ans.Next != nil && *ans.Next == "change_password" {
		r = c.PostJSON("/api/v1/session/password", map[string]string{"old_password": pw, "new_password": pw + "x"})
		if r.Status != 200 {
			a.T.Fatalf("password change %s: %d %s", login, r.Status, r.Body)
		}
		a.totpMu.Lock()
		if a.changed == nil {
			a.changed = map[string]string{}
		}
		a.changed[login] = pw + "x"
		a.totpMu.Unlock()
		r.JSON(&ans)
	}
	if ans.Next != nil && *ans.Next == "totp" {
		e := c.Get("/api/v1/session/totp")
		var enr struct {
			Enrolled bool
			Secret   string
		}
		e.JSON(&enr)
		secret := enr.Secret
		a.totpMu.Lock()
		if enr.Enrolled {
			secret = a.totp[login]
		} else {
			if a.totp == nil {
				a.totp = map[string]string{}
			}
			a.totp[login] = secret
		}
		a.totpMu.Unlock()
		if secret == "" {
			a.T.Fatal("LoginStaff cannot pass TOTP for an account enrolled outside it")
		}
		a.Clock.Advance(30 * time.Second)
		code, _ := totp.Code(secret, a.Clock.Now())
		r = c.PostJSON("/api/v1/session/totp", map[string]string{"code": code})
		if r.Status != 200 {
			a.T.Fatalf("totp %s: %d %s", login, r.Status, r.Body)
		}
	}
}
