package reports

import (
	"context"
	"slices"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
	"jifen/internal/stats"
)

var (
	yearParam = Param{Name: "year", Label: "年度", Kind: KindYear, Hint: "不填为最新年度"}
	fromParam = Param{Name: "from", Label: "开始日期", Kind: KindDate}
	toParam   = Param{Name: "to", Label: "结束日期", Kind: KindDate}
)

// districtDim lists the districts in the rulebook's order, then any other
// value met (an application without a district yet).
func districtDim(seen map[string]bool) stats.DimInfo {
	d := stats.DimInfo{Name: "district", Label: "区"}
	for _, name := range rules.Districts() {
		d.Values = append(d.Values, stats.Level{Code: name, Label: name})
		delete(seen, name)
	}
	var rest []string
	for k := range seen {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	for _, k := range rest {
		d.Values = append(d.Values, stats.Level{Code: k, Label: districtLabel(k)})
	}
	return d
}

// districtOrder is the position of each district in districtDim.
func districtOrder(d stats.DimInfo) map[string]int {
	o := map[string]int{}
	for i, l := range d.Values {
		o[l.Code] = i
	}
	return o
}

func (r *Registry) progress() Report {
	return Report{Code: "progress", Title: "每日申报进度（按区）",
		Description: "所选年度批次中，每个区每天（北京时间）提交给单位、单位报送和单位退回的申请件数。人数为当天有任一动作的申请数。",
		Params:      []Param{yearParam, fromParam, toParam}, Chart: "line", Permission: actor.PermCasesDistrict,
		Run: r.runProgress}
}

// The statuses whose entry counts in the progress report: the applicant's
// submission to the employer, the employer's filing and its return.
var progressMoves = []struct{ to, name, label string }{
	{"with_employer", "submitted", "提交单位"},
	{"submitted", "filed", "单位报送"},
	{"returned", "returned", "单位退回"},
}

func (r *Registry) runProgress(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) {
	s, err := scope(by)
	if err != nil {
		return nil, err
	}
	ri, err := r.round(ctx, p)
	if err != nil {
		return nil, err
	}
	from, to, err := r.dateRange(p, 30)
	if err != nil {
		return nil, err
	}
	// The application's district is the employer's; it is on the row from
	// the first status change on.
	rows, err := r.d.DB.Query(ctx, `SELECT e.application_id, e.at, e.to_status, a.district
		FROM application_events e JOIN applications a ON a.id = e.application_id
		WHERE a.round_id = $1 AND e.at >= $2 AND e.at < $3 AND e.to_status IN ('with_employer', 'submitted', 'returned')`,
		ri.ID, db.Micros(from), db.Micros(to))
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	type key struct{ district, day string }
	type cell struct {
		n    [3]int
		apps map[int64]bool
	}
	cells := map[key]*cell{}
	all := map[int64]bool{}
	seen := map[string]bool{}
	for rows.Next() {
		var id, at int64
		var st, d string
		if err := rows.Scan(&id, &at, &st, &d); err != nil {
			rows.Close()
			return nil, apperr.Wrap(err)
		}
		if !inScope(s, d) {
			continue
		}
		k := key{d, dayOf(at)}
		c := cells[k]
		if c == nil {
			c = &cell{apps: map[int64]bool{}}
			cells[k] = c
		}
		for i, mv := range progressMoves {
			if mv.to == st {
				c.n[i]++
			}
		}
		c.apps[id], all[id], seen[d] = true, true, true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	dd := districtDim(seen)
	order := districtOrder(dd)
	dayDim := stats.DimInfo{Name: "day", Label: "日期"}
	for _, d := range days(from, to) {
		dayDim.Values = append(dayDim.Values, stats.Level{Code: d, Label: d})
	}
	var out []stats.Row
	for k, c := range cells {
		out = append(out, stats.Row{Keys: []string{k.district, k.day}, Labels: []string{districtLabel(k.district), k.day},
			Count: len(c.apps), Values: ints(c.n[0], c.n[1], c.n[2])})
	}
	slices.SortFunc(out, func(a, b stats.Row) int {
		if c := order[a.Keys[0]] - order[b.Keys[0]]; c != 0 {
			return c
		}
		return compareStrings(a.Keys[1], b.Keys[1])
	})
	ms := make([]stats.MeasureInfo, len(progressMoves))
	for i, mv := range progressMoves {
		ms[i] = m(mv.name, mv.label, "件")
	}
	return r.result(s, []stats.DimInfo{dd, dayDim}, ms, out, sumRows(out, len(ms), len(all))), nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
