package reports

import (
	"context"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/stats"
)

func (r *Registry) summary() Report {
	return Report{Code: "summary", Title: "年度批次概况",
		Description: "一个年度批次的全貌：申请人数、用人单位数、各状态的申请数、已出初核结果数、比对差异、复查、虚假材料库记录、排名是否已确认、达线人数和是否已公示。区人力社保局看到的是本区的数字；排名和公示是全市的。",
		Params:      []Param{yearParam}, Permission: actor.PermCasesDistrict, Run: r.runSummary}
}

// count runs a count(*) query.
func (r *Registry) count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	if err := r.d.DB.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, apperr.Wrap(err)
	}
	return n, nil
}

func (r *Registry) runSummary(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) {
	s, err := scope(by)
	if err != nil {
		return nil, err
	}
	ri, err := r.round(ctx, p)
	if err != nil {
		return nil, err
	}
	// Every count takes the district as a parameter: '' (the city) keeps
	// every row, so there is one statement per figure and no SQL built
	// from values.
	type line struct {
		code, label, q string
		args           []any
		flag           bool // a yes/no of the round, not a count of cases
	}
	lines := []line{
		{code: "applicants", label: "申请人数", q: `SELECT count(*) FROM applications WHERE round_id = $1 AND ($2 = '' OR district = $2)`},
		{code: "employers", label: "涉及用人单位数", q: `SELECT count(DISTINCT employer_id) FROM applications WHERE round_id = $1 AND ($2 = '' OR district = $2)`},
	}
	for _, st := range application.Statuses {
		lines = append(lines, line{code: "status_" + string(st), label: "状态：" + application.StatusName(st),
			q: `SELECT count(*) FROM applications WHERE round_id = $1 AND ($2 = '' OR district = $2) AND status = $3`, args: []any{string(st)}})
	}
	lines = append(lines,
		line{code: "scored", label: "已出初核结果", q: `SELECT count(*) FROM applications WHERE round_id = $1 AND ($2 = '' OR district = $2) AND scored_at > 0`},
		line{code: "discrepancies_open", label: "比对差异：未处理", q: `SELECT count(*) FROM discrepancies d JOIN applications a ON a.id = d.application_id
			WHERE a.round_id = $1 AND ($2 = '' OR d.district = $2) AND d.status NOT IN ('accepted', 'overridden', 'cleared')`},
		line{code: "discrepancies_decided", label: "比对差异：已处理", q: `SELECT count(*) FROM discrepancies d JOIN applications a ON a.id = d.application_id
			WHERE a.round_id = $1 AND ($2 = '' OR d.district = $2) AND d.status IN ('accepted', 'overridden', 'cleared')`},
		line{code: "reviews", label: "复查案件", q: `SELECT count(*) FROM review_cases rc JOIN applications a ON a.id = rc.application_id
			WHERE a.round_id = $1 AND ($2 = '' OR a.district = $2)`},
		line{code: "fraud", label: "虚假材料库生效记录（禁止本年度申报）", q: `SELECT count(*) FROM fraud_entries
			WHERE status = 'in_force' AND ban_from_year <= $1 AND ban_to_year >= $1 AND ($2 = '' OR district = $2)`},
		line{code: "ranking_committed", label: "排名已确认（1 是，0 否）", flag: true, q: `SELECT count(*) FROM rankings k
			WHERE k.round_id = $1 AND k.status = 'committed' AND k.id NOT IN (SELECT ranking_id FROM ranking_supersessions) AND ($2 = '' OR $2 <> '')`},
		line{code: "qualified", label: "达线人数", q: `SELECT count(*) FROM ranking_entries e JOIN rankings k ON k.id = e.ranking_id
			JOIN applications a ON a.id = e.application_id
			WHERE k.round_id = $1 AND k.status = 'committed' AND k.id NOT IN (SELECT ranking_id FROM ranking_supersessions)
			AND e.qualified AND ($2 = '' OR a.district = $2)`},
		line{code: "published", label: "已公示（1 是，0 否）", flag: true, q: `SELECT count(*) FROM publications WHERE round_id = $1 AND ($2 = '' OR $2 <> '')`},
	)
	dim := stats.DimInfo{Name: "item", Label: "项目"}
	var out []stats.Row
	applicants := 0
	for i, l := range lines {
		first := any(ri.ID)
		if l.code == "fraud" {
			first = ri.Year
		}
		n, err := r.count(ctx, l.q, append([]any{first, s}, l.args...)...)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			applicants = n
		}
		count := n
		if l.flag {
			n = min(n, 1)
			// A flag counts nobody; it is as safe to show as the round's
			// total, which suppression uses to judge it.
			count = applicants
		}
		dim.Values = append(dim.Values, stats.Level{Code: l.code, Label: l.label})
		out = append(out, stats.Row{Keys: []string{l.code}, Labels: []string{l.label}, Count: count, Values: ints(n)})
	}
	total := stats.Row{Count: applicants, Values: ints(applicants)}
	return r.result(s, []stats.DimInfo{dim}, []stats.MeasureInfo{m("value", "数值", "")}, out, total), nil
}
