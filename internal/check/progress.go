package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"time"

	"jifen/internal/agency"
	"jifen/internal/discrepancy"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// AgencyProgress is how far one agency is in a run, in applications.
type AgencyProgress struct {
	Agency    string
	Name      string
	Total     int64
	Done      int64
	Pending   int64
	Waiting   int64 // waiting for the agency to come back (breaker open, or busy)
	Failed    int64 // waiting after a failed attempt
	LastError string
}

// DistrictProgress is how far the applications of one district are.
type DistrictProgress struct {
	District string
	Total    int64
	Checked  int64 // scored
	Pending  int64
	Waiting  int64 // in a batch that waits for an agency to come back
	Failed   int64 // in a batch that waits for an agency that failed
}

// Progress is a run's progress.
type Progress struct {
	Run       *Run
	Checked   int64
	Pending   int64
	Waiting   int64
	Failed    int64
	Agencies  []AgencyProgress
	Districts []DistrictProgress
}

// runShape is what never changes in a run: each batch's size and districts.
type runShape struct {
	sizes     map[int]int64
	districts map[int]map[string]int64
}

// shape returns a run's batches, read once per process.
func (e *Engine) shape(ctx context.Context, runID int64) (*runShape, error) {
	e.shapesMu.Lock()
	sh, ok := e.shapes[runID]
	e.shapesMu.Unlock()
	if ok {
		return sh, nil
	}
	rows, err := e.db.Query(ctx, `SELECT batch_no, size, districts FROM check_batches WHERE run_id = $1`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	sh = &runShape{sizes: map[int]int64{}, districts: map[int]map[string]int64{}}
	for rows.Next() {
		var no int
		var size int64
		var dj string
		if err := rows.Scan(&no, &size, &dj); err != nil {
			return nil, err
		}
		var ds map[string]int64
		if err := json.Unmarshal([]byte(dj), &ds); err != nil {
			return nil, err
		}
		sh.sizes[no], sh.districts[no] = size, ds
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	e.shapesMu.Lock()
	e.shapes[runID] = sh
	e.shapesMu.Unlock()
	return sh, nil
}

// Progress reads a run's progress from the queries still unanswered and the
// batches' scored flags (the batches' sizes and districts are read once),
// never from the applications, so it stays quick during a whole round.
func (e *Engine) Progress(ctx context.Context, runID int64) (*Progress, error) {
	run, err := e.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	sh, err := e.shape(ctx, runID)
	if err != nil {
		return nil, err
	}
	var all int64
	for _, n := range sh.sizes {
		all += n
	}
	p := &Progress{Run: run}
	byAgency := map[string]*AgencyProgress{}
	for _, a := range run.Agencies() {
		byAgency[a] = &AgencyProgress{Agency: a, Name: agency.Name(a), Total: all, Done: all}
	}
	// An agency whose breaker is open (or probing) in any process is down:
	// all its open work waits for it, whether tried already or not.
	down := map[string]bool{}
	err = e.each(ctx, `SELECT agency FROM agency_connectors WHERE breaker <> 'closed'`, nil, func(rows *sql.Rows) error {
		var ag string
		if err := rows.Scan(&ag); err != nil {
			return err
		}
		down[ag] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	failedBatch, waitingBatch := map[int]bool{}, map[int]bool{}
	now := db.Micros(e.clock.Now())
	err = e.each(ctx, `SELECT agency, last_error, wait_reason, wait_until, batch_no FROM check_queries
		WHERE run_id = $1 AND answered_at = 0`, []any{runID}, func(rows *sql.Rows) error {
		var ag, lastErr, waitReason string
		var waitUntil int64
		var no int
		if err := rows.Scan(&ag, &lastErr, &waitReason, &waitUntil, &no); err != nil {
			return err
		}
		a := byAgency[ag]
		if a == nil {
			return nil
		}
		size := sh.sizes[no]
		a.Done -= size
		if lastErr != "" {
			a.LastError = lastErr
		}
		// A query put back for its agency waits until its time comes; after
		// that it is ordinary work in the queue again.
		switch {
		case down[ag] || (waitReason != "" && waitUntil > now):
			a.Waiting += size
			waitingBatch[no] = true
		case waitReason != "":
			a.Pending += size
		case lastErr != "":
			a.Failed += size
			failedBatch[no] = true
		default:
			a.Pending += size
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, a := range run.Agencies() {
		p.Agencies = append(p.Agencies, *byAgency[a])
	}
	scored := map[int]bool{}
	err = e.each(ctx, `SELECT batch_no FROM check_batches WHERE run_id = $1 AND scored`, []any{runID}, func(rows *sql.Rows) error {
		var no int
		if err := rows.Scan(&no); err != nil {
			return err
		}
		scored[no] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	byDistrict := map[string]*DistrictProgress{}
	for no, ds := range sh.districts {
		for name, n := range ds {
			d := byDistrict[name]
			if d == nil {
				d = &DistrictProgress{District: name}
				byDistrict[name] = d
			}
			d.Total += n
			switch {
			case scored[no]:
				d.Checked += n
			case failedBatch[no]:
				d.Failed += n
			case waitingBatch[no]:
				d.Waiting += n
			default:
				d.Pending += n
			}
		}
	}
	for _, d := range byDistrict {
		p.Districts = append(p.Districts, *d)
		p.Checked += d.Checked
		p.Pending += d.Pending
		p.Waiting += d.Waiting
		p.Failed += d.Failed
	}
	sort.SliceStable(p.Districts, func(i, j int) bool {
		return rules.CompareDistricts(p.Districts[i].District, p.Districts[j].District) < 0
	})
	return p, nil
}

// Impact is what applying a previewed run would change.
type Impact struct {
	Scored      int64
	Changed     int64
	Up, Down    int64
	MaxUp       int64 // hundredths of a point
	MaxDown     int64
	Eligibility int64 // applications whose eligibility changes
	Buckets     []ImpactBucket
	Largest     []ImpactRow
}

// ImpactBucket counts changes by size.
type ImpactBucket struct {
	Label string
	N     int64
}

// ImpactRow is one application's change.
type ImpactRow struct {
	ApplicationID int64
	Name          string
	Before, After int64
	Delta         int64
}

// Impact compares a run's scores with the applications' current results.
func (e *Engine) Impact(ctx context.Context, runID int64) (*Impact, error) {
	rows, err := e.db.Query(ctx, `SELECT s.application_id, p.name, a.score, s.total, a.score_eligible, s.eligible, a.score_run
		FROM check_scores s JOIN applications a ON a.id = s.application_id JOIN persons p ON p.id = a.person_id
		WHERE s.run_id = $1`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	im := &Impact{}
	bounds := []struct {
		label string
		max   int64
	}{{"0.01–1分", 100}, {"1–5分", 500}, {"5–10分", 1000}, {"10分以上", 1 << 62}}
	counts := make([]int64, len(bounds))
	for rows.Next() {
		var r ImpactRow
		var was, is bool
		var scoreRun int64
		if err := rows.Scan(&r.ApplicationID, &r.Name, &r.Before, &r.After, &was, &is, &scoreRun); err != nil {
			return nil, err
		}
		im.Scored++
		if scoreRun == runID {
			continue
		}
		if was != is && scoreRun != 0 {
			im.Eligibility++
		}
		r.Delta = r.After - r.Before
		if scoreRun == 0 {
			r.Delta = 0 // no result yet: nothing changes, one appears
		}
		if r.Delta == 0 {
			continue
		}
		im.Changed++
		abs := r.Delta
		if abs > 0 {
			im.Up++
			im.MaxUp = max(im.MaxUp, r.Delta)
		} else {
			abs = -abs
			im.Down++
			im.MaxDown = min(im.MaxDown, r.Delta)
		}
		for i, b := range bounds {
			if abs <= b.max {
				counts[i]++
				break
			}
		}
		im.Largest = append(im.Largest, r)
		if len(im.Largest) > 200 {
			im.Largest = topChanges(im.Largest, 20)
		}
	}
	for i, b := range bounds {
		im.Buckets = append(im.Buckets, ImpactBucket{Label: b.label, N: counts[i]})
	}
	im.Largest = topChanges(im.Largest, 20)
	return im, rows.Err()
}

func topChanges(rs []ImpactRow, n int) []ImpactRow {
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i].Delta, rs[j].Delta
		if a < 0 {
			a = -a
		}
		if b < 0 {
			b = -b
		}
		if a != b {
			return a > b
		}
		return rs[i].ApplicationID < rs[j].ApplicationID
	})
	return rs[:min(n, len(rs))]
}

// Result is an application's current first-round result with its
// outcomes, for the portal and the office.
type Result struct {
	RunID    int64
	Total    int64
	Eligible bool
	Outcomes []Outcome
	Verified string // JSON of the verified request
	ScoredAt int64
}

// ResultOf returns an application's current result (nil when it has none).
func (e *Engine) ResultOf(ctx context.Context, applicationID int64) (*Result, error) {
	var r Result
	var oc string
	err := e.db.QueryRow(ctx, `SELECT a.score_run, a.score, a.score_eligible, s.outcomes, s.verified, a.scored_at
		FROM applications a JOIN check_scores s ON s.run_id = a.score_run AND s.application_id = a.id WHERE a.id = $1`, applicationID).
		Scan(&r.RunID, &r.Total, &r.Eligible, &oc, &r.Verified, &r.ScoredAt)
	if err != nil {
		if db.IsNoRows(err) {
			return nil, nil
		}
		return nil, err
	}
	_ = json.Unmarshal([]byte(oc), &r.Outcomes)
	return &r, nil
}

// Statement is the first-round score statement of an application: the
// verified facts scored (with approved overrides), and each check item's
// outcome.
type Statement struct {
	Total    int64
	Eligible bool
	Result   rules.Result
	Items    []StatementItem
	ScoredAt time.Time
}

// StatementItem is one check item's outcome in Chinese.
type StatementItem struct {
	Item, Name, Outcome, OutcomeName string
	Agencies                         []string
}

// StatementOf returns an application's score statement, nil before its
// first check.
func (e *Engine) StatementOf(ctx context.Context, applicationID int64) (*Statement, error) {
	res, err := e.ResultOf(ctx, applicationID)
	if err != nil || res == nil {
		return nil, err
	}
	var declJSON, book string
	if err := e.db.QueryRow(ctx, `SELECT a.declaration, c.rulebook FROM applications a JOIN check_runs c ON c.id = a.score_run WHERE a.id = $1`,
		applicationID).Scan(&declJSON, &book); err != nil {
		return nil, err
	}
	rb, err := rules.Book(book)
	if err != nil {
		return nil, err
	}
	var decl, verified rules.CalculatorRequest
	if err := json.Unmarshal([]byte(declJSON), &decl); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(res.Verified), &verified); err != nil {
		return nil, err
	}
	ovr, err := e.overrides(ctx, []int64{applicationID})
	if err != nil {
		return nil, err
	}
	st := &Statement{Total: res.Total, Eligible: res.Eligible, ScoredAt: db.FromMicros(res.ScoredAt)}
	st.Result, _ = discrepancy.ScoreVerified(rb, verified, decl, ovr[applicationID])
	for _, o := range res.Outcomes {
		it := StatementItem{Item: o.Item, Name: rules.CheckItemName(o.Item), Outcome: o.Outcome, OutcomeName: OutcomeNames[o.Outcome]}
		if _, ok := ovr[applicationID][o.Item]; ok {
			it.OutcomeName += "（经复核采信申报）"
		}
		for _, a := range agency.ItemAgencies(o.Item) {
			it.Agencies = append(it.Agencies, agency.Name(a))
		}
		st.Items = append(st.Items, it)
	}
	return st, nil
}
