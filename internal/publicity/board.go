package publicity

// The board (公示栏) is what the public side serves: every list, published by
// this system or imported from a past year, as an immutable snapshot in
// memory. A request never touches the database: the public site keeps
// answering at full speed while the database is busy with office work, or
// down (issue 13 item 8). The board is loaded at start and reloaded when a
// list is published and every half minute (another process may have
// published); a failed reload keeps what was served.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/publicity/proof"
	"jifen/internal/rules"
)

// Snapshot is one version of one year's list, immutable once built.
type Snapshot struct {
	Year    int
	Version int
	// Published is true for a list this system published (it has a notice
	// period, receipts and objections); false for an imported past list.
	Published   bool
	NoticeStart string // YYYY-MM-DD, "" for imported lists
	NoticeEnd   string
	StartsAt    time.Time // the notice period [StartsAt, EndsAt), Beijing days
	EndsAt      time.Time
	Quota       int
	Qualified   int
	Cutoff      rules.Points
	// Indicators is whether the rows carry the ten indicator values.
	Indicators  bool
	PublishedAt time.Time
	Reason      string // why a correction was published; "" for version 1
	Sealed      *proof.Sealed
	// Rows are in 公示编号 order (the canonical file's order).
	Rows []proof.Row

	byNumber map[string]int32
	byScore  []int32 // row indexes: total descending, then 公示编号
	scorePos []int32 // scorePos[i] is row i's position in byScore
	lower    []string
	postings map[rune][]int32 // rows whose name or employer holds the rune
	json     [][]byte         // each row as the API writes it
}

// Phase is where a snapshot stands at a time.
type Phase int

// The phases of a list.
const (
	Upcoming Phase = iota // published, notice period not begun: not shown
	Notice                // within the notice period
	Archive               // after it, or an imported past list
)

// PhaseAt returns the snapshot's phase at now.
func (s *Snapshot) PhaseAt(now time.Time) Phase {
	switch {
	case !s.Published:
		return Archive
	case now.Before(s.StartsAt):
		return Upcoming
	case now.Before(s.EndsAt):
		return Notice
	}
	return Archive
}

// Row returns the row with 公示编号 number.
func (s *Snapshot) Row(number string) (proof.Row, bool) {
	i, ok := s.byNumber[number]
	if !ok {
		return proof.Row{}, false
	}
	return s.Rows[i], true
}

// Totals returns every row's total, for the distribution chart.
func (s *Snapshot) Totals() []rules.Points {
	out := make([]rules.Points, len(s.Rows))
	for i, r := range s.Rows {
		out[i] = r.Total
	}
	return out
}

func newSnapshot(l *proof.List) (*Snapshot, error) {
	sealed, err := l.Seal()
	if err != nil {
		return nil, err
	}
	rows, err := proof.Parse(sealed.Canonical)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Year: l.Year, Version: l.Version, Quota: l.Quota, Qualified: l.Qualified, Cutoff: l.Cutoff,
		NoticeStart: l.NoticeStart, NoticeEnd: l.NoticeEnd, Sealed: sealed, Rows: rows.Rows,
		byNumber: make(map[string]int32, len(rows.Rows)), lower: make([]string, len(rows.Rows)), postings: map[rune][]int32{},
		json: make([][]byte, len(rows.Rows))}
	for i, r := range s.Rows {
		s.byNumber[r.Number] = int32(i)
		if s.json[i], err = json.Marshal(EntryOf(r)); err != nil {
			return nil, err
		}
		if len(r.Indicators) > 0 {
			s.Indicators = true
		}
		low := strings.ToLower(r.Name + "\x00" + r.Employer)
		s.lower[i] = low
		seen := map[rune]bool{}
		for _, c := range low {
			if c == 0 || unicode.IsSpace(c) || seen[c] {
				continue
			}
			seen[c] = true
			s.postings[c] = append(s.postings[c], int32(i))
		}
	}
	s.byScore = make([]int32, len(s.Rows))
	for i := range s.byScore {
		s.byScore[i] = int32(i)
	}
	slices.SortStableFunc(s.byScore, func(a, b int32) int { return cmp.Compare(s.Rows[b].Total, s.Rows[a].Total) })
	s.scorePos = make([]int32, len(s.Rows))
	for p, i := range s.byScore {
		s.scorePos[i] = int32(p)
	}
	return s, nil
}

// Sort orders of a search.
const (
	SortNumber = "number" // 公示编号 ascending
	SortScore  = "score"  // total descending, then 公示编号
)

// Query is a search of a list.
type Query struct {
	Q    string // an exact 公示编号, or part of a name or an employer; "" for all
	Sort string // SortNumber (default) or SortScore
	Desc bool   // reverse the order
	Page int    // from 1
}

// Result is one page of a search.
type Result struct {
	Query
	Total int
	Pages int
	Rows  []proof.Row
}

// ListPageSize is the number of rows a page of a list shows.
const ListPageSize = 50

// CheckSearch validates a query: the search string as CheckQuery does, the
// sort order, and a page from 1.
func CheckSearch(q Query) (Query, error) {
	var err error
	if q.Q, err = CheckQuery(q.Q); err != nil {
		return q, err
	}
	switch q.Sort {
	case "":
		q.Sort = SortNumber
	case SortNumber, SortScore:
	default:
		return q, apperr.Field("sort", "排序方式只能是 number（公示编号）或 score（积分）")
	}
	if q.Page < 1 {
		return q, apperr.Field("page", "页码必须是大于 0 的整数")
	}
	return q, nil
}

// Search returns a page of the rows matching q: the whole list, the row of
// an exact 公示编号, or the rows whose name or employer contains the text
// (letters compared without case). It reads memory only.
func (s *Snapshot) Search(q Query) (*Result, error) {
	q, err := CheckSearch(q)
	if err != nil {
		return nil, err
	}
	var hits []int32 // nil: every row
	switch {
	case q.Q == "":
	case isNumber(q.Q):
		hits = []int32{}
		if i, ok := s.byNumber[q.Q]; ok {
			hits = append(hits, i)
		}
	default:
		hits = s.match(strings.ToLower(q.Q))
	}
	res := &Result{Query: q}
	n := len(s.Rows)
	if hits != nil {
		n = len(hits)
	}
	res.Total = n
	res.Pages = (n + ListPageSize - 1) / ListPageSize
	if q.Page > res.Pages {
		return res, nil
	}
	at := func(k int) int32 { // the k-th row of the ordered result
		if q.Desc {
			k = n - 1 - k
		}
		switch {
		case hits == nil && q.Sort == SortScore:
			return s.byScore[k]
		case hits == nil:
			return int32(k)
		}
		return hits[k]
	}
	if hits != nil && q.Sort == SortScore {
		hits = slices.Clone(hits)
		slices.SortFunc(hits, func(a, b int32) int { return int(s.scorePos[a]) - int(s.scorePos[b]) })
	}
	lo := (q.Page - 1) * ListPageSize
	for k := lo; k < min(lo+ListPageSize, n); k++ {
		res.Rows = append(res.Rows, s.Rows[at(k)])
	}
	return res, nil
}

// match returns, in list order, the rows whose name or employer contains
// text: the candidates are the rows holding its rarest character, each then
// checked whole.
func (s *Snapshot) match(text string) []int32 {
	var best []int32
	first := true
	for _, c := range text {
		if unicode.IsSpace(c) {
			continue
		}
		p := s.postings[c]
		if first || len(p) < len(best) {
			best, first = p, false
		}
		if len(best) == 0 {
			return []int32{}
		}
	}
	out := []int32{}
	for _, i := range best {
		name, emp, _ := strings.Cut(s.lower[i], "\x00")
		if strings.Contains(name, text) || strings.Contains(emp, text) {
			out = append(out, i)
		}
	}
	return out
}

func isNumber(q string) bool {
	if len(q) != 9 {
		return false
	}
	for i := 0; i < len(q); i++ {
		if q[i] < '0' || q[i] > '9' {
			return false
		}
	}
	return true
}

// Version is what the public page lists of every version of a year's list.
type Version struct {
	Version     int       `json:"version"`
	Rows        int       `json:"rows"`
	SM3         string    `json:"sm3"`
	SHA256      string    `json:"sha256"`
	MerkleRoot  string    `json:"merkle_root"`
	NoticeStart string    `json:"notice_start"`
	NoticeEnd   string    `json:"notice_end"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	Reason      string    `json:"reason,omitempty"`
}

// VersionOf describes s for the versions list.
func VersionOf(s *Snapshot) Version {
	return Version{Version: s.Version, Rows: len(s.Rows), SM3: s.Sealed.SM3, SHA256: s.Sealed.SHA256, MerkleRoot: s.Sealed.Root,
		NoticeStart: s.NoticeStart, NoticeEnd: s.NoticeEnd, PublishedAt: s.PublishedAt, Reason: s.Reason}
}

// Board holds every list in memory.
type Board struct {
	db    *db.DB
	clock clock.Clock

	mu    sync.Mutex // one reload at a time
	state atomic.Pointer[boardState]
}

type boardState struct {
	years map[int][]*Snapshot // versions, oldest first
	// key names what the state was built from, to skip a reload that
	// would build the same.
	key string
}

// NewBoard returns an empty board; Reload fills it.
func NewBoard(d *db.DB, c clock.Clock) *Board {
	b := &Board{db: d, clock: c}
	b.state.Store(&boardState{years: map[int][]*Snapshot{}})
	return b
}

// Versions returns every version of year's list that has begun its notice
// period (every version of an imported list), oldest first.
func (b *Board) Versions(year int) []*Snapshot {
	now := b.clock.Now()
	var out []*Snapshot
	for _, s := range b.state.Load().years[year] {
		if s.PhaseAt(now) != Upcoming {
			out = append(out, s)
		}
	}
	return out
}

// Current returns the newest version of year's list the public may see.
func (b *Board) Current(year int) (*Snapshot, bool) {
	vs := b.Versions(year)
	if len(vs) == 0 {
		return nil, false
	}
	return vs[len(vs)-1], true
}

// Version returns version v of year's list, if the public may see it.
func (b *Board) Version(year, v int) (*Snapshot, bool) {
	for _, s := range b.Versions(year) {
		if s.Version == v {
			return s, true
		}
	}
	return nil, false
}

// Years returns the current list of every year the public may see, newest
// year first.
func (b *Board) Years() []*Snapshot {
	var out []*Snapshot
	for y := range b.state.Load().years {
		if s, ok := b.Current(y); ok {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Snapshot) int { return b.Year - a.Year })
	return out
}

// Notice returns the notice period of year's current published list (the
// objection form's window); ok is false for a year with no list published
// by this system.
func (b *Board) Notice(year int) (start, end time.Time, ok bool) {
	s, found := b.Current(year)
	if !found || !s.Published {
		return time.Time{}, time.Time{}, false
	}
	return s.StartsAt, s.EndsAt, true
}

// Has reports whether number is a row of year's current list.
func (b *Board) Has(year int, number string) bool {
	s, ok := b.Current(year)
	if !ok {
		return false
	}
	_, found := s.byNumber[number]
	return found
}

// Reload rebuilds the board from the database: the versions of every
// published list and the imported past lists. A list that has not changed
// is kept as it is; on an error the board keeps what it had.
func (b *Board) Reload(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var pubs, pubMax, imported int
	var importedSum string
	if err := b.db.QueryRow(ctx, `SELECT count(*), COALESCE(MAX(id), 0) FROM publications`).Scan(&pubs, &pubMax); err != nil {
		return apperr.Wrap(fmt.Errorf("board: %w", err))
	}
	if err := b.db.QueryRow(ctx, `SELECT count(*), COALESCE(MAX(file_sm3), '') FROM publicity_rounds`).Scan(&imported, &importedSum); err != nil {
		return apperr.Wrap(fmt.Errorf("board: %w", err))
	}
	key := fmt.Sprintf("%d/%d/%d/%s", pubs, pubMax, imported, importedSum)
	old := b.state.Load()
	if old.key == key {
		return nil
	}
	next := &boardState{years: map[int][]*Snapshot{}, key: key}
	have := map[string]*Snapshot{}
	for _, vs := range old.years {
		for _, s := range vs {
			have[fmt.Sprintf("%d/%d/%s", s.Year, s.Version, s.Sealed.SM3)] = s
		}
	}
	if err := b.loadPublished(ctx, next, have); err != nil {
		return err
	}
	if err := b.loadImported(ctx, next, have); err != nil {
		return err
	}
	b.state.Store(next)
	return nil
}

// beijingDay is the start of day d (YYYY-MM-DD) in Beijing.
func beijingDay(d string) (time.Time, error) {
	return time.ParseInLocation("2006-01-02", d, clock.Beijing)
}

func (b *Board) loadPublished(ctx context.Context, next *boardState, have map[string]*Snapshot) error {
	rows, err := b.db.Query(ctx, `SELECT year, version, sm3, canonical, reason, published_at FROM publications ORDER BY year, version`)
	if err != nil {
		return apperr.Wrap(fmt.Errorf("board: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var year, version int
		var sum, canon, reason string
		var at int64
		if err := rows.Scan(&year, &version, &sum, &canon, &reason, &at); err != nil {
			return apperr.Wrap(err)
		}
		s := have[fmt.Sprintf("%d/%d/%s", year, version, sum)]
		if s == nil || !s.Published {
			l, err := proof.Parse([]byte(canon))
			if err != nil {
				return apperr.Wrap(fmt.Errorf("board: publication %d v%d: %w", year, version, err))
			}
			if s, err = newSnapshot(l); err != nil {
				return apperr.Wrap(fmt.Errorf("board: publication %d v%d: %w", year, version, err))
			}
			if s.Sealed.SM3 != sum {
				return apperr.Wrap(fmt.Errorf("board: publication %d v%d: stored SM3 %s, file hashes to %s", year, version, sum, s.Sealed.SM3))
			}
			s.Published, s.Reason, s.PublishedAt = true, reason, db.FromMicros(at)
			if s.StartsAt, err = beijingDay(s.NoticeStart); err != nil {
				return apperr.Wrap(err)
			}
			end, err := beijingDay(s.NoticeEnd)
			if err != nil {
				return apperr.Wrap(err)
			}
			s.EndsAt = end.AddDate(0, 0, 1) // the end date is the last day of the notice
		}
		next.years[year] = append(next.years[year], s)
	}
	return rows.Err()
}

func (b *Board) loadImported(ctx context.Context, next *boardState, have map[string]*Snapshot) error {
	rounds, err := NewHistory(b.db, nil, b.clock).Rounds(ctx)
	if err != nil {
		return err
	}
	for _, r := range rounds {
		if _, published := next.years[r.Year]; published {
			continue // a year this system published shows its own list
		}
		l := &proof.List{Year: r.Year, Version: 1, Quota: r.Quota, Cutoff: r.Cutoff, Qualified: r.Qualified}
		if err := b.importedRows(ctx, r.Year, l); err != nil {
			return err
		}
		sealed, err := l.Seal()
		if err != nil {
			return apperr.Wrap(fmt.Errorf("board: imported %d: %w", r.Year, err))
		}
		s := have[fmt.Sprintf("%d/%d/%s", r.Year, 1, sealed.SM3)]
		if s == nil || s.Published {
			if s, err = newSnapshot(l); err != nil {
				return apperr.Wrap(fmt.Errorf("board: imported %d: %w", r.Year, err))
			}
			s.PublishedAt = r.ImportedAt
		}
		next.years[r.Year] = []*Snapshot{s}
	}
	return nil
}

func (b *Board) importedRows(ctx context.Context, year int, l *proof.List) error {
	rows, err := b.db.Query(ctx, `SELECT number, name, born, employer, total, employment, housing, education, study_deduction,
		work_residence_area, innovation, tax, age, honors, law_record FROM publicity_entries WHERE year = $1 ORDER BY seq`, year)
	if err != nil {
		return apperr.Wrap(fmt.Errorf("board: imported %d: %w", year, err))
	}
	defer rows.Close()
	for rows.Next() {
		var r proof.Row
		var born string
		var total int64
		var v [10]*int64
		if err := rows.Scan(&r.Number, &r.Name, &born, &r.Employer, &total, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			&v[7], &v[8], &v[9]); err != nil {
			return apperr.Wrap(err)
		}
		r.Total = rules.Points(total)
		if r.BirthYM, err = yearMonth(born); err != nil {
			return apperr.Wrap(fmt.Errorf("board: imported %d %s: %w", year, r.Number, err))
		}
		if v[0] != nil {
			r.Indicators = make([]rules.Points, len(v))
			for i, p := range v {
				if p != nil {
					r.Indicators[i] = rules.Points(*p)
				}
			}
		}
		l.Rows = append(l.Rows, r)
	}
	return rows.Err()
}

// yearMonth turns "YYYY-MM" into YYYYMM.
func yearMonth(s string) (int, error) {
	if len(s) != 7 || s[4] != '-' || !utf8.ValidString(s) {
		return 0, fmt.Errorf("birth month %q is not YYYY-MM", s)
	}
	y, err1 := strconv.Atoi(s[:4])
	m, err2 := strconv.Atoi(s[5:])
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("birth month %q is not YYYY-MM", s)
	}
	return y*100 + m, nil
}

// RowJSON is row r of Rows as the API writes it (an Entry).
func (s *Snapshot) RowJSON(number string) []byte {
	i, ok := s.byNumber[number]
	if !ok {
		return nil
	}
	return s.json[i]
}

// EntryOf is a published row as the API and the past-list search show it.
func EntryOf(r proof.Row) Entry {
	return Entry{Number: r.Number, Name: r.Name, Born: BornText(r.BirthYM), Employer: r.Employer, Total: r.Total, Values: r.Indicators}
}

// BornText writes a birth month YYYYMM as YYYY-MM.
func BornText(ym int) string { return fmt.Sprintf("%04d-%02d", ym/100, ym%100) }
