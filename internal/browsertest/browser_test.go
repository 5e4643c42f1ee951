package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"jifen/internal/app/apptest"
)

// The two widths every page is held to: a common phone and a laptop.
var viewports = []struct{ w, h int64 }{{390, 844}, {1366, 900}}

// chromiumPath finds Chromium; a missing browser skips the suite unless
// JIFEN_BROWSER_REQUIRED is set, when it fails it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("JIFEN_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("JIFEN_BROWSER_REQUIRED") != "" {
		t.Fatal("Chromium is not installed (apt-get install chromium fonts-noto-cjk) and JIFEN_BROWSER_REQUIRED is set")
	}
	t.Skip("Chromium is not installed: browser tests skipped (set JIFEN_BROWSER_REQUIRED=1 to fail instead)")
	return ""
}

// browser is one headless Chromium for the whole suite.
type browser struct {
	t         *testing.T
	alloc     context.Context
	root      context.Context
	artifacts string
	once      sync.Once
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	if err := chromedp.Do(root); err != nil {
		cancelRoot()
		cancelAlloc()
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	return &browser{t: t, alloc: alloc, root: root}
}

// artifactDir is where screenshots of failures go; it outlives the test.
func (b *browser) artifactDir() string {
	b.once.Do(func() {
		dir := os.Getenv("JIFEN_BROWSER_ARTIFACTS")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), "jifen-browser-"+time.Now().Format("20060102-150405"))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.t.Logf("artifacts: %v", err)
		}
		b.artifacts = dir
	})
	return b.artifacts
}

// tab is one isolated browser profile (its own cookies) of one person.
type tab struct {
	b    *browser
	ctx  context.Context
	name string

	mu   sync.Mutex
	errs []consoleError // console errors, exceptions, CSP violations since the last take
}

func (b *browser) tab(t *testing.T, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{b: b, ctx: ctx, name: name}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Console errors, uncaught exceptions, and the browser log's
			// errors and security entries (CSP violations, failed loads).
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Source == "security" {
				tb.mu.Lock()
				tb.errs = append(tb.errs, consoleError{m.String(), m.Source, m.URL})
				tb.mu.Unlock()
			}
		}
	}()
	return tb
}

type consoleError struct{ text, source, url string }

// takeErrors returns the console's errors since the last call. The status
// of the page itself is not one: a form answered 400 with its errors
// beside the fields is how the pages work (Chromium logs it as a failed
// load).
func (tb *tab) takeErrors(page string) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, e := range tb.errs {
		if e.source == "network" && strings.SplitN(e.url, "#", 2)[0] == strings.SplitN(page, "#", 2)[0] {
			continue
		}
		out = append(out, e.text)
	}
	tb.errs = nil
	return out
}

// run runs actions with a timeout and fails the test (with a screenshot) on
// error.
func (tb *tab) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v (screenshot %s)", what, err, tb.screenshot(t, what))
	}
}

// login gives the tab the session of a client logged in over HTTP.
func (tb *tab) login(t *testing.T, c *apptest.Client) {
	t.Helper()
	u, _ := url.Parse(c.Base)
	var acts []chromedp.Action[chromedp.Void]
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		p := network.SetCookieParams{Name: ck.Name, Value: ck.Value, URL: c.Base + "/", HTTPOnly: new(true),
			SameSite: network.CookieSameSiteLax}
		acts = append(acts, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.SetCookie, p)
			return err
		}))
	}
	if len(acts) == 0 {
		t.Fatalf("%s: the client has no session cookie", tb.name)
	}
	tb.run(t, "set session cookie", acts...)
}

// viewport sets the size the page is laid out for.
func viewport(w, h int64) chromedp.Action[chromedp.Void] {
	return chromedp.EmulateViewport(w, h)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9一-龥-]+`)

// screenshot keeps the page as it is now and returns the file's path.
func (tb *tab) screenshot(t *testing.T, what string) string {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	name := unsafeName.ReplaceAllString(t.Name()+"-"+tb.name+"-"+what, "_")
	if len(name) > 150 {
		name = name[:150]
	}
	p := filepath.Join(tb.b.artifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		return "(no screenshot: " + err.Error() + ")"
	}
	return p
}

// pageReport is what the checks script returns about the page as laid out.
type pageReport struct {
	URL         string   `json:"url"`
	Width       int64    `json:"width"`
	ScrollWidth int64    `json:"scrollWidth"`
	Wide        []string `json:"wide"`
	Scrollers   []string `json:"scrollers"`
	Layout      []string `json:"layout"`
	Unlabelled  []string `json:"unlabelled"`
	Headings    []string `json:"headings"`
	Text        []string `json:"text"`
	Links       []string `json:"links"`
}

// checkScript measures the page: overflow (and the outermost elements that
// stick out), unlabelled controls, the heading outline, the visible text
// outside <code>/<kbd>/<samp>, and the same-origin links.
const checkScript = `(() => {
  const vw = window.innerWidth;
  const de = document.documentElement;
  const desc = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).join(".") : "");
  const path = (el) => { const p = []; for (let e = el; e && e !== document.body && p.length < 4; e = e.parentElement) p.unshift(desc(e)); return p.join(" > "); };
  const r = {url: location.href, width: vw, scrollWidth: de.scrollWidth, wide: [], scrollers: [], layout: [], unlabelled: [], headings: [], text: [], links: []};
  if (de.scrollWidth > vw) {
    for (const el of document.body.querySelectorAll("*")) {
      const b = el.getBoundingClientRect();
      if (b.width === 0 || b.right <= vw + 1 || !el.checkVisibility()) continue;
      const p = el.parentElement;
      if (p && p !== document.body && p.getBoundingClientRect().right > vw + 1) continue;
      r.wide.push(path(el) + " (right " + Math.round(b.right) + ")");
      if (r.wide.length >= 6) break;
    }
  }
  // A box that scrolls sideways (a wide table) may hold columns of data,
  // but a control past its right edge is an action the person cannot see.
  for (const el of document.body.querySelectorAll("*")) {
    const ox = getComputedStyle(el).overflowX;
    if (!(ox === "auto" || ox === "scroll") || el.scrollWidth <= el.clientWidth + 1 || !el.checkVisibility()) continue;
    const edge = el.getBoundingClientRect().left + el.clientWidth;
    const hidden = [...el.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea")]
      .filter((c) => c.getBoundingClientRect().right > edge + 1 && c.checkVisibility());
    if (hidden.length) r.scrollers.push(path(el) + ": " + hidden.length + " controls past the edge, first " +
      path(hidden[0]) + " \"" + (hidden[0].textContent || hidden[0].value || "").trim().substring(0, 20) + "\"");
  }
  // 退出 must not sit alone on a row of the header.
  const out = [...document.querySelectorAll("header button")].find((b) => b.textContent.trim() === "退出");
  if (out && out.checkVisibility()) {
    const o = out.getBoundingClientRect();
    const beside = [...document.querySelectorAll("header *")].some((e) => {
      if (e === out || e.contains(out) || out.contains(e) || e.children.length || !e.checkVisibility()) return false;
      const b = e.getBoundingClientRect();
      return b.width > 0 && b.top < o.bottom - 4 && b.bottom > o.top + 4;
    });
    if (!beside) r.layout.push("退出 is alone on a row of the header");
  }
  for (const el of document.querySelectorAll("input, select, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (["hidden", "submit", "button", "reset", "image"].includes(type)) continue;
    if (el.labels && el.labels.length) continue;
    if (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || el.getAttribute("title")) continue;
    r.unlabelled.push(path(el) + "[name=" + (el.getAttribute("name") || "") + "]");
  }
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    if (!h.checkVisibility()) continue;
    r.headings.push(h.tagName.substring(1) + " " + h.textContent.trim().replace(/\s+/g, " ").substring(0, 40));
  }
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) {
    const s = n.nodeValue.trim();
    if (!s) continue;
    const p = n.parentElement;
    if (!p || p.closest("code, kbd, samp, script, style, noscript, template") || !p.checkVisibility()) continue;
    r.text.push(s);
  }
  for (const a of document.querySelectorAll("a[href]")) {
    if (a.origin === location.origin) r.links.push(a.href);
  }
  return r;
})()`

// measure runs the check script.
func (tb *tab) measure(t *testing.T) pageReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[pageReport](checkScript))
	if err != nil {
		t.Fatalf("measure: %v", err)
	}
	return r
}

// problems lists what is wrong with a measured page; errs are the console
// messages of its load.
func problems(r pageReport, errs []string) []string {
	var out []string
	if r.ScrollWidth > r.Width {
		out = append(out, fmt.Sprintf("wider than the screen: scrollWidth %d > %d; sticking out: %s", r.ScrollWidth, r.Width,
			strings.Join(r.Wide, "; ")))
	}
	for _, sc := range r.Scrollers {
		out = append(out, "controls off-screen in a box that scrolls sideways: "+sc)
	}
	out = append(out, r.Layout...)
	for _, e := range errs {
		out = append(out, "console: "+e)
	}
	for _, u := range r.Unlabelled {
		out = append(out, "control without a label: "+u)
	}
	prev := 1
	for _, h := range r.Headings {
		var lvl int
		fmt.Sscanf(h, "%d", &lvl)
		if lvl > prev+1 {
			out = append(out, fmt.Sprintf("heading level skipped: h%d after h%d (%q)", lvl, prev, h[2:]))
		}
		prev = lvl
	}
	codes := rawCodes(r.Text)
	if len(codes) > 8 {
		codes = append(codes[:8], fmt.Sprintf("… and %d more", len(codes)-8))
	}
	out = append(out, codes...)
	return out
}

// knownCodes are codes of the system that must never reach a page as they
// are: statuses, roles, run states and the like. A page shows their
// Chinese names.
var knownCodes = regexp.MustCompile(`\b(system|console|queued|running|applied|submitted|draft|returned|checking|` +
	`first_result|review_requested|final|published|pending|confirmed|rejected|verified|preview|failed|cancell?ed|` +
	`with_employer|material_requested|not_found|mismatch|match|internet|office|applicant|employer_operator|` +
	`district_officer|city_officer|agency_liaison|system_admin|security_admin|audit_admin|owned|rented|bachelor|master|` +
	`doctor|null|undefined|NaN|true|false|nil)\b|next=|<no value>|%!`)

// identifier is an ASCII identifier with "_" or "." inside (with_employer,
// check.run.start, x86_64).
var identifier = regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9]*(?:[._][A-Za-z0-9]+)+\b`)

// allowedASCII are the places ASCII with dots is fine: e-mail addresses,
// URLs, host names with a port, file names.
var allowedASCII = regexp.MustCompile(`(?i)[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+|https?://\S+|(?:^|\s)/[\w/{}.-]+|` +
	`[A-Za-z0-9._-]+\.(pdf|png|jpe?g|csv|xlsx?|zip|txt|json|svg|docx?|ofd)\b|\b\d+(\.\d+)+\b`)

// strayPunctuation is punctuation left by an empty part of a sentence:
// "整批次 ，1247件，", "（）".
var strayPunctuation = regexp.MustCompile(`[\p{Han}\w]\s+[，。；、]|[，；、][，。；、]|（）|，$`)

// offGlossary are words the glossary (docs/glossary.md) replaces by one
// term used everywhere.
var offGlossary = regexp.MustCompile(`社保缴费记录|社保补缴记录|初审`)

// rawCodes reports codes and identifiers in visible text, and stray
// punctuation.
func rawCodes(text []string) []string {
	var out []string
	for _, s := range text {
		clean := allowedASCII.ReplaceAllString(s, " ")
		if m := knownCodes.FindString(clean); m != "" {
			out = append(out, fmt.Sprintf("raw code %q in %q", m, clip(s)))
			continue
		}
		if m := identifier.FindString(clean); m != "" {
			out = append(out, fmt.Sprintf("ASCII identifier %q in %q", m, clip(s)))
			continue
		}
		if m := offGlossary.FindString(s); m != "" {
			out = append(out, fmt.Sprintf("%q is not the glossary's term in %q", m, clip(s)))
		}
		if m := strayPunctuation.FindString(s); m != "" {
			out = append(out, fmt.Sprintf("stray punctuation %q in %q", m, clip(s)))
		}
	}
	return out
}

func clip(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

// load opens path and waits for the page to be ready.
func (tb *tab) load(t *testing.T, u string) {
	t.Helper()
	tb.run(t, "open "+u, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body")))
}

// checkHere checks the page the tab is on at both widths (laid out again
// without reloading) and reports every problem with a screenshot. It
// returns the page's links.
func (tb *tab) checkHere(t *testing.T, label string) []string {
	t.Helper()
	// Let late console messages (CSP reports come asynchronously) arrive.
	time.Sleep(30 * time.Millisecond)
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	errs := tb.takeErrors(loc)
	var links []string
	for i, vp := range viewports {
		tb.run(t, "viewport", viewport(vp.w, vp.h))
		r := tb.measure(t)
		links = r.Links
		var e []string
		if i == 0 {
			e = errs
		}
		if os.Getenv("JIFEN_BROWSER_SHOTS") != "" {
			tb.screenshot(t, fmt.Sprintf("all-%s-%d", label, vp.w))
		}
		if ps := problems(r, e); len(ps) > 0 {
			shot := tb.screenshot(t, fmt.Sprintf("%s-%d", label, vp.w))
			t.Errorf("%s %s at %dx%d:\n  %s\n  screenshot: %s", tb.name, r.URL, vp.w, vp.h, strings.Join(ps, "\n  "), shot)
		}
	}
	return links
}

// htmlPage reports whether a GET of u by c answers an HTML page with 200
// (downloads are not pages to walk), or else where it redirects to.
func htmlPage(c *apptest.Client, u string) (bool, string) {
	p := strings.TrimPrefix(u, c.Base)
	r := c.Do(http.MethodGet, p, nil, nil)
	if r.Status >= 300 && r.Status < 400 {
		return false, r.Header.Get("Location")
	}
	return r.Status == 200 && strings.HasPrefix(r.Header.Get("Content-Type"), "text/html"), ""
}

var number = regexp.MustCompile(`/\d+`)

// pattern names a page by its path with numbers replaced and its query's
// keys, so the walk visits one of each kind of page.
func pattern(u *url.URL) string {
	p := number.ReplaceAllString(u.Path, "/{n}")
	if q := u.Query(); len(q) > 0 {
		var keys []string
		for k := range q {
			keys = append(keys, k)
		}
		p += "?" + strings.Join(sortStrings(keys), "&")
	}
	return p
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// walk visits every page reachable by links from start, one of each
// pattern, checking each; it returns the patterns visited.
func (tb *tab) walk(t *testing.T, c *apptest.Client, start string, limit int) []string {
	t.Helper()
	seen := map[string]bool{}
	var visited []string
	queue := []string{c.Base + start}
	for len(queue) > 0 && len(visited) < limit {
		u := queue[0]
		queue = queue[1:]
		pu, err := url.Parse(u)
		if err != nil {
			continue
		}
		pu.Fragment = ""
		pat := pattern(pu)
		if seen[pat] {
			continue
		}
		seen[pat] = true
		ok, moved := htmlPage(c, pu.String())
		if moved != "" && strings.HasPrefix(moved, "/") {
			queue = append(queue, c.Base+moved)
		}
		if !ok {
			continue
		}
		tb.load(t, pu.String())
		visited = append(visited, pat)
		for _, l := range tb.checkHere(t, pat) {
			lu, err := url.Parse(l)
			if err != nil || !strings.HasPrefix(l, c.Base) || strings.Contains(lu.Path, "/static/") {
				continue
			}
			lu.Fragment = ""
			if !seen[pattern(lu)] {
				queue = append(queue, lu.String())
			}
		}
	}
	return visited
}
