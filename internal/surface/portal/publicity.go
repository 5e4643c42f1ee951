package portal

// The public lists (积分公示系统, issue 13): every year's list as the board
// holds it in memory — published by this system or imported — with search,
// sort and pages, the score distribution, the digests and Merkle root, the
// canonical file, receipts and a page that checks them, and the JSON API.
// Nothing here reads the database: the lists keep answering while it is
// busy or down. Pages for visitors not logged in are the same bytes for
// everyone, kept rendered and cacheable (ETag, Cache-Control).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"jifen/internal/accessstats"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/publicity"
	"jifen/internal/publicity/proof"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// listMaxAge is how long a browser or proxy may keep a list page or API
// answer without asking again: short, as the notice period's end changes
// the page's banner.
const listMaxAge = time.Minute

func (p *Portal) registerPublicity(mux *web.Mux) {
	if p.svc.Board == nil {
		return
	}
	limit := func(h http.HandlerFunc) http.Handler {
		if p.svc.PublicLimiter == nil {
			return h
		}
		return p.svc.PublicLimiter.Limit(h)
	}
	mux.Handle("GET /publicity", limit(p.publicityIndex))
	mux.Handle("GET /publicity/{year}", limit(p.publicityList))
	mux.Handle("GET /publicity/canonical/{year}/{version}", limit(p.publicityCanonical))
	mux.HandleFunc("GET /publicity/receipt/{year}", p.publicityReceipt)
	mux.HandleFunc("GET /publicity/verify", p.verifyPage)
	mux.HandleFunc("POST /publicity/verify", p.verifyPage)
	mux.Handle("GET /api/v1/publicity", limit(p.apiPublicity))
	mux.Handle("GET /api/v1/publicity/{year}", limit(p.apiPublicityYear))
	mux.Handle("GET /api/v1/publicity/{year}/entries", limit(p.apiPublicityEntries))
}

// publicYear reads the {year} of a path: four digits the board holds, else
// a 404 naming the year.
func (p *Portal) publicYear(r *http.Request) (*publicity.Snapshot, error) {
	s := r.PathValue("year")
	y, err := strconv.Atoi(s)
	if err != nil || len(s) != 4 {
		return nil, apperr.New(apperr.NotFound, "没有这一年度的公示名单")
	}
	snap, ok := p.svc.Board.Current(y)
	if !ok {
		return nil, apperr.New(apperr.NotFound, fmt.Sprintf("没有 %d 年度的公示名单（或尚未到公示开始日期）", y))
	}
	return snap, nil
}

// searchOf reads q, sort, dir and page of a list request.
func searchOf(r *http.Request) (publicity.Query, error) {
	v := r.URL.Query()
	q := publicity.Query{Q: v.Get("q"), Sort: v.Get("sort"), Desc: v.Get("dir") == "desc"}
	if d := v.Get("dir"); d != "" && d != "asc" && d != "desc" {
		return q, apperr.Field("dir", "排序方向只能是 asc（升序）或 desc（降序）")
	}
	page, err := historyPageNo(r)
	if err != nil {
		return q, err
	}
	q.Page = page
	return publicity.CheckSearch(q)
}

// phaseName is a phase as a word for the API.
func phaseName(ph publicity.Phase) string {
	switch ph {
	case publicity.Notice:
		return "notice"
	case publicity.Archive:
		return "archive"
	}
	return "upcoming"
}

// sharedCache keeps rendered public pages: the same bytes for every
// visitor not logged in, keyed by the list's version and the request. It
// is dropped whole when it would hold more than sharedCacheBytes (a full
// list page is some 60 KB, a search page 20 KB): the cache is there for
// the popular pages, and a drop costs one render each.
type sharedCache struct {
	mu    sync.RWMutex
	pages map[string][]byte
	size  int
}

const sharedCacheBytes = 16 << 20

func (c *sharedCache) get(k string) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b, ok := c.pages[k]
	return b, ok
}

func (c *sharedCache) put(k string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pages == nil || c.size+len(b) > sharedCacheBytes {
		c.pages, c.size = map[string][]byte{}, 0
	}
	if _, ok := c.pages[k]; !ok {
		c.pages[k], c.size = b, c.size+len(b)
	}
}

// servePublic writes a public page: for a visitor not logged in, the
// rendered bytes kept under key (rendered by build on a miss) with an ETag
// and a Cache-Control; for someone logged in (their name is in the
// header), a fresh page that no cache keeps.
func (p *Portal) servePublic(w http.ResponseWriter, r *http.Request, key, name, title string, build func() (any, error)) {
	if shell.User(r.Context()) != nil {
		data, err := build()
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		pg := p.page(r, title)
		pg.Data = data
		p.sh.Render(w, r, http.StatusOK, name, pg)
		return
	}
	if web.Cached(w, r, web.ETagOf(key), listMaxAge) {
		return
	}
	page, ok := p.shared.get(key)
	if !ok {
		data, err := build()
		if err != nil {
			web.WriteError(w, r, err)
			return
		}
		pg := p.page(r, title)
		pg.Data = data
		if page, err = p.sh.UI.RenderShared(name, pg); err != nil {
			web.WriteError(w, r, apperr.Wrap(err))
			return
		}
		p.shared.put(key, page)
	}
	ui.WriteHTML(w, http.StatusOK, page)
}

// chartCache keeps each list version's distribution chart and table: they
// depend on the list alone, and drawing them for every search page would
// cost more than the page.
type chartCache struct{ m sync.Map } // *publicity.Snapshot → [2]template.HTML

func (c *chartCache) of(s *publicity.Snapshot) (chart, table template.HTML) {
	if v, ok := c.m.Load(s); ok {
		h := v.([2]template.HTML)
		return h[0], h[1]
	}
	bins := ScoreBins(s.Totals(), s.Cutoff)
	h := [2]template.HTML{DistributionChart(bins, s.Cutoff), DistributionTable(bins, s.Cutoff)}
	c.m.Store(s, h)
	return h[0], h[1]
}

// snapKey names a snapshot and the phase it is shown in.
func snapKey(s *publicity.Snapshot, now time.Time) string {
	return fmt.Sprintf("%d/%d/%s/%s", s.Year, s.Version, s.Sealed.SM3, phaseName(s.PhaseAt(now)))
}

// yearRow is one year of the index.
type yearRow struct {
	*publicity.Snapshot
	Phase                 string
	QuotaText, QualifText string
}

func (p *Portal) publicityIndex(w http.ResponseWriter, r *http.Request) {
	now := p.sh.Clock.Now()
	years := p.svc.Board.Years()
	var key strings.Builder
	key.WriteString("index")
	for _, s := range years {
		key.WriteString("|" + snapKey(s, now))
	}
	p.servePublic(w, r, key.String(), "portal_publicity_index", "积分落户公示", func() (any, error) {
		var rows []yearRow
		for _, s := range years {
			rows = append(rows, yearRow{Snapshot: s, Phase: phaseName(s.PhaseAt(now)), QuotaText: thousands(s.Quota),
				QualifText: thousands(s.Qualified)})
		}
		return rows, nil
	})
}

// listRow is one row as the list page shows it.
type listRow struct {
	Number, Name, Born, Employer, Total string
	Values                              []historyValue
}

type listView struct {
	Snap         *publicity.Snapshot
	Current      *publicity.Snapshot // the newest version, when an older one is shown
	Phase        string
	Quota        string
	Qualified    string
	Search       *publicity.Result
	Rows         []listRow
	Versions     []publicity.Version
	Chart        template.HTML
	Table        template.HTML // the chart's numbers, for screen readers
	Prev, Next   string
	SortNumber   string // links that sort the list
	SortScore    string
	NoticeEndsAt string
}

func (p *Portal) publicityList(w http.ResponseWriter, r *http.Request) {
	cur, err := p.publicYear(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	snap := cur
	if v := r.URL.Query().Get("v"); v != "" {
		n, err := strconv.Atoi(v)
		var ok bool
		if err == nil {
			snap, ok = p.svc.Board.Version(cur.Year, n)
		}
		if err != nil || !ok {
			web.WriteError(w, r, apperr.Field("v", "没有这一版本的公示名单"))
			return
		}
	}
	q, err := searchOf(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	res, err := snap.Search(q)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if q.Q != "" {
		accessstats.Search(r.Context(), res.Total > 0)
	}
	now := p.sh.Clock.Now()
	key := fmt.Sprintf("list|%s|%s|%s|%t|%d|%d", snapKey(snap, now), q.Q, q.Sort, q.Desc, q.Page, cur.Version)
	title := fmt.Sprintf("%d年度积分落户公示名单", snap.Year)
	p.servePublic(w, r, key, "portal_publicity_list", title, func() (any, error) {
		return p.listView(cur, snap, res, now), nil
	})
}

func (p *Portal) listView(cur, snap *publicity.Snapshot, res *publicity.Result, now time.Time) *listView {
	v := &listView{Snap: snap, Phase: phaseName(snap.PhaseAt(now)), Quota: thousands(snap.Quota),
		Qualified: thousands(snap.Qualified), Search: res}
	if cur != snap {
		v.Current = cur
	}
	if snap.Published {
		v.NoticeEndsAt = snap.EndsAt.In(clock.Beijing).Format("2006-01-02 15:04")
	}
	for _, s := range p.svc.Board.Versions(snap.Year) {
		v.Versions = append(v.Versions, publicity.VersionOf(s))
	}
	for _, row := range res.Rows {
		lr := listRow{Number: row.Number, Name: row.Name, Born: publicity.BornText(row.BirthYM), Employer: row.Employer,
			Total: row.Total.String()}
		for i, val := range row.Indicators {
			lr.Values = append(lr.Values, historyValue{publicity.IndicatorNames[i], val.String()})
		}
		v.Rows = append(v.Rows, lr)
	}
	v.Chart, v.Table = p.charts.of(snap)
	link := func(q publicity.Query) string {
		u := url.Values{}
		if q.Q != "" {
			u.Set("q", q.Q)
		}
		if q.Sort != publicity.SortNumber {
			u.Set("sort", q.Sort)
		}
		if q.Desc {
			u.Set("dir", "desc")
		}
		if q.Page > 1 {
			u.Set("page", strconv.Itoa(q.Page))
		}
		if cur != snap {
			u.Set("v", strconv.Itoa(snap.Version))
		}
		s := fmt.Sprintf("/publicity/%d", snap.Year)
		if len(u) > 0 {
			s += "?" + u.Encode()
		}
		return s
	}
	q := res.Query
	if q.Page > 1 && q.Page <= res.Pages+1 {
		v.Prev = link(publicity.Query{Q: q.Q, Sort: q.Sort, Desc: q.Desc, Page: q.Page - 1})
	}
	if q.Page < res.Pages {
		v.Next = link(publicity.Query{Q: q.Q, Sort: q.Sort, Desc: q.Desc, Page: q.Page + 1})
	}
	v.SortNumber = link(publicity.Query{Q: q.Q, Sort: publicity.SortNumber, Page: 1})
	v.SortScore = link(publicity.Query{Q: q.Q, Sort: publicity.SortScore, Page: 1})
	return v
}

// publicityCanonical serves a version's canonical file (docs/publicity.md
// §1): the bytes the digests on the page are of. A version never changes,
// so caches may keep it for a day.
func (p *Portal) publicityCanonical(w http.ResponseWriter, r *http.Request) {
	cur, err := p.publicYear(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	n, err := strconv.Atoi(r.PathValue("version"))
	snap, ok := p.svc.Board.Version(cur.Year, n)
	if err != nil || !ok {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "没有这一版本的公示名单"))
		return
	}
	if web.Cached(w, r, web.ETagOf(snap.Sealed.SM3), 24*time.Hour) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="jifen-publicity-%d-v%d.txt"`, snap.Year, snap.Version))
	h.Set("Content-Length", strconv.Itoa(len(snap.Sealed.Canonical)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(snap.Sealed.Canonical)
	}
}

// publicityReceipt gives a logged-in applicant the receipt of their own
// row in year's current list: the row, its Merkle path and the root.
func (p *Portal) publicityReceipt(w http.ResponseWriter, r *http.Request) {
	c, err := p.applicant(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	cur, err := p.publicYear(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	if !cur.Published || p.svc.PublicNumber == nil {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "该年度名单不是本系统发布的，没有回执"))
		return
	}
	number, err := p.svc.PublicNumber(r.Context(), c.person.ID, cur.Year)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	rc, err := cur.Sealed.Receipt(number)
	if err != nil {
		web.WriteError(w, r, apperr.New(apperr.NotFound, "您不在该年度公示名单中，没有回执"))
		return
	}
	b, err := json.MarshalIndent(rc, "", "  ")
	if err != nil {
		web.WriteError(w, r, apperr.Wrap(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="jifen-receipt-%s-v%d.json"`, number, cur.Version))
	h.Set("Cache-Control", "private, no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}

// maxReceipt bounds a pasted or uploaded receipt: a path of a list of
// 99,999 rows has 17 hashes; a receipt is under 3 KB.
const maxReceipt = 64 << 10

type verifyView struct {
	Checked bool
	OK      bool
	Message string
	Receipt *proof.Receipt
	Text    string
}

// verifyPage checks a receipt pasted or uploaded: the receipt's own proof
// (proof.VerifyReceipt), then that its root, digests and size are those of
// the version of the list it names, as the board publishes it.
func (p *Portal) verifyPage(w http.ResponseWriter, r *http.Request) {
	v := &verifyView{}
	if r.Method == http.MethodPost {
		v.Checked = true
		v.Text, v.Receipt, v.OK, v.Message = p.verifyReceipt(r)
	}
	pg := p.page(r, "核验公示回执")
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "portal_publicity_verify", pg)
}

func (p *Portal) verifyReceipt(r *http.Request) (text string, rc *proof.Receipt, ok bool, msg string) {
	var raw []byte
	if f, _, err := r.FormFile("file"); err == nil {
		defer func() { _ = f.Close() }()
		raw, err = io.ReadAll(io.LimitReader(f, maxReceipt+1))
		if err != nil {
			return "", nil, false, "无法读取上传的回执文件"
		}
	} else {
		raw = []byte(r.PostFormValue("receipt"))
	}
	text = string(raw)
	if len(bytes.TrimSpace(raw)) == 0 {
		return text, nil, false, "请粘贴回执内容或上传回执文件"
	}
	if len(raw) > maxReceipt {
		return "", nil, false, "回执过大：回执文件不超过 64 KB"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	rc = &proof.Receipt{}
	if err := dec.Decode(rc); err != nil {
		return text, nil, false, "回执不是有效的 JSON 回执文件"
	}
	if err := proof.VerifyReceipt(rc); err != nil {
		return text, rc, false, err.Error()
	}
	snap, found := p.svc.Board.Version(rc.Year, rc.Version)
	if !found {
		return text, rc, false, fmt.Sprintf("回执无效：本系统没有公布 %d 年度第 %d 版公示名单", rc.Year, rc.Version)
	}
	if rc.MerkleRoot != snap.Sealed.Root || rc.ListSM3 != snap.Sealed.SM3 || rc.ListSHA256 != snap.Sealed.SHA256 ||
		rc.TreeSize != len(snap.Rows) {
		return text, rc, false, fmt.Sprintf("回执无效：回执中的 Merkle 根、摘要或行数与公布的 %d 年度第 %d 版名单不符", rc.Year, rc.Version)
	}
	return text, rc, true, fmt.Sprintf("回执有效：公示编号 %s 的这一行确在 %d 年度第 %d 版公示名单中（Merkle 根 %s）。", rc.Number, rc.Year,
		rc.Version, rc.MerkleRoot)
}

// apiYear is a year of the API.
type apiYear struct {
	Year        int                 `json:"year"`
	Version     int                 `json:"version"`
	Source      string              `json:"source"` // published | imported
	Phase       string              `json:"phase"`  // notice | archive
	Quota       int                 `json:"quota"`
	Cutoff      string              `json:"cutoff"`
	Qualified   int                 `json:"qualified"`
	NoticeStart string              `json:"notice_start"`
	NoticeEnd   string              `json:"notice_end"`
	Rows        int                 `json:"rows"`
	Indicators  bool                `json:"indicators"`
	SM3         string              `json:"sm3"`
	SHA256      string              `json:"sha256"`
	MerkleRoot  string              `json:"merkle_root"`
	Canonical   string              `json:"canonical_url"`
	Versions    []publicity.Version `json:"versions,omitempty"`
}

func (p *Portal) apiYearOf(s *publicity.Snapshot, now time.Time) apiYear {
	src := "imported"
	if s.Published {
		src = "published"
	}
	return apiYear{Year: s.Year, Version: s.Version, Source: src, Phase: phaseName(s.PhaseAt(now)), Quota: s.Quota,
		Cutoff: s.Cutoff.String(), Qualified: s.Qualified, NoticeStart: s.NoticeStart, NoticeEnd: s.NoticeEnd, Rows: len(s.Rows),
		Indicators: s.Indicators, SM3: s.Sealed.SM3, SHA256: s.Sealed.SHA256, MerkleRoot: s.Sealed.Root,
		Canonical: fmt.Sprintf("/publicity/canonical/%d/%d", s.Year, s.Version)}
}

// publicJSON writes a cacheable JSON answer.
func publicJSON(w http.ResponseWriter, r *http.Request, key string, v any) {
	if web.Cached(w, r, web.ETagOf(key), listMaxAge) {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		web.WriteError(w, r, apperr.Wrap(err))
		return
	}
	writeJSONBytes(w, append(b, '\n'))
}

func writeJSONBytes(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (p *Portal) apiPublicity(w http.ResponseWriter, r *http.Request) {
	now := p.sh.Clock.Now()
	out := []apiYear{}
	var key strings.Builder
	key.WriteString("api")
	for _, s := range p.svc.Board.Years() {
		out = append(out, p.apiYearOf(s, now))
		key.WriteString("|" + snapKey(s, now))
	}
	publicJSON(w, r, key.String(), map[string]any{"years": out})
}

func (p *Portal) apiPublicityYear(w http.ResponseWriter, r *http.Request) {
	s, err := p.publicYear(r)
	if !answered(w, r, err) {
		return
	}
	now := p.sh.Clock.Now()
	y := p.apiYearOf(s, now)
	for _, v := range p.svc.Board.Versions(s.Year) {
		y.Versions = append(y.Versions, publicity.VersionOf(v))
	}
	publicJSON(w, r, "api|"+snapKey(s, now)+fmt.Sprint(len(y.Versions)), y)
}

// apiPublicityEntries answers a search of a year's current list: the page
// of entries as JSON, each row's JSON written once when the list was
// loaded.
func (p *Portal) apiPublicityEntries(w http.ResponseWriter, r *http.Request) {
	s, err := p.publicYear(r)
	if !answered(w, r, err) {
		return
	}
	q, err := searchOf(r)
	if !answered(w, r, err) {
		return
	}
	res, err := s.Search(q)
	if !answered(w, r, err) {
		return
	}
	if q.Q != "" {
		accessstats.Search(r.Context(), res.Total > 0)
	}
	if web.Cached(w, r, web.ETagOf(fmt.Sprintf("entries|%s|%s|%s|%t|%d", snapKey(s, p.sh.Clock.Now()), q.Q, q.Sort, q.Desc, q.Page)),
		listMaxAge) {
		return
	}
	qj, _ := json.Marshal(q.Q)
	b := make([]byte, 0, 256+len(res.Rows)*320)
	b = fmt.Appendf(b, `{"year":%d,"version":%d,"q":%s,"sort":%q,"page":%d,"pages":%d,"total":%d,"entries":[`,
		s.Year, s.Version, qj, q.Sort, q.Page, res.Pages, res.Total)
	for i, row := range res.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.RowJSON(row.Number)...)
	}
	b = append(b, "]}\n"...)
	writeJSONBytes(w, b)
}
