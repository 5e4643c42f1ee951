package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/check"
	"jifen/internal/platform/apperr"
	"jifen/internal/ranking"
	"jifen/internal/rules"
	"jifen/internal/stats"
)

func (r *Registry) crosscheck() Report {
	return Report{Code: "crosscheck", Title: "数据比对结果（按委办局）",
		Description: "所选年度批次中，每个申请当前采用的比对结果里，各委办局核验的比对项目一致、不一致、无记录和暂无法核验的项数。一个项目由两个委办局核验时（如住房、守法记录），两个委办局各计一次。人数为该委办局核验过的申请数。",
		Params:      []Param{yearParam}, Chart: "bar", Permission: actor.PermCasesDistrict, Run: r.runCrosscheck}
}

var outcomeOrder = []string{check.Match, check.Mismatch, check.NotFound, check.Unavailable}

func (r *Registry) runCrosscheck(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) {
	s, err := scope(by)
	if err != nil {
		return nil, err
	}
	ri, err := r.round(ctx, p)
	if err != nil {
		return nil, err
	}
	// The round's current result of each application is the run its score
	// came from (applications.score_run).
	rows, err := r.d.DB.Query(ctx, `SELECT a.id, a.district, cs.outcomes FROM applications a
		JOIN check_scores cs ON cs.run_id = a.score_run AND cs.application_id = a.id WHERE a.round_id = $1 AND a.score_run > 0`, ri.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	ags := agency.PersonAgencies()
	counts := make([][4]int, len(ags))
	apps := make([]map[int64]bool, len(ags))
	for i := range apps {
		apps[i] = map[int64]bool{}
	}
	all := map[int64]bool{}
	index := map[string]int{}
	for i, a := range ags {
		index[a] = i
	}
	for rows.Next() {
		var id int64
		var d, raw string
		if err := rows.Scan(&id, &d, &raw); err != nil {
			rows.Close()
			return nil, apperr.Wrap(err)
		}
		if !inScope(s, d) {
			continue
		}
		var outs []check.Outcome
		if err := json.Unmarshal([]byte(raw), &outs); err != nil {
			rows.Close()
			return nil, apperr.Wrap(fmt.Errorf("application %d: outcomes: %w", id, err))
		}
		all[id] = true
		for _, o := range outs {
			k := -1
			for j, name := range outcomeOrder {
				if name == o.Outcome {
					k = j
				}
			}
			if k < 0 {
				continue
			}
			for _, a := range agency.ItemAgencies(o.Item) {
				if i, ok := index[a]; ok {
					counts[i][k]++
					apps[i][id] = true
				}
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	dim := stats.DimInfo{Name: "agency", Label: "委办局"}
	var out []stats.Row
	for i, a := range ags {
		dim.Values = append(dim.Values, stats.Level{Code: a, Label: agency.Name(a)})
		if len(apps[i]) == 0 {
			continue
		}
		c := counts[i]
		out = append(out, stats.Row{Keys: []string{a}, Labels: []string{agency.Name(a)}, Count: len(apps[i]),
			Values: ints(c[0], c[1], c[2], c[3])})
	}
	ms := make([]stats.MeasureInfo, len(outcomeOrder))
	for i, o := range outcomeOrder {
		ms[i] = m(o, check.OutcomeNames[o], "项")
	}
	return r.result(s, []stats.DimInfo{dim}, ms, out, sumRows(out, len(ms), len(all))), nil
}

func (r *Registry) scores() Report {
	return Report{Code: "scores", Title: "积分分布与分数线测算",
		Description: "所选年度批次中已出初核结果的申请按总积分每5分一档的人数；并按年度名额及上下浮动10%、20%测算分数线和达线人数（按当前积分、符合申报条件的申请，同分者一并达线；区人力社保局看到的是本区的达线人数，分数线为全市的）。",
		Params:      []Param{yearParam}, Chart: "histogram", Permission: actor.PermCasesDistrict, Run: r.runScores}
}

// BinPoints is the width of a score bin of the distribution.
const BinPoints = 5

// quotaSteps are the what-ifs around the round's quota, in percent, the
// quota itself first: a small quota rounds several steps to the same
// number, which is shown once, under the step nearest the quota.
var quotaSteps = []int{0, -10, 10, -20, 20}

// whatIfQuotas are the distinct quotas of the what-ifs with their step,
// in increasing order.
func whatIfQuotas(quota int) [][2]int {
	var out [][2]int
	for _, step := range quotaSteps {
		q := int(math.Round(float64(quota) * float64(100+step) / 100))
		if !slices.ContainsFunc(out, func(x [2]int) bool { return x[0] == q }) {
			out = append(out, [2]int{q, step})
		}
	}
	slices.SortFunc(out, func(a, b [2]int) int { return a[0] - b[0] })
	return out
}

func (r *Registry) runScores(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) {
	s, err := scope(by)
	if err != nil {
		return nil, err
	}
	ri, err := r.round(ctx, p)
	if err != nil {
		return nil, err
	}
	// Scored: from the first result on (the statuses the casework queue
	// knows); the what-if takes the eligible among them, as the ranking
	// would if the round froze now.
	rows, err := r.d.DB.Query(ctx, `SELECT a.id, a.district, a.score, a.score_eligible, p.birth_date
		FROM applications a JOIN persons p ON p.id = a.person_id
		WHERE a.round_id = $1 AND a.scored_at > 0 AND a.status IN ('first_result', 'review_requested', 'final', 'published')`, ri.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	type app struct {
		district string
		score    int64
	}
	var entries []ranking.Entry
	var mine []app
	district := map[int64]string{}
	for rows.Next() {
		var id, score int64
		var d, birth string
		var eligible bool
		if err := rows.Scan(&id, &d, &score, &eligible, &birth); err != nil {
			rows.Close()
			return nil, apperr.Wrap(err)
		}
		if inScope(s, d) {
			mine = append(mine, app{d, score})
		}
		if eligible {
			ym, err := birthYM(birth)
			if err != nil {
				rows.Close()
				return nil, apperr.Wrap(fmt.Errorf("application %d: %w", id, err))
			}
			entries = append(entries, ranking.Entry{ApplicationID: id, Total: rules.Points(score), BirthYM: ym})
			district[id] = d
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	section := stats.DimInfo{Name: "section", Label: "类别", Values: []stats.Level{{Code: "bin", Label: "积分分布"},
		{Code: "quota", Label: "分数线测算"}}}
	item := stats.DimInfo{Name: "item", Label: "分档或名额"}
	ms := []stats.MeasureInfo{m("count", "人数", "人"), m("cutoff", "分数线", "分"), m("qualified", "达线人数", "人")}
	var out []stats.Row
	const width = BinPoints * 100 // hundredths of a point
	if len(mine) > 0 {
		lo, hi := mine[0].score, mine[0].score
		for _, a := range mine {
			lo, hi = min(lo, a.score), max(hi, a.score)
		}
		lo, hi = floorDiv(lo, width)*width, floorDiv(hi, width)*width
		n := make([]int, (hi-lo)/width+1)
		for _, a := range mine {
			n[(floorDiv(a.score, width)*width-lo)/width]++
		}
		for i, c := range n {
			from := lo + int64(i)*width
			code := strconv.FormatInt(from/100, 10)
			label := fmt.Sprintf("%d–%d分", from/100, (from+width)/100)
			item.Values = append(item.Values, stats.Level{Code: code, Label: label})
			out = append(out, stats.Row{Keys: []string{"bin", code}, Labels: []string{"积分分布", label}, Count: c,
				Values: []stats.Value{num(float64(c)), null(), null()}})
		}
	}
	if len(entries) > 0 && ri.Quota > 0 {
		t, err := ranking.Prepare(entries)
		if err != nil {
			return nil, err
		}
		for _, qs := range whatIfQuotas(ri.Quota) {
			q, step := qs[0], qs[1]
			code := strconv.Itoa(q)
			label := fmt.Sprintf("名额 %d", q)
			if step != 0 {
				label = fmt.Sprintf("名额 %d（%+d%%）", q, step)
			}
			item.Values = append(item.Values, stats.Level{Code: code, Label: label})
			row := stats.Row{Keys: []string{"quota", code}, Labels: []string{"分数线测算", label}}
			if q <= 0 || q > t.Len() {
				// Everyone eligible qualifies: there is no line.
				row.Count = countAtLeast(entries, district, s, math.MinInt64)
				row.Values = []stats.Value{num(float64(row.Count)), null(), num(float64(row.Count))}
			} else {
				w, err := t.WhatIf(q)
				if err != nil {
					return nil, err
				}
				row.Count = w.Qualified
				if s != "" {
					row.Count = countAtLeast(entries, district, s, int64(w.Cutoff))
				}
				row.Values = []stats.Value{num(float64(row.Count)), num(float64(w.Cutoff) / 100), num(float64(row.Count))}
			}
			out = append(out, row)
		}
	}
	total := stats.Row{Count: len(mine), Values: []stats.Value{num(float64(len(mine))), null(), null()}}
	return r.result(s, []stats.DimInfo{section, item}, ms, out, total), nil
}

// countAtLeast counts the eligible applications of scope s scoring at
// least cutoff.
func countAtLeast(entries []ranking.Entry, district map[int64]string, s string, cutoff int64) int {
	n := 0
	for _, e := range entries {
		if int64(e.Total) >= cutoff && inScope(s, district[e.ApplicationID]) {
			n++
		}
	}
	return n
}

// floorDiv divides rounding toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// birthYM is a stored birth date (YYYY-MM-DD) as YYYYMM, the ranking's
// tie-break key.
func birthYM(d string) (int, error) {
	if len(d) < 7 || d[4] != '-' {
		return 0, fmt.Errorf("birth date %q is not YYYY-MM-DD", d)
	}
	return strconv.Atoi(d[:4] + d[5:7])
}
