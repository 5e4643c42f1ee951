package casework

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// The statuses of the work queues: from the first result on.
var queueStatuses = []application.Status{application.FirstResult, application.ReviewRequested, application.Final,
	application.Published}

// openStatuses are the statuses still being worked: the queue's default.
var openStatuses = []string{string(application.FirstResult), string(application.ReviewRequested)}

func queueStatus(st string) bool {
	for _, q := range queueStatuses {
		if string(q) == st {
			return true
		}
	}
	return false
}

// QueueStatuses lists the statuses the queue filters by.
func QueueStatuses() []application.Status { return queueStatuses }

// Filter selects a page of the queue. The zero Filter is the open cases
// of the round, most urgent first.
type Filter struct {
	RoundID int64
	// Status is one of QueueStatuses, "" for the open cases (first result
	// and 复查) or "all".
	Status string
	// Indicator is an indicator of a live discrepancy or of the 复查
	// request (rules indicator code).
	Indicator string
	// Outcome is the cross-check outcome: "match" (no live discrepancy),
	// "mismatch" or "not_found" (a live discrepancy of that outcome).
	Outcome string
	// Discrepancy is "yes" or "no": whether a live discrepancy exists.
	Discrepancy string
	EmployerID  int64
	District    string // the city's choice; a district officer's own district always applies
	// Assignee is an officer's user id, -1 for the unassigned, 0 for any.
	Assignee int64
	Overdue  bool
	// Q searches by ID number (the blind index), 公示编号 (with
	// PublicNumbers), applicant's or employer's name (part of it).
	Q     string
	After string // the cursor of the page before ("due.id")
	Limit int
	// CountsOnly asks for the counts alone (the office home's to-do
	// figures): no rows are read. A filter on the assignee over a district
	// of 100,000 open cases otherwise reads the whole queue in deadline
	// order to find the officer's few.
	CountsOnly bool
}

// Row is one case of the queue.
type Row struct {
	ID           int64            `json:"id"`
	PersonName   string           `json:"person_name"`
	EmployerID   int64            `json:"employer_id"`
	EmployerName string           `json:"employer_name"`
	District     string           `json:"district"`
	Status       string           `json:"status"`
	StatusName   string           `json:"status_name"`
	Step         application.Step `json:"step"`
	StepName     string           `json:"step_name"`
	Holder       string           `json:"holder"`
	Score        int64            `json:"score"`
	StartedAt    time.Time        `json:"started_at"`
	DueAt        *time.Time       `json:"due_at"` // null: no limit
	Overdue      bool             `json:"overdue"`
	AssigneeID   int64            `json:"assignee_id"`
	AssigneeName string           `json:"assignee_name"`
}

// Page is one page of the queue with the counts of the filter.
type Page struct {
	Rows []Row `json:"items"`
	// Next is the cursor of the next page, "" on the last.
	Next string `json:"next"`
	// Counts is the number of cases per status under every filter but the
	// status; Overdue the open cases past their deadline.
	Counts  map[string]int `json:"counts"`
	Open    int            `json:"open"`
	Total   int            `json:"total"`
	Overdue int            `json:"overdue"`
	// CountsAt is when the counts were made (they are kept for a few
	// seconds, WithCountsTTL).
	CountsAt time.Time `json:"counts_at"`
}

var (
	cursorRE = regexp.MustCompile(`^(-?\d{1,19})\.(\d{1,19})$`)
	numberRE = regexp.MustCompile(`^\d{4}\d{5}$`) // 公示编号: year + 5-digit sequence
)

// Queue returns a page of the caller's work queue: a district officer's
// district, or every district (or the one chosen) for the city bureau. It
// costs two statements: the page, read in deadline order from an index,
// and the counts per status (plus one to find a 公示编号).
func (s *Service) Queue(ctx context.Context, c actor.Actor, f Filter) (_ *Page, err error) {
	d, err := scope(c)
	if err != nil {
		return nil, err
	}
	if d != "" {
		f.District = d
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	var fe []apperr.FieldError
	if f.Status != "" && f.Status != "all" && !queueStatus(f.Status) {
		fe = append(fe, apperr.FieldError{Field: "status", Message: "未知的状态：" + f.Status})
	}
	switch f.Outcome {
	case "", "match", "mismatch", "not_found":
	default:
		fe = append(fe, apperr.FieldError{Field: "outcome", Message: "比对结果应为 match、mismatch 或 not_found"})
	}
	switch f.Discrepancy {
	case "", "yes", "no":
	default:
		fe = append(fe, apperr.FieldError{Field: "discrepancy", Message: "是否有差异应为 yes 或 no"})
	}
	var afterDue, afterID int64
	if f.After != "" {
		m := cursorRE.FindStringSubmatch(f.After)
		if m == nil {
			fe = append(fe, apperr.FieldError{Field: "after", Message: "翻页参数无效，请从第一页重新查看"})
		} else {
			afterDue, _ = strconv.ParseInt(m[1], 10, 64)
			afterID, _ = strconv.ParseInt(m[2], 10, 64)
		}
	}
	f.Q = strings.TrimSpace(f.Q)
	if len([]rune(f.Q)) > 50 {
		fe = append(fe, apperr.FieldError{Field: "q", Message: "搜索内容不超过50字"})
	}
	if f.Indicator != "" && !slices.Contains(rules.CheckItems(), f.Indicator) {
		fe = append(fe, apperr.FieldError{Field: "indicator", Message: "未知的指标：" + f.Indicator})
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}

	now := db.Micros(s.clock.Now())
	// The search decides its condition once (a 公示编号 is looked up).
	var search func(w *db.Where)
	if f.Q != "" {
		if idx, ok := s.idIndex(f.Q); ok {
			search = func(w *db.Where) { w.And("a.person_id IN (SELECT p2.id FROM persons p2 WHERE p2.id_idx = ?)", idx) }
		} else if numberRE.MatchString(f.Q) && s.numbers != nil {
			id, found, err := s.numbers.ApplicationOf(ctx, f.RoundID, f.Q)
			if err != nil {
				return nil, err
			}
			if !found {
				id = 0
			}
			search = func(w *db.Where) { w.And("a.id = ?", id) }
		} else {
			like := "%" + escapeLike(f.Q) + "%"
			search = func(w *db.Where) {
				w.And(`(a.person_id IN (SELECT p2.id FROM persons p2 WHERE p2.name LIKE ? ESCAPE '\')`+
					` OR a.employer_id IN (SELECT e2.id FROM employers e2 WHERE e2.name LIKE ? ESCAPE '\'))`, like, like)
			}
		}
	}
	// base makes every condition but the status (the counts group by it);
	// the page and the counts each build their own.
	base := func() *db.Where {
		w := &db.Where{}
		w.And("a.round_id = ?", f.RoundID)
		if f.District != "" {
			w.And("a.district = ?", f.District)
		}
		if f.EmployerID != 0 {
			w.And("a.employer_id = ?", f.EmployerID)
		}
		if f.Overdue {
			w.And("a.step_due_at > 0 AND a.step_due_at < ?", now)
		}
		const live = `SELECT 1 FROM discrepancies x WHERE x.application_id = a.id AND x.status <> 'cleared'`
		switch {
		case f.Outcome == "match" || f.Discrepancy == "no":
			w.And("NOT EXISTS (" + live + ")")
		case f.Outcome != "":
			w.And("EXISTS ("+live+" AND x.outcome = ?)", f.Outcome)
		case f.Discrepancy == "yes":
			w.And("EXISTS (" + live + ")")
		}
		if f.Outcome == "match" && f.Discrepancy == "yes" {
			w.And("1 = 0")
		}
		if f.Indicator != "" {
			w.And("(EXISTS ("+live+" AND x.item = ?) OR EXISTS (SELECT 1 FROM review_requests y WHERE y.application_id = a.id"+
				" AND (',' || y.indicators || ',') LIKE ?))", f.Indicator, "%,"+f.Indicator+",%")
		}
		switch {
		case f.Assignee == -1:
			w.And("NOT EXISTS (SELECT 1 FROM case_assignments z WHERE z.application_id = a.id)")
		case f.Assignee > 0:
			w.And("EXISTS (SELECT 1 FROM case_assignments z WHERE z.application_id = a.id AND z.officer_id = ?)", f.Assignee)
		}
		if search != nil {
			search(w)
		}
		return w
	}

	// The page: the same conditions, the status, the cursor.
	page := base()
	page.And("a.status IN (" + statusList(page, f.Status) + ")")
	if f.Status == "" || f.Status == string(application.FirstResult) || f.Status == string(application.ReviewRequested) {
		// Every open step has a limit, so its cases have a deadline: the
		// index range starts past the cases without one (final), which
		// would otherwise be read and dropped first.
		page.And("a.step_due_at > 0")
	}
	if f.After != "" {
		page.And("(a.step_due_at, a.id) > (?, ?)", afterDue, afterID)
	}
	// The page's rows are chosen from applications alone (in index order,
	// LIMIT), then joined: the joins cost a page, never the whole queue.
	q := `SELECT a.id, p.name, a.employer_id, e.name, a.district, a.status, COALESCE(rr.status, ''), a.score, a.step_started_at,
		a.step_due_at, COALESCE(ca.officer_id, 0), COALESCE(u.display_name, '')
		FROM (SELECT a.id, a.person_id, a.employer_id, a.district, a.status, a.score, a.step_started_at, a.step_due_at
		FROM applications a` + page.SQL() + ` ORDER BY a.step_due_at, a.id LIMIT ` + page.Arg(f.Limit+1) + `) a
		JOIN persons p ON p.id = a.person_id JOIN employers e ON e.id = a.employer_id
		LEFT JOIN review_requests rr ON rr.application_id = a.id
		LEFT JOIN case_assignments ca ON ca.application_id = a.id LEFT JOIN users u ON u.id = ca.officer_id
		ORDER BY a.step_due_at, a.id`
	out := &Page{Counts: map[string]int{}}
	if !f.CountsOnly {
		if err := s.pageRows(ctx, q, page.Args(), now, f.Limit, out); err != nil {
			return nil, err
		}
	}

	// The counts: one statement, per status and overdue among the open,
	// kept for countsTTL per scope and filter (the rows are always live).
	key := countsKey(f)
	if c, ok := s.cachedCounts(key); ok {
		out.Counts, out.Open, out.Total, out.Overdue, out.CountsAt = c.Counts, c.Open, c.Total, c.Overdue, c.CountsAt
		return out, nil
	}
	out.CountsAt = s.clock.Now()
	defer func() {
		if err == nil {
			s.keepCounts(key, out)
		}
	}()
	counts := base()
	counts.And("a.status IN (" + statusList(counts, "all") + ")")
	cq := `SELECT a.status, count(*), COALESCE(SUM(CASE WHEN a.step_due_at > 0 AND a.step_due_at < ` + counts.Arg(now) +
		` AND a.status IN ('first_result', 'review_requested') THEN 1 ELSE 0 END), 0) FROM applications a` + counts.SQL() +
		` GROUP BY a.status`
	crows, err := s.db.Query(ctx, cq, counts.Args()...)
	if err != nil {
		return nil, err
	}
	err = eachRow(crows, func(sc scanner) error {
		var st string
		var n, od int
		if err := sc.Scan(&st, &n, &od); err != nil {
			return err
		}
		out.Counts[st] = n
		out.Total += n
		out.Overdue += od
		if st == string(application.FirstResult) || st == string(application.ReviewRequested) {
			out.Open += n
		}
		return nil
	})
	return out, err
}

// statusList adds the statuses of a filter to w and returns their
// placeholders.
func statusList(w *db.Where, status string) string {
	var list []string
	switch status {
	case "":
		list = openStatuses
	case "all":
		for _, st := range queueStatuses {
			list = append(list, string(st))
		}
	default:
		list = []string{status}
	}
	ph := make([]string, len(list))
	for i, st := range list {
		ph[i] = w.Arg(st)
	}
	return strings.Join(ph, ", ")
}

// escapeLike makes a search text match itself in LIKE (with ESCAPE '\').
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

type scanner interface{ Scan(...any) error }

type rowsIter interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}

// eachRow calls scan for every row and closes rows.
func eachRow(rows rowsIter, scan func(scanner) error) error {
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// countsKey is the filter the counts depend on: everything but the status
// and the page.
func countsKey(f Filter) string {
	return strings.Join([]string{itoa(f.RoundID), f.Indicator, f.Outcome, f.Discrepancy, itoa(f.EmployerID), f.District,
		itoa(f.Assignee), strconv.FormatBool(f.Overdue), f.Q}, "\x00")
}

// WithCountsTTL keeps the counts of a filter for ttl: counting a whole
// round's cases (350,000) takes longer than a page, and the tabs need not
// be exact to the second. 0 (the default) counts on every page.
func (s *Service) WithCountsTTL(ttl time.Duration) *Service {
	s.countsTTL = ttl
	return s
}

type countsEntry struct {
	Page
	until time.Time
}

func (s *Service) cachedCounts(key string) (countsEntry, bool) {
	if s.countsTTL <= 0 {
		return countsEntry{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.countsCache[key]
	if !ok || !s.clock.Now().Before(c.until) {
		return countsEntry{}, false
	}
	return c, true
}

// keepCounts remembers a page's counts; the cache holds at most 512
// filters and is emptied when full (filters are few: districts × tabs).
func (s *Service) keepCounts(key string, p *Page) {
	if s.countsTTL <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.countsCache == nil || len(s.countsCache) >= 512 {
		s.countsCache = map[string]countsEntry{}
	}
	s.countsCache[key] = countsEntry{Page: Page{Counts: p.Counts, Open: p.Open, Total: p.Total, Overdue: p.Overdue,
		CountsAt: p.CountsAt}, until: p.CountsAt.Add(s.countsTTL)}
}

// forgetCounts drops the kept counts after an assignment changed (the
// assignee filter counts them).
func (s *Service) forgetCounts() {
	s.mu.Lock()
	s.countsCache = nil
	s.mu.Unlock()
}

// pageRows reads a page of the queue (q, its args) into out: at most limit
// rows, and the cursor of the next page when there are more.
func (s *Service) pageRows(ctx context.Context, q string, args []any, now int64, limit int, out *Page) error {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	err = eachRow(rows, func(sc scanner) error {
		var r Row
		var review string
		var started, due int64
		if err := sc.Scan(&r.ID, &r.PersonName, &r.EmployerID, &r.EmployerName, &r.District, &r.Status, &review, &r.Score, &started,
			&due, &r.AssigneeID, &r.AssigneeName); err != nil {
			return err
		}
		r.StatusName = application.StatusName(application.Status(r.Status))
		r.Step = application.StepOf(application.Status(r.Status), review)
		r.StepName, r.Holder = application.StepName(r.Step), application.Holder(r.Step)
		if started != 0 {
			r.StartedAt = db.FromMicros(started)
		}
		if due != 0 {
			t := db.FromMicros(due)
			r.DueAt, r.Overdue = &t, due < now
		}
		out.Rows = append(out.Rows, r)
		return nil
	})
	if err != nil {
		return err
	}
	if len(out.Rows) > limit {
		out.Rows = out.Rows[:limit]
		last := out.Rows[limit-1]
		var due int64
		if last.DueAt != nil {
			due = db.Micros(*last.DueAt)
		}
		out.Next = strconv.FormatInt(due, 10) + "." + strconv.FormatInt(last.ID, 10)
	}
	return nil
}
