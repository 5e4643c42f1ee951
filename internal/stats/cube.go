package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"jifen/internal/agency"
	"jifen/internal/check"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// maxAgencies bounds the agencies a row keeps an outcome of.
const maxAgencies = 12

// row is one application as the cube keeps it: every dimension's level and
// every field's points (hundredths), about 100 bytes.
type row struct {
	id, person int64
	mark       uint64 // fingerprint of the columns a refresh compares (rowMark)
	employer   int32  // index into snapshot.emps
	round      uint8  // index into snapshot.roundLevels
	district   uint8
	status     uint8
	sex, age   uint8
	edu        uint8
	housing    uint8
	qualified  uint8
	checks     [maxAgencies]uint8
	total      int32
	ind        [10]int32
}

// emp is an employer as the cube keeps it.
type emp struct {
	id, updated    int64
	name, district string
	industry, size uint8
}

// snapshot is the cube's data. Queries read it under the cube's read lock;
// a refresh changes it under the write lock.
type snapshot struct {
	rows        []row
	byID        map[int64]int32 // application id → index in rows
	emps        []emp
	empByID     map[int64]int32
	roundLevels []Level
	roundByID   map[int64]roundInfo
	// qualified is application id → level (yes/no) of every application in a
	// round's current committed ranking.
	qualified map[int64]uint8
	// gen changes whenever the snapshot's data does (a load, a refresh that
	// found changes): a query's result stays true while it stays the same.
	gen uint64
	// since is where the next refresh starts reading (updated_at, app
	// clock): the start of the last refresh less overlap.
	since       int64
	rankingMark string
	asOf        time.Time
}

type roundInfo struct {
	level uint8
	year  int
	book  *rules.Rulebook
}

func (s *snapshot) employerLevels() []Level {
	out := make([]Level, len(s.emps))
	for i, e := range s.emps {
		out[i] = Level{Code: strconv.FormatInt(e.id, 10), Label: e.name}
	}
	return out
}

// Cube loads and refreshes the snapshot.
type Cube struct {
	db  *db.DB
	now func() time.Time
	// MaxAge is how old the data may be when a query starts: older, and
	// the query first reads what changed (a few milliseconds when little
	// did).
	MaxAge time.Duration
	// FullEvery is how often the whole snapshot is read again, catching
	// what the incremental refresh cannot see (a transaction that
	// committed out of order by more than overlap).
	FullEvery time.Duration

	mu       sync.RWMutex
	snap     *snapshot
	loadedAt time.Time // of the last full load
	refresh  sync.Mutex
	gens     atomic.Uint64 // the last generation given to a snapshot
}

// overlap is how far before its last start a refresh reads again: a
// transaction stamps its rows with the time it wrote them but commits
// later; one that committed within overlap of stamping is still seen. (A
// full load every FullEvery catches a longer one.) Rows read again are
// compared by a fingerprint of cheap columns first: only the changed ones
// are read whole and scored.
const overlap = int64(2 * time.Minute / time.Microsecond)

// rowMark is the fingerprint of an application's cheap columns: any write
// moves updated_at, and the others catch two writes stamped alike (a
// frozen test clock).
func rowMark(updated, version int64, status string, score, scoreRun int64) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		for range 8 {
			h ^= v & 0xff
			h *= 1099511628211
			v >>= 8
		}
	}
	mix(uint64(updated))
	mix(uint64(version))
	mix(uint64(score))
	mix(uint64(scoreRun))
	for i := range len(status) {
		h ^= uint64(status[i])
		h *= 1099511628211
	}
	return h
}

// NewCube returns a cube over d; the first query loads it.
func NewCube(d *db.DB, now func() time.Time) *Cube {
	return &Cube{db: d, now: now, MaxAge: 5 * time.Second, FullEvery: 10 * time.Minute}
}

// read runs f on a fresh enough snapshot under the read lock.
func (c *Cube) read(ctx context.Context, f func(*snapshot) error) error {
	if err := c.Refresh(ctx, false); err != nil {
		return err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return f(c.snap)
}

// Refresh brings the snapshot up to date: a full load when there is none,
// when force is set or FullEvery has passed, else the rows changed since
// the last refresh; nothing when the data is younger than MaxAge.
func (c *Cube) Refresh(ctx context.Context, force bool) error {
	c.refresh.Lock()
	defer c.refresh.Unlock()
	now := c.now()
	c.mu.RLock()
	s := c.snap
	c.mu.RUnlock()
	if s != nil && !force && now.Sub(s.asOf) < c.MaxAge {
		return nil
	}
	if s == nil || force || now.Sub(c.loadedAt) >= c.FullEvery {
		ns, err := c.load(ctx, now)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.snap, c.loadedAt = ns, now
		c.mu.Unlock()
		return nil
	}
	return c.delta(ctx, s, now)
}

// AsOf is when the snapshot was last brought up to date (zero before the
// first load).
func (c *Cube) AsOf() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.snap == nil {
		return time.Time{}
	}
	return c.snap.asOf
}

// appSelect reads an application with what its levels need: the
// verified facts of its current result when it has one, else its
// declaration.
const appSelect = `SELECT a.id, a.person_id, a.round_id, a.employer_id, a.status, a.district, a.updated_at, a.version,
	a.score_run, a.score, a.estimate, a.declaration, COALESCE(s.verified, ''), COALESCE(s.outcomes, ''),
	p.sex, p.birth_date
	FROM applications a JOIN persons p ON p.id = a.person_id
	LEFT JOIN check_scores s ON s.run_id = a.score_run AND s.application_id = a.id`

const empSelect = `SELECT id, name, district, industry, size, updated_at FROM employers`

func (c *Cube) load(ctx context.Context, now time.Time) (*snapshot, error) {
	s := &snapshot{byID: map[int64]int32{}, empByID: map[int64]int32{}, asOf: now, gen: c.gens.Add(1)}
	var err error
	if s.roundByID, s.roundLevels, err = c.readRounds(ctx); err != nil {
		return nil, err
	}
	if s.rankingMark, err = c.rankingMark(ctx); err != nil {
		return nil, err
	}
	if s.qualified, err = c.readQualified(ctx); err != nil {
		return nil, err
	}
	s.since = db.Micros(now) - overlap
	emps, err := c.readEmployers(ctx, empSelect, nil)
	if err != nil {
		return nil, err
	}
	apps, err := c.readApps(ctx, s.roundByID, appSelect, nil)
	if err != nil {
		return nil, err
	}
	s.rows = make([]row, 0, len(apps))
	s.apply(emps, apps)
	return s, nil
}

// delta reads what changed since s was read and applies it in place. A new
// round, or an application of an employer not yet read, loads everything
// again.
func (c *Cube) delta(ctx context.Context, s *snapshot, now time.Time) error {
	rounds, _, err := c.readRounds(ctx)
	if err != nil {
		return err
	}
	mark, err := c.rankingMark(ctx)
	if err != nil {
		return err
	}
	var qual map[int64]uint8
	if mark != s.rankingMark {
		if qual, err = c.readQualified(ctx); err != nil {
			return err
		}
	}
	// The rounds and since of s change only under c.refresh, held here;
	// the rows' marks are read under the read lock.
	since := s.since
	emps, err := c.changedEmployers(ctx, s, since)
	if err != nil {
		return err
	}
	apps, err := c.changedApps(ctx, s, since)
	if err != nil {
		return err
	}
	full := len(rounds) != len(s.roundByID)
	if !full {
		c.mu.Lock()
		if qual != nil {
			s.qualified, s.rankingMark = qual, mark
			for i := range s.rows {
				s.rows[i].qualified = qual[s.rows[i].id]
			}
		}
		full = !s.apply(emps, apps)
		if qual != nil || len(emps) > 0 || len(apps) > 0 {
			s.gen = c.gens.Add(1)
		}
		s.since = db.Micros(now) - overlap
		s.asOf = now
		c.mu.Unlock()
	}
	if full {
		ns, err := c.load(ctx, now)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.snap, c.loadedAt = ns, now
		c.mu.Unlock()
	}
	return nil
}

// apply puts employers and then applications into s (new ones appended,
// known ones replaced). It reports false when an application names an
// employer s does not hold.
func (s *snapshot) apply(emps []emp, apps []appRec) bool {
	for _, e := range emps {
		if i, ok := s.empByID[e.id]; ok {
			s.emps[i] = e
		} else {
			s.empByID[e.id] = int32(len(s.emps))
			s.emps = append(s.emps, e)
		}
	}
	ok := true
	for _, a := range apps {
		ei, found := s.empByID[a.employerID]
		if !found {
			ok = false
			continue
		}
		a.row.employer = ei
		a.row.qualified = s.qualified[a.row.id]
		if a.row.district == 0 {
			a.row.district = uint8(indexOf(districtLevels, s.emps[ei].district))
		}
		if i, known := s.byID[a.row.id]; known {
			s.rows[i] = a.row
		} else {
			s.byID[a.row.id] = int32(len(s.rows))
			s.rows = append(s.rows, a.row)
		}
	}
	return ok
}

func (c *Cube) readRounds(ctx context.Context) (map[int64]roundInfo, []Level, error) {
	rows, err := c.db.Query(ctx, `SELECT id, year, rulebook FROM rounds ORDER BY year`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	byID := map[int64]roundInfo{}
	levels := []Level{{"", "未知"}}
	for rows.Next() {
		var id int64
		var year int
		var name string
		if err := rows.Scan(&id, &year, &name); err != nil {
			return nil, nil, err
		}
		book, err := rules.Book(name)
		if err != nil {
			if book, err = rules.ForYear(year); err != nil {
				book = rules.Latest()
			}
		}
		if len(levels) > 255 {
			return nil, nil, fmt.Errorf("stats: more than 255 rounds")
		}
		byID[id] = roundInfo{level: uint8(len(levels)), year: year, book: book}
		levels = append(levels, Level{strconv.Itoa(year), strconv.Itoa(year) + "年度"})
	}
	return byID, levels, rows.Err()
}

// rankingMark changes whenever a ranking is committed or superseded.
func (c *Cube) rankingMark(ctx context.Context) (string, error) {
	var committed, superseded int64
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM rankings WHERE status = 'committed'`).Scan(&committed); err != nil {
		return "", err
	}
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM ranking_supersessions`).Scan(&superseded); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d", committed, superseded), nil
}

// readQualified reads the entries of every round's current committed
// ranking (committed and not superseded).
func (c *Cube) readQualified(ctx context.Context) (map[int64]uint8, error) {
	rows, err := c.db.Query(ctx, `SELECT e.application_id, e.qualified FROM ranking_entries e
		JOIN rankings r ON r.id = e.ranking_id
		WHERE r.status = 'committed' AND NOT EXISTS (SELECT 1 FROM ranking_supersessions x WHERE x.ranking_id = r.id)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]uint8{}
	yes, no := uint8(indexOf(qualifiedLv, "yes")), uint8(indexOf(qualifiedLv, "no"))
	for rows.Next() {
		var id int64
		var q bool
		if err := rows.Scan(&id, &q); err != nil {
			return nil, err
		}
		out[id] = no
		if q {
			out[id] = yes
		}
	}
	return out, rows.Err()
}

func (c *Cube) readEmployers(ctx context.Context, q string, args []any) ([]emp, error) {
	rows, err := c.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []emp
	for rows.Next() {
		var e emp
		var ind, size string
		if err := rows.Scan(&e.id, &e.name, &e.district, &ind, &size, &e.updated); err != nil {
			return nil, err
		}
		e.industry, e.size = uint8(indexOf(industryLevels, ind)), uint8(indexOf(sizeLevels, size))
		out = append(out, e)
	}
	return out, rows.Err()
}

// changedEmployers reads the employers written since `since` that s does
// not hold as they are now.
func (c *Cube) changedEmployers(ctx context.Context, s *snapshot, since int64) ([]emp, error) {
	probe, err := c.probe(ctx, `SELECT id, updated_at, 0, '', 0, 0 FROM employers WHERE updated_at >= $1`, since)
	if err != nil {
		return nil, err
	}
	var ids []int64
	c.mu.RLock()
	for id, p := range probe {
		if i, ok := s.empByID[id]; !ok || s.emps[i].updated != p.updated {
			ids = append(ids, id)
		}
	}
	c.mu.RUnlock()
	var out []emp
	for chunk := range slices.Chunk(ids, 1000) {
		es, err := c.readEmployers(ctx, empSelect+` WHERE id IN (SELECT id FROM `+c.db.JSONIDs("$1")+` x)`, []any{idList(chunk)})
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// changedApps reads whole the applications written since `since` whose
// fingerprint differs from the row s holds.
func (c *Cube) changedApps(ctx context.Context, s *snapshot, since int64) ([]appRec, error) {
	probe, err := c.probe(ctx, `SELECT id, updated_at, version, status, score, score_run FROM applications WHERE updated_at >= $1`, since)
	if err != nil {
		return nil, err
	}
	var ids []int64
	c.mu.RLock()
	for id, p := range probe {
		if i, ok := s.byID[id]; !ok || s.rows[i].mark != p.mark {
			ids = append(ids, id)
		}
	}
	c.mu.RUnlock()
	slices.Sort(ids)
	var out []appRec
	for chunk := range slices.Chunk(ids, 1000) {
		as, err := c.readApps(ctx, s.roundByID, appSelect+` WHERE a.id IN (SELECT id FROM `+c.db.JSONIDs("$1")+` x)`, []any{idList(chunk)})
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	return out, nil
}

type probed struct {
	updated int64
	mark    uint64
}

// probe reads id, updated_at and the fingerprint columns of q.
func (c *Cube) probe(ctx context.Context, q string, since int64) (map[int64]probed, error) {
	rows, err := c.db.Query(ctx, q, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]probed{}
	for rows.Next() {
		var id, upd, version, score, run int64
		var status string
		if err := rows.Scan(&id, &upd, &version, &status, &score, &run); err != nil {
			return nil, err
		}
		out[id] = probed{updated: upd, mark: rowMark(upd, version, status, score, run)}
	}
	return out, rows.Err()
}

// appRec is an application read, before its employer is resolved.
type appRec struct {
	row        row
	employerID int64
}

// readApps reads applications and computes their levels and points.
// Scoring (rules.Score of the facts) is the costly part: about 350,000
// rows take a few seconds, which is why only the changed rows are read
// again between full loads.
func (c *Cube) readApps(ctx context.Context, rounds map[int64]roundInfo, q string, args []any) ([]appRec, error) {
	rows, err := c.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []appRec
	agencies := agency.PersonAgencies()
	for rows.Next() {
		var a appRec
		var roundID, updated, version, scoreRun, score, estimate int64
		var status, district, decl, verified, outcomes, sex, birth string
		if err := rows.Scan(&a.row.id, &a.row.person, &roundID, &a.employerID, &status, &district, &updated, &version,
			&scoreRun, &score, &estimate, &decl, &verified, &outcomes, &sex, &birth); err != nil {
			return nil, err
		}
		a.row.mark = rowMark(updated, version, status, score, scoreRun)
		ri, ok := rounds[roundID]
		if !ok {
			continue // a round created after the rounds were read: the next refresh
		}
		r := &a.row
		r.round = ri.level
		r.status = uint8(indexOf(statusLevels, status))
		r.district = uint8(indexOf(districtLevels, district))
		r.sex = uint8(indexOf(sexes, sex))
		r.age = ageBand(birth, ri.book.StatisticsDate(ri.year))
		src := decl
		if verified != "" {
			src = verified
		}
		var req rules.CalculatorRequest
		if json.Unmarshal([]byte(src), &req) == nil {
			r.edu = uint8(indexOf(eduTiers, req.Education.Level))
			r.housing = uint8(housingKind(req.Housing))
			if facts, fe := req.Facts(); len(fe) == 0 {
				res := ri.book.Score(facts)
				for i, in := range res.Indicators {
					if i < len(r.ind) {
						r.ind[i] = int32(in.Points)
					}
				}
			}
		}
		r.total = int32(estimate)
		if scoreRun != 0 {
			r.total = int32(score)
		}
		if outcomes != "" {
			var oc []check.Outcome
			if json.Unmarshal([]byte(outcomes), &oc) == nil {
				setChecks(r, agencies, oc)
			}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// outcomeRank orders the outcomes from best to worst: an agency's outcome
// for an applicant is the worst of its items'.
var outcomeRank = map[string]uint8{check.Match: 1, check.Unavailable: 2, check.NotFound: 3, check.Mismatch: 4}

func setChecks(r *row, agencies []string, oc []check.Outcome) {
	for _, o := range oc {
		lv := outcomeRank[o.Outcome]
		for _, code := range agency.ItemAgencies(o.Item) {
			if i := slices.Index(agencies, code); i >= 0 && i < maxAgencies && lv > r.checks[i] {
				r.checks[i] = lv
			}
		}
	}
}

// ageBand is the band of the age on the statistics date of a birth date
// "YYYY-MM-DD".
func ageBand(birth string, on time.Time) uint8 {
	b, err := time.Parse("2006-01-02", birth)
	if err != nil {
		return 0
	}
	age := on.Year() - b.Year()
	if on.Month() < b.Month() || (on.Month() == b.Month() && on.Day() < b.Day()) {
		age--
	}
	switch {
	case age < 30:
		return 1
	case age < 35:
		return 2
	case age < 40:
		return 3
	case age < 45:
		return 4
	}
	return 5
}

// housingKind is the kind of the home lived in last (the latest end, an
// open end being the latest).
func housingKind(hs []rules.HousingInput) int {
	best, kind := "", "none"
	for _, h := range hs {
		end := h.To
		if end == "" {
			end = "9999-99"
		}
		if end >= best {
			best, kind = end, h.Kind
		}
	}
	return indexOf(housingKinds, kind)
}
