package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"jifen/internal/platform/totp"
)

// Config is one run.
type Config struct {
	Internet, Office string
	// Scale multiplies every rate: 1 is the procurement's 100 + 55 per
	// second, 10 the goal.
	Scale    float64
	Duration time.Duration
	State    *State
	// Users bounds the accounts of each kind logged in before the run.
	Users int
	Seed  uint64
	// Timeout is the longest a request may take before it counts as an
	// error.
	Timeout time.Duration
	// Log gets progress lines (nil: none).
	Log io.Writer
	// Now is the time the staff's TOTP codes are computed for (nil: the
	// system clock; tests give the server's fake clock).
	Now func() time.Time
	// Ops, when set, runs only the operations of the mix so named (at
	// their rates times Scale).
	Ops []string
}

// Run logs the accounts in, runs the mix for the duration and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Scale <= 0 || cfg.Duration <= 0 {
		return nil, errors.New("--scale and --duration must be positive")
	}
	if cfg.Users <= 0 {
		cfg.Users = 200
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, name := range cfg.Ops {
		if !slices.ContainsFunc(Mix(), func(o Op) bool { return o.Name == name }) {
			return nil, fmt.Errorf("--ops: no operation %q in the mix (docs/loadtest.md lists them)", name)
		}
	}
	g, err := setup(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var ops []Op
	left := map[string]string{}
	for _, o := range Mix() {
		if len(cfg.Ops) > 0 && !slices.Contains(cfg.Ops, o.Name) {
			continue
		}
		if why := g.lacks(o.needs); why != "" {
			left[o.Name] = why
			logf(cfg.Log, "%s is left out: %s", o.Name, why)
			continue
		}
		ops = append(ops, o)
	}
	logf(cfg.Log, "running %d operations at scale %g (%.0f requests/s) for %s", len(ops), cfg.Scale, totalRate(ops)*cfg.Scale, cfg.Duration)
	start := time.Now()
	tr := &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0, IdleConnTimeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	results := make([]*opResult, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		results[i] = newOpResult(op, cfg.Scale)
		atk := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(2), vegeta.MaxWorkers(10000), vegeta.MaxBody(1<<20),
			vegeta.Redirects(vegeta.NoFollow))
		rate := op.Rate * cfg.Scale
		pacer := vegeta.Rate{Freq: 1, Per: time.Duration(float64(time.Second) / rate)}
		tg := func(t *vegeta.Target) error {
			if op.take != nil {
				if !op.take(g, t) {
					return vegeta.ErrNoTargets
				}
				return nil
			}
			op.target(g, t)
			return nil
		}
		wg.Go(func() {
			for res := range atk.Attack(tg, pacer, cfg.Duration, op.Name) {
				results[i].add(res)
			}
		})
		go func() {
			<-ctx.Done()
			atk.Stop()
		}()
	}
	wg.Wait()
	r := report(cfg, start, time.Since(start), results)
	r.Left = left
	return r, ctx.Err()
}

// lacks says why the run cannot send an operation that needs what: ""
// when it can.
func (g *gen) lacks(what string) string {
	switch {
	case what == "public_year" && g.st.PublicYear == 0:
		return "no public list of a past year (jifen publicity import)"
	case what == "notice" && g.notice == nil:
		return "no list is in its notice period (objections are taken only then)"
	case what == "discrepancies" && len(g.discrepancies) == 0:
		return "no open cross-check discrepancy (a check run on the population makes them: docs/loadtest.md)"
	case what == "receivable" && len(g.receivable) == 0, what == "decidable" && len(g.decidable) == 0:
		return "no 复查 request waits for a district to receive it"
	}
	return ""
}

func totalRate(ops []Op) float64 {
	var n float64
	for _, o := range ops {
		n += o.Rate
	}
	return n
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// setup logs every account the mix acts as in (not measured) and reads
// what the requests need: each draft's declaration, each officer's cases.
func setup(ctx context.Context, cfg Config) (*gen, error) {
	st := cfg.State
	g := &gen{st: st, internet: strings.TrimRight(cfg.Internet, "/"), office: strings.TrimRight(cfg.Office, "/"),
		rnd: rand.New(rand.NewPCG(cfg.Seed, 17)), declarations: map[string]json.RawMessage{}}
	c := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	first := func(s []string) []string { return s[:min(len(s), cfg.Users)] }
	var err error
	logf(cfg.Log, "logging in applicants, employer operators and staff")
	// Each account its own client address: 10,000 apart per kind.
	if g.drafts, err = loginAll(ctx, c, g.internet, first(st.Drafts), st.Password, 0); err != nil {
		return nil, err
	}
	if g.submitters, err = loginAll(ctx, c, g.internet, first(st.Submitters), st.Password, 10000); err != nil {
		return nil, err
	}
	if g.filed, err = loginAll(ctx, c, g.internet, first(st.Filed), st.Password, 20000); err != nil {
		return nil, err
	}
	var opLogins []string
	for _, o := range st.Operators[:min(len(st.Operators), cfg.Users)] {
		opLogins = append(opLogins, o.Login)
	}
	ops, err := loginAll(ctx, c, g.internet, opLogins, st.Password, 30000)
	if err != nil {
		return nil, err
	}
	for i, s := range ops {
		o := opSession{session: s, waiting: st.Operators[i].Waiting}
		// Someone else's application: one waiting with another employer.
		for j := range st.Operators {
			k := (i + 1 + j) % len(st.Operators)
			if k != i && len(st.Operators[k].Waiting) > 0 {
				o.other = st.Operators[k].Waiting[0]
				break
			}
		}
		g.operators = append(g.operators, o)
	}
	for _, s := range g.drafts {
		var a struct {
			Declaration json.RawMessage `json:"declaration"`
		}
		if err := getJSON(ctx, c, g.internet+"/api/v1/application", s, &a); err != nil {
			return nil, fmt.Errorf("draft of %s: %w", s.login, err)
		}
		g.declarations[s.login] = a.Declaration
		if g.calcBody == nil {
			g.calcBody = a.Declaration
		}
	}
	if err := g.loginStaff(ctx, c, cfg.Now); err != nil {
		return nil, err
	}
	// An expired session: one logged in, then logged out.
	ex, err := loginAll(ctx, c, g.internet, first(st.Filed)[:1], st.Password, 40000)
	if err != nil {
		return nil, err
	}
	if err := logout(ctx, c, g.internet, ex[0]); err != nil {
		return nil, err
	}
	g.expired = ex[0].cookie
	if err := g.setupReviews(ctx, c, cfg); err != nil {
		return nil, err
	}
	if err := g.setupNotice(ctx, c); err != nil {
		return nil, err
	}
	switch {
	case len(cfg.Ops) > 0:
		// A run of some operations: each finds what it needs or is left out.
	case len(g.drafts) == 0 || len(g.submitters) == 0 || len(g.filed) == 0 || len(g.operators) == 0:
		return nil, errors.New("the state lacks drafts, applications to submit, filed applications or employer operators")
	case len(g.district) == 0 || len(g.city) == 0 || len(g.admins) == 0:
		return nil, errors.New("the state lacks district officers, city officers or a system administrator")
	}
	return g, nil
}

// setupReviews reads, as each district's officers see them, the open
// cross-check discrepancies (office.discrepancy_accept resolves each once)
// and the 复查 requests waiting for the district to receive them. Enough for the run's
// office.review_decide are received and claimed now (not measured), each by
// one of its district's officers, who then decides it in the run; the rest
// are for office.review_receive. Districts take turns, so every officer
// acts.
func (g *gen) setupReviews(ctx context.Context, c *http.Client, cfg Config) error {
	byDistrict := map[string][]staffSession{}
	var districts []string
	for _, s := range g.district {
		if len(byDistrict[s.district]) == 0 {
			districts = append(districts, s.district)
		}
		byDistrict[s.district] = append(byDistrict[s.district], s)
	}
	waiting := map[string][]review{}
	open := map[string][]review{}
	for _, d := range districts {
		for page := 1; page <= 4; page++ {
			var ans struct {
				Items []struct {
					ID int64 `json:"id"`
				} `json:"items"`
				Next bool `json:"next"`
			}
			if err := getJSON(ctx, c, fmt.Sprintf("%s/api/v1/office/discrepancies?status=open&page=%d", g.office, page), byDistrict[d][0].session, &ans); err != nil {
				return fmt.Errorf("discrepancies of %s: %w", d, err)
			}
			for _, it := range ans.Items {
				open[d] = append(open[d], review{by: byDistrict[d][len(open[d])%len(byDistrict[d])], id: it.ID})
			}
			if !ans.Next {
				break
			}
		}
		var ans struct {
			Items []struct {
				ApplicationID int64    `json:"application_id"`
				Indicators    []string `json:"indicators"`
			} `json:"items"`
		}
		if err := getJSON(ctx, c, g.office+"/api/v1/office/reviews?status=forwarded", byDistrict[d][0].session, &ans); err != nil {
			return fmt.Errorf("复查 requests of %s: %w", d, err)
		}
		for i, it := range ans.Items {
			if len(it.Indicators) > 0 {
				waiting[d] = append(waiting[d], review{by: byDistrict[d][i%len(byDistrict[d])], id: it.ApplicationID, indicator: it.Indicators[0]})
			}
		}
	}
	g.discrepancies = interleave(districts, open)
	all := interleave(districts, waiting)
	rate := 0.0
	for _, o := range Mix() {
		if o.Name == "office.review_decide" {
			rate = o.Rate
		}
	}
	// Half of what there is at most, so that receiving has its share.
	n := min(int(math.Ceil(rate*cfg.Scale*cfg.Duration.Seconds()))+1, len(all)/2)
	for _, r := range all[:n] {
		var cv struct {
			Version int `json:"version"`
		}
		if err := postJSON(ctx, c, g.office+"/api/v1/office/reviews/"+strconv.FormatInt(r.id, 10)+"/receive", r.by.session, &cv); err != nil {
			return fmt.Errorf("receiving 复查 request %d: %w", r.id, err)
		}
		if err := postJSON(ctx, c, g.office+"/api/v1/office/cases/"+strconv.FormatInt(r.id, 10)+"/claim", r.by.session, nil); err != nil {
			return fmt.Errorf("claiming case %d: %w", r.id, err)
		}
		r.version = cv.Version
		g.decidable = append(g.decidable, r)
	}
	g.receivable = all[n:]
	return nil
}

// interleave takes the districts' cases in turn: the first of each, then
// the second of each, and so on.
func interleave(districts []string, by map[string][]review) []review {
	var all []review
	for i := 0; ; i++ {
		more := false
		for _, d := range districts {
			if i < len(by[d]) {
				all, more = append(all, by[d][i]), true
			}
		}
		if !more {
			return all
		}
	}
}

// setupNotice finds the list in its notice period, if one is, and numbers
// on it, from the public API.
func (g *gen) setupNotice(ctx context.Context, c *http.Client) error {
	var idx struct {
		Years []struct {
			Year   int    `json:"year"`
			Source string `json:"source"`
			Phase  string `json:"phase"`
		} `json:"years"`
	}
	if err := getJSON(ctx, c, g.internet+"/api/v1/publicity", session{addr: g.anon()}, &idx); err != nil {
		return fmt.Errorf("public lists: %w", err)
	}
	for _, y := range idx.Years {
		if y.Source != "published" || y.Phase != "notice" {
			continue
		}
		var page struct {
			Entries []struct {
				Number string `json:"number"`
			} `json:"entries"`
		}
		if err := getJSON(ctx, c, fmt.Sprintf("%s/api/v1/publicity/%d/entries", g.internet, y.Year), session{addr: g.anon()}, &page); err != nil {
			return fmt.Errorf("list of %d: %w", y.Year, err)
		}
		n := &notice{year: y.Year}
		for _, e := range page.Entries {
			n.numbers = append(n.numbers, e.Number)
		}
		if len(n.numbers) > 0 {
			g.notice = n
			return nil
		}
	}
	return nil
}

// loginAll logs logins in, eight at a time (each is an argon2id hash on the
// server).
func loginAll(ctx context.Context, c *http.Client, base string, logins []string, pw string, first int) ([]session, error) {
	out := make([]session, len(logins))
	errs := make([]error, len(logins))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, l := range logins {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			addr := addrOf(first + i)
			ck, _, err := login(ctx, c, base, l, pw, addr)
			out[i], errs[i] = session{login: l, cookie: ck, addr: addr}, err
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// login posts the password and returns the session cookie and the step
// the session still owes ("" none, "totp", "change_password").
func login(ctx context.Context, c *http.Client, base, login, pw, addr string) (string, string, error) {
	body, _ := json.Marshal(map[string]string{"login": login, "password": pw})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/session", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := c.Do(req)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("login %s: %d %s", login, resp.StatusCode, raw)
	}
	var ans struct {
		Next *string `json:"next"`
	}
	_ = json.Unmarshal(raw, &ans)
	var cookies []string
	for _, ck := range resp.Cookies() {
		if ck.Value != "" && ck.MaxAge >= 0 {
			cookies = append(cookies, ck.Name+"="+ck.Value)
		}
	}
	next := ""
	if ans.Next != nil {
		next = *ans.Next
	}
	return strings.Join(cookies, "; "), next, nil
}

// loginStaff logs each staff account in with its password and a TOTP code
// from its secret (the first code completes the enrolment).
func (g *gen) loginStaff(ctx context.Context, c *http.Client, now func() time.Time) error {
	for i, s := range g.st.Staff {
		addr := addrOf(50000 + i)
		ck, next, err := login(ctx, c, g.office, s.Login, s.Password, addr)
		if err != nil {
			return err
		}
		if next == "totp" {
			code, err := totp.Code(s.Secret, now())
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"code": code})
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.office+"/api/v1/session/totp", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Cookie", ck)
			req.Header.Set("X-Forwarded-For", addr)
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			raw, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("TOTP of %s: %d %s (a code is used once per 30 s: wait or prepare new staff)", s.Login, resp.StatusCode, raw)
			}
			for _, nc := range resp.Cookies() {
				if nc.Value != "" && nc.MaxAge >= 0 {
					ck = nc.Name + "=" + nc.Value
				}
			}
		} else if next != "" {
			return fmt.Errorf("staff %s owes %s: prepare new staff accounts", s.Login, next)
		}
		ss := staffSession{session: session{login: s.Login, cookie: ck, addr: addr}, district: s.District}
		switch {
		case s.Role == "system_admin":
			g.admins = append(g.admins, ss)
		case s.District == "":
			g.city = append(g.city, ss)
		default:
			ss.cases = g.st.Cases[s.District]
			for d, cs := range g.st.Cases {
				if d != s.District {
					ss.others = append(ss.others, cs[:min(len(cs), 20)]...)
				}
			}
			if len(ss.cases) > 0 && len(ss.others) > 0 {
				g.district = append(g.district, ss)
			}
		}
	}
	return nil
}

func logout(ctx context.Context, c *http.Client, base string, s session) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, base+"/api/v1/session", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", s.cookie)
	req.Header.Set("X-Forwarded-For", s.addr)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("logout: %d", resp.StatusCode)
	}
	return nil
}

func getJSON(ctx context.Context, c *http.Client, u string, s session, v any) error {
	return do(ctx, c, http.MethodGet, u, s, v)
}

// postJSON posts an empty JSON body as s and reads the answer into v (nil:
// not read).
func postJSON(ctx context.Context, c *http.Client, u string, s session, v any) error {
	return do(ctx, c, http.MethodPost, u, s, v)
}

func do(ctx context.Context, c *http.Client, method, u string, s session, v any) error {
	var body io.Reader
	if method != http.MethodGet {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.cookie != "" {
		req.Header.Set("Cookie", s.cookie)
	}
	req.Header.Set("X-Forwarded-For", s.addr)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, raw)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// opResult gathers one operation's results.
type opResult struct {
	op        Op
	rate      float64
	latencies []time.Duration
	codes     map[string]int
	errors    int
	samples   []string
	ranOut    bool // a take operation used up what it acts on
}

func newOpResult(op Op, scale float64) *opResult {
	return &opResult{op: op, rate: op.Rate * scale, codes: map[string]int{}}
}

// add counts one result: an error is a transport error, a 5xx or any
// status the operation does not expect.
func (r *opResult) add(res *vegeta.Result) {
	if res.Code == 0 && res.Error == vegeta.ErrNoTargets.Error() {
		r.ranOut = true // not a request: the end of the operation's supply
		return
	}
	r.latencies = append(r.latencies, res.Latency)
	r.codes[strconv.Itoa(int(res.Code))]++
	// vegeta names every status outside 2xx–3xx an error; what counts
	// here is whether the status is the one the operation expects (an
	// invalid request's 4xx is right). Code 0 is a transport failure.
	if res.Code != 0 && slices.Contains(r.op.Expect, int(res.Code)) {
		return
	}
	r.errors++
	if len(r.samples) < 5 {
		s := strconv.Itoa(int(res.Code)) + " " + res.Error
		if len(res.Body) > 0 {
			s += " " + string(res.Body[:min(len(res.Body), 200)])
		}
		r.samples = append(r.samples, strings.TrimSpace(s))
	}
}
