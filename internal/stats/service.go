package stats

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
)

// Service answers queries.
type Service struct {
	Cube  *Cube
	db    *db.DB
	audit *audit.Log
	clock clock.Clock
	// results keeps recent answers for the snapshot generation they were
	// computed on: officers ask the same few questions, and an answer
	// stays true until the data changes (a scan of 350,000 rows with a
	// percentile costs ~100 ms of a core; a repeated one nothing).
	results resultCache
}

// New returns the statistics over d.
func New(d *db.DB, a *audit.Log, c clock.Clock) *Service {
	return &Service{Cube: NewCube(d, c.Now), db: d, audit: a, clock: c}
}

// scopeOf is the district by is limited to ("" for the city), or a
// Forbidden error for anyone who may not read statistics: the officers who
// may open cases, and the server's console (jifen stats), which reads the
// whole database anyway.
func scopeOf(by actor.Actor) (string, error) {
	switch {
	case by.Can(actor.PermCasesCity) || slices.Contains(by.Roles, actor.Console):
		return "", nil
	case by.Can(actor.PermCasesDistrict) && by.District != "":
		return by.District, nil
	}
	return "", apperr.New(apperr.Forbidden, "您没有查看申报统计的权限")
}

// Dimensions lists every dimension with its values (the employer
// dimension's values are left out: there are too many to list).
func (s *Service) Dimensions() []DimInfo {
	out := make([]DimInfo, 0, len(dimensions))
	s.Cube.mu.RLock()
	snap := s.Cube.snap
	s.Cube.mu.RUnlock()
	if snap == nil {
		snap = &snapshot{roundLevels: []Level{{"", "未知"}}}
	}
	for _, d := range dimensions {
		di := DimInfo{Name: d.name, Label: d.label}
		if !d.big {
			s.Cube.mu.RLock()
			di.Values = slices.Clone(d.levels(snap))
			s.Cube.mu.RUnlock()
		}
		out = append(out, di)
	}
	return out
}

// MeasureNames lists the measures a query may ask for, "count" first.
func MeasureNames() []MeasureInfo {
	out := []MeasureInfo{{Name: "count", Label: "人数", Unit: "人"}}
	for _, agg := range []string{"sum", "mean", "min", "max", "p50", "p90"} {
		for _, f := range fields {
			m, _ := parseMeasure(agg + ":" + f)
			out = append(out, m.info)
		}
	}
	return out
}

// measure is a parsed measure.
type measure struct {
	info  MeasureInfo
	agg   string // count | sum | mean | min | max | p
	pct   int    // for p
	field int    // index in fields
}

var aggNames = map[string]string{"sum": "合计", "mean": "平均值", "min": "最低", "max": "最高"}

func parseMeasure(name string) (measure, bool) {
	if name == "count" {
		return measure{info: MeasureInfo{Name: "count", Label: "人数", Unit: "人"}, agg: "count"}, true
	}
	agg, field, ok := strings.Cut(name, ":")
	if !ok {
		return measure{}, false
	}
	fi := slices.Index(fields, field)
	if fi < 0 {
		return measure{}, false
	}
	m := measure{agg: agg, field: fi, info: MeasureInfo{Name: name, Unit: "分"}}
	if label, ok := aggNames[agg]; ok {
		m.info.Label = fieldNames[field] + label
		return m, true
	}
	if len(agg) >= 2 && agg[0] == 'p' {
		p, err := strconv.Atoi(agg[1:])
		if err != nil || p < 1 || p > 99 || agg[1] == '0' {
			return measure{}, false
		}
		m.agg, m.pct = "p", p
		m.info.Label = fmt.Sprintf("%s第%d百分位数", fieldNames[field], p)
		return m, true
	}
	return measure{}, false
}

// plan is a query checked against the dimensions and measures.
type plan struct {
	dims     []*dimension
	measures []measure
	filters  map[*dimension]map[int]bool
	scope    string
	below    int // suppress cells counted below this (RunOut)
}

// check turns q into a plan for by, with Chinese field errors naming what
// is wrong; a district officer's plan is limited to their district.
func (s *Service) check(q Query, snap *snapshot, by actor.Actor) (*plan, error) {
	scope, err := scopeOf(by)
	if err != nil {
		return nil, err
	}
	p := &plan{filters: map[*dimension]map[int]bool{}, scope: scope}
	var fe []apperr.FieldError
	if len(q.Dims) > MaxDims {
		fe = append(fe, apperr.FieldError{Field: "dims", Message: fmt.Sprintf("一次最多按%d个维度分组，您选了%d个，请减少维度", MaxDims, len(q.Dims))})
	}
	for _, name := range q.Dims {
		d := dimByName(name)
		switch {
		case d == nil:
			fe = append(fe, apperr.FieldError{Field: "dims", Message: fmt.Sprintf("没有名为“%s”的统计维度", name)})
		case slices.Contains(p.dims, d):
			fe = append(fe, apperr.FieldError{Field: "dims", Message: fmt.Sprintf("维度“%s”选了两次", d.label)})
		default:
			p.dims = append(p.dims, d)
		}
	}
	ms := q.Measures
	if len(ms) == 0 {
		ms = []string{"count"}
	}
	if len(ms) > 12 {
		fe = append(fe, apperr.FieldError{Field: "measures", Message: "一次最多计算12项指标"})
	}
	for _, name := range ms {
		m, ok := parseMeasure(name)
		if !ok {
			fe = append(fe, apperr.FieldError{Field: "measures", Message: fmt.Sprintf("没有名为“%s”的统计指标（可用：count、sum/mean/min/max/p50等:total或各指标代码）", name)})
			continue
		}
		p.measures = append(p.measures, m)
	}
	keys := make([]string, 0, len(q.Filters))
	for k := range q.Filters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, name := range keys {
		codes := q.Filters[name]
		d := dimByName(name)
		if d == nil {
			fe = append(fe, apperr.FieldError{Field: "f." + name, Message: fmt.Sprintf("不能按“%s”筛选：没有这个维度", name)})
			continue
		}
		if len(codes) == 0 {
			continue
		}
		set := map[int]bool{}
		for _, c := range codes {
			i := levelOf(d, snap, c)
			if i < 0 {
				fe = append(fe, apperr.FieldError{Field: "f." + name, Message: fmt.Sprintf("“%s”不是维度“%s”的取值", c, d.label)})
				continue
			}
			set[i] = true
		}
		p.filters[d] = set
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}
	if scope != "" {
		d := dimByName("district")
		want := indexOf(districtLevels, scope)
		if f, ok := p.filters[d]; ok && !f[want] {
			// Asking for other districts only: nothing the officer may see.
			p.filters[d] = map[int]bool{-1: true}
		} else {
			p.filters[d] = map[int]bool{want: true}
		}
	}
	return p, nil
}

// levelOf is the level of code in d, -1 when d has no such value.
func levelOf(d *dimension, snap *snapshot, code string) int {
	if d.name == employerDimName {
		id, err := strconv.ParseInt(code, 10, 64)
		if err != nil {
			return -1
		}
		if i, ok := snap.empByID[id]; ok {
			return int(i)
		}
		return -1
	}
	for i, l := range d.levels(snap) {
		if l.Code == code {
			return i
		}
	}
	return -1
}

// keep reports whether r passes every filter of p.
func (p *plan) keep(snap *snapshot, r *row) bool {
	for d, set := range p.filters {
		if !set[d.level(snap, r)] {
			return false
		}
	}
	return true
}

// acc accumulates one cell.
type acc struct {
	levels [MaxDims]int
	count  int
	sum    []int64
	min    []int32
	max    []int32
	vals   [][]int32 // per field, for percentiles
}

// Run answers q for by: a district officer's query is limited to their
// district; an unknown dimension or measure, or more than MaxDims, is a
// field error in Chinese.
func (s *Service) Run(ctx context.Context, by actor.Actor, q Query) (*Result, error) {
	return s.answer(ctx, by, q, 0)
}

// answer is Run and RunOut: the result of q for by, suppressed below
// `below`, from the cache when the snapshot has not changed since it was
// computed. The result is shared: callers must not change it.
func (s *Service) answer(ctx context.Context, by actor.Actor, q Query, below int) (*Result, error) {
	var res *Result
	err := s.Cube.read(ctx, func(snap *snapshot) error {
		p, err := s.check(q, snap, by)
		if err != nil {
			return err
		}
		key := cacheKey(snap.gen, p.scope, below, q)
		if res = s.results.get(key); res != nil {
			return nil
		}
		p.below = below
		res = p.run(snap)
		res.Query = q
		s.results.put(key, res)
		return nil
	})
	if err != nil {
		return nil, wrap(err)
	}
	return res, nil
}

func (p *plan) run(snap *snapshot) *Result {
	nf := len(fields)
	needP := make([]bool, nf)
	for _, m := range p.measures {
		if m.agg == "p" {
			needP[m.field] = true
		}
	}
	newAcc := func() *acc {
		a := &acc{sum: make([]int64, nf), min: make([]int32, nf), max: make([]int32, nf), vals: make([][]int32, nf)}
		for i := range a.min {
			a.min[i], a.max[i] = math.MaxInt32, math.MinInt32
		}
		return a
	}
	add := func(a *acc, r *row) {
		a.count++
		for f := range nf {
			v := r.value(f)
			a.sum[f] += int64(v)
			a.min[f] = min(a.min[f], v)
			a.max[f] = max(a.max[f], v)
			if needP[f] {
				a.vals[f] = append(a.vals[f], v)
			}
		}
	}
	cells := map[uint64]*acc{}
	total := newAcc()
	for i := range snap.rows {
		r := &snap.rows[i]
		if !p.keep(snap, r) {
			continue
		}
		add(total, r)
		var key uint64
		var lv [MaxDims]int
		for j, d := range p.dims {
			lv[j] = d.level(snap, r)
			key |= uint64(lv[j]) << (21 * j)
		}
		a := cells[key]
		if a == nil {
			a = newAcc()
			a.levels = lv
			cells[key] = a
		}
		add(a, r)
	}
	if p.below > 1 {
		// The adjusted total: over the applications of the cells shown.
		total = newAcc()
		for i := range snap.rows {
			r := &snap.rows[i]
			if !p.keep(snap, r) {
				continue
			}
			var key uint64
			for j, d := range p.dims {
				key |= uint64(d.level(snap, r)) << (21 * j)
			}
			if !hidden(cells[key].count, p.below) {
				add(total, r)
			}
		}
	}
	res := &Result{AsOf: snap.asOf, Scope: p.scope}
	if p.below > 1 {
		res.Suppressed = p.below
	}
	lists := make([][]Level, len(p.dims))
	for j, d := range p.dims {
		lists[j] = d.levels(snap)
		info := DimInfo{Name: d.name, Label: d.label}
		res.Dims = append(res.Dims, info)
	}
	for _, m := range p.measures {
		res.Measures = append(res.Measures, m.info)
	}
	keys := make([]uint64, 0, len(cells))
	for k := range cells {
		keys = append(keys, k)
	}
	// Level order within each dimension, the first dimension first.
	slices.SortFunc(keys, func(a, b uint64) int {
		for j := range p.dims {
			la, lb := cells[a].levels[j], cells[b].levels[j]
			if la != lb {
				if p.dims[j].big { // employers: by name
					if c := strings.Compare(lists[j][la].Label, lists[j][lb].Label); c != 0 {
						return c
					}
				}
				return la - lb
			}
		}
		return 0
	})
	for _, k := range keys {
		a := cells[k]
		r := Row{Count: a.count}
		for j := range p.dims {
			l := lists[j][a.levels[j]]
			r.Keys, r.Labels = append(r.Keys, l.Code), append(r.Labels, l.Label)
		}
		r.Values = p.values(a)
		if hidden(a.count, p.below) {
			hide(&r)
		}
		res.Rows = append(res.Rows, r)
	}
	res.Total = Row{Count: total.count, Values: p.values(total), Keys: []string{}, Labels: []string{}}
	return res
}

func (p *plan) values(a *acc) []Value {
	out := make([]Value, len(p.measures))
	for i, m := range p.measures {
		if m.agg == "count" {
			out[i] = Value{N: float64(a.count)}
			continue
		}
		if a.count == 0 {
			out[i] = Value{Null: true}
			continue
		}
		f := m.field
		var v float64
		switch m.agg {
		case "sum":
			v = float64(a.sum[f])
		case "mean":
			v = math.Round(float64(a.sum[f]) / float64(a.count)) // to the hundredth of a point
		case "min":
			v = float64(a.min[f])
		case "max":
			v = float64(a.max[f])
		case "p":
			v = float64(percentile(a.vals[f], m.pct))
		}
		out[i] = Value{N: v / hundredth}
	}
	return out
}

// percentile is the nearest-rank p-th percentile: the smallest value with
// at least p% of the values at or below it. It sorts vs.
func percentile(vs []int32, p int) int32 {
	slices.Sort(vs)
	k := (p*len(vs) + 99) / 100 // ceil(p/100 × n)
	return vs[max(k, 1)-1]
}

// ParseQuery reads a query from a form or URL query: dims=a,b (or dims
// repeated), measures=count,mean:total, and a filter per dimension as
// f.<dim>=code (repeated for several codes). Names are checked by Run.
func ParseQuery(v url.Values) (Query, error) {
	var q Query
	split := func(vals []string) []string {
		var out []string
		for _, s := range vals {
			for _, p := range strings.Split(s, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	q.Dims = split(v["dims"])
	q.Measures = split(v["measures"])
	for k, vals := range v {
		name, ok := strings.CutPrefix(k, "f.")
		if !ok {
			continue
		}
		for _, c := range vals {
			if c == "*" { // the form's "all" choice
				continue
			}
			if q.Filters == nil {
				q.Filters = map[string][]string{}
			}
			q.Filters[name] = append(q.Filters[name], c)
		}
	}
	if len(q.Dims) > 10 || len(q.Measures) > 50 || len(q.Filters) > 40 {
		return q, apperr.Field("dims", "查询条件过多")
	}
	return q, nil
}

// Values is q as ParseQuery reads it (for links and saved queries).
func (q Query) Values() url.Values {
	v := url.Values{}
	if len(q.Dims) > 0 {
		v.Set("dims", strings.Join(q.Dims, ","))
	}
	if len(q.Measures) > 0 {
		v.Set("measures", strings.Join(q.Measures, ","))
	}
	for k, codes := range q.Filters {
		for _, c := range codes {
			v.Add("f."+k, c)
		}
	}
	return v
}

// wrap passes the package's own Chinese errors through and hides any other
// (a database failure) behind the internal error.
func wrap(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return apperr.Wrap(err)
}
