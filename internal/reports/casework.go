package reports

import (
	"context"
	"slices"
	"strconv"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/stats"
)

// DueCalculator is the service clock's deadline of a step begun at start
// (casework.Service.Due: the round's limit in working days).
type DueCalculator interface {
	Due(ctx context.Context, roundID int64, step application.Step, start time.Time) (time.Time, error)
}

func (r *Registry) discrepancies() Report {
	return Report{Code: "discrepancies", Title: "比对差异处理情况（按区和经办人）",
		Description: "所选年度批次的数据比对差异：待处理、已要求补充材料、已处理（认可、更正或复核后一致）的项数，处理平均用时，以及补充材料期限已过仍未处理的项数。已处理的算在处理人名下，未处理的算在案件经办人名下。人数为涉及的申请数。",
		Params:      []Param{yearParam}, Chart: "bar", Permission: actor.PermCasesDistrict, Run: r.runDiscrepancies}
}

// officers reads the names of users (display name, else login).
func (r *Registry) officers(ctx context.Context) (map[int64]string, error) {
	rows, err := r.d.DB.Query(ctx, `SELECT id, login, display_name FROM users WHERE zone = 'office'`)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var login, name string
		if err := rows.Scan(&id, &login, &name); err != nil {
			return nil, apperr.Wrap(err)
		}
		if name == "" {
			name = login
		}
		out[id] = name + "（" + login + "）"
	}
	return out, rows.Err()
}

func officerLabel(names map[int64]string, id int64) string {
	if id == 0 {
		return "未分配"
	}
	if n, ok := names[id]; ok {
		return n
	}
	return "用户 " + strconv.FormatInt(id, 10)
}

const usPerDay = float64(24 * time.Hour / time.Microsecond)

func (r *Registry) runDiscrepancies(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) {
	s, err := scope(by)
	if err != nil {
		return nil, err
	}
	ri, err := r.round(ctx, p)
	if err != nil {
		return nil, err
	}
	names, err := r.officers(ctx)
	if err != nil {
		return nil, err
	}
	now := db.Micros(r.d.Clock.Now())
	rows, err := r.d.DB.Query(ctx, `SELECT d.application_id, d.district, d.status, d.deadline, d.decided_by, d.decided_at, d.created_at,
		COALESCE(ca.officer_id, 0)
		FROM discrepancies d JOIN applications a ON a.id = d.application_id
		LEFT JOIN case_assignments ca ON ca.application_id = d.application_id
		WHERE a.round_id = $1`, ri.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	type key struct {
		district string
		officer  int64
	}
	type cell struct {
		open, material, decided, overdue int
		days                             float64
		apps                             map[int64]bool
	}
	cells := map[key]*cell{}
	var all cell
	all.apps = map[int64]bool{}
	seen := map[string]bool{}
	for rows.Next() {
		var app, deadline, decidedBy, decidedAt, created, holder int64
		var d, st string
		if err := rows.Scan(&app, &d, &st, &deadline, &decidedBy, &decidedAt, &created, &holder); err != nil {
			rows.Close()
			return nil, apperr.Wrap(err)
		}
		if !inScope(s, d) {
			continue
		}
		decided := st == "accepted" || st == "overridden" || st == "cleared"
		who := holder
		if decided && decidedBy != 0 {
			who = decidedBy
		}
		k := key{d, who}
		c := cells[k]
		if c == nil {
			c = &cell{apps: map[int64]bool{}}
			cells[k] = c
		}
		seen[d] = true
		for _, x := range []*cell{c, &all} {
			x.apps[app] = true
			switch {
			case decided:
				x.decided++
				if decidedAt > 0 {
					x.days += float64(decidedAt-created) / usPerDay
				}
			case st == "material_requested":
				x.material++
			default:
				x.open++
			}
			if !decided && deadline > 0 && deadline < now {
				x.overdue++
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	values := func(c *cell) []stats.Value {
		v := ints(c.open, c.material, c.decided)
		mean := null()
		if c.decided > 0 {
			mean = num(round2(c.days / float64(c.decided)))
		}
		return append(v, mean, num(float64(c.overdue)))
	}
	dd := districtDim(seen)
	order := districtOrder(dd)
	od := stats.DimInfo{Name: "officer", Label: "经办人"}
	ids := map[int64]bool{}
	var out []stats.Row
	for k, c := range cells {
		ids[k.officer] = true
		out = append(out, stats.Row{Keys: []string{k.district, strconv.FormatInt(k.officer, 10)},
			Labels: []string{districtLabel(k.district), officerLabel(names, k.officer)}, Count: len(c.apps), Values: values(c)})
	}
	slices.SortFunc(out, func(a, b stats.Row) int {
		if c := order[a.Keys[0]] - order[b.Keys[0]]; c != 0 {
			return c
		}
		return compareStrings(a.Labels[1], b.Labels[1])
	})
	for id := range ids {
		od.Values = append(od.Values, stats.Level{Code: strconv.FormatInt(id, 10), Label: officerLabel(names, id)})
	}
	slices.SortFunc(od.Values, func(a, b stats.Level) int { return compareStrings(a.Label, b.Label) })
	ms := []stats.MeasureInfo{m("open", "待处理", "项"), m("material_requested", "已要求补充材料", "项"), m("decided", "已处理", "项"),
		m("mean_days", "平均处理天数", "天"), m("overdue", "逾期未处理", "项")}
	total := stats.Row{Count: len(all.apps), Values: values(&all)}
	return r.result(s, []stats.DimInfo{dd, od}, ms, out, total), nil
}

func round2(f float64) float64 {
	if f < 0 {
		return -round2(-f)
	}
	return float64(int64(f*100+0.5)) / 100
}

func (r *Registry) workload() Report {
	return Report{Code: "workload", Title: "经办人员工作量与办理时限",
		Description: "每位经办人员手中未办结的案件数、其中已超过办理时限的件数，以及所选年度批次中由其处理的比对差异在办理时限（初核结果阶段的工作日时限，自差异产生时起算）内处理完毕的比例。",
		Params:      []Param{yearParam}, Chart: "bar", Permission: actor.PermCasesDistrict, Run: r.runWorkload}
}

func (r *Registry) runWorkload(ctx context.Context, by actor.Actor, p Params) (*stats.Result, error) {
	s, err := scope(by)
	if err != nil {
		return nil, err
	}
	ri, err := r.round(ctx, p)
	if err != nil {
		return nil, err
	}
	names, err := r.officers(ctx)
	if err != nil {
		return nil, err
	}
	now := r.d.Clock.Now()
	type cell struct {
		held, overdue, decided, inTime int
		apps                           map[int64]bool
	}
	cells := map[int64]*cell{}
	get := func(id int64) *cell {
		c := cells[id]
		if c == nil {
			c = &cell{apps: map[int64]bool{}}
			cells[id] = c
		}
		return c
	}
	// The open cases held, as casework's workload counts them, limited to
	// the round and the asker's district.
	rows, err := r.d.DB.Query(ctx, `SELECT ca.officer_id, a.id, a.district, a.step_due_at FROM case_assignments ca
		JOIN applications a ON a.id = ca.application_id
		WHERE a.round_id = $1 AND a.status IN ('first_result', 'review_requested')`, ri.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	for rows.Next() {
		var officer, app, due int64
		var d string
		if err := rows.Scan(&officer, &app, &d, &due); err != nil {
			rows.Close()
			return nil, apperr.Wrap(err)
		}
		if !inScope(s, d) {
			continue
		}
		c := get(officer)
		c.held++
		c.apps[app] = true
		if due > 0 && due < db.Micros(now) {
			c.overdue++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	drows, err := r.d.DB.Query(ctx, `SELECT d.decided_by, d.application_id, d.district, d.created_at, d.decided_at
		FROM discrepancies d JOIN applications a ON a.id = d.application_id
		WHERE a.round_id = $1 AND d.decided_by > 0 AND d.decided_at > 0 AND d.status IN ('accepted', 'overridden', 'cleared')`, ri.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	type decision struct {
		officer, app, created, decided int64
	}
	var ds []decision
	for drows.Next() {
		var x decision
		var d string
		if err := drows.Scan(&x.officer, &x.app, &d, &x.created, &x.decided); err != nil {
			drows.Close()
			return nil, apperr.Wrap(err)
		}
		if inScope(s, d) {
			ds = append(ds, x)
		}
	}
	drows.Close()
	if err := drows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	// The deadline is the end of a working day counted from the day the
	// discrepancy arose, so one answer per day serves every decision of
	// that day: a round's thousands of decisions cost a few hundred reads.
	dueOn := map[string]time.Time{}
	for _, x := range ds {
		c := get(x.officer)
		c.decided++
		c.apps[x.app] = true
		if r.d.Due == nil {
			continue
		}
		due, ok := dueOn[dayOf(x.created)]
		if !ok {
			var err error
			if due, err = r.d.Due.Due(ctx, ri.ID, application.StepFirstResult, db.FromMicros(x.created)); err != nil {
				return nil, err
			}
			dueOn[dayOf(x.created)] = due
		}
		if due.IsZero() || !db.FromMicros(x.decided).After(due) {
			c.inTime++
		}
	}
	values := func(c *cell) []stats.Value {
		v := ints(c.held, c.overdue, c.decided)
		share := null()
		if c.decided > 0 && r.d.Due != nil {
			share = num(round2(float64(c.inTime) / float64(c.decided) * 100))
		}
		return append(v, share)
	}
	dim := stats.DimInfo{Name: "officer", Label: "经办人"}
	var out []stats.Row
	all := &cell{apps: map[int64]bool{}}
	for id, c := range cells {
		label := officerLabel(names, id)
		dim.Values = append(dim.Values, stats.Level{Code: strconv.FormatInt(id, 10), Label: label})
		out = append(out, stats.Row{Keys: []string{strconv.FormatInt(id, 10)}, Labels: []string{label}, Count: len(c.apps),
			Values: values(c)})
		all.held, all.overdue, all.decided, all.inTime = all.held+c.held, all.overdue+c.overdue, all.decided+c.decided, all.inTime+c.inTime
		for a := range c.apps {
			all.apps[a] = true
		}
	}
	slices.SortFunc(out, func(a, b stats.Row) int { return compareStrings(a.Labels[0], b.Labels[0]) })
	slices.SortFunc(dim.Values, func(a, b stats.Level) int { return compareStrings(a.Label, b.Label) })
	ms := []stats.MeasureInfo{m("held", "未办结案件", "件"), m("overdue", "超过办理时限", "件"), m("decided", "已处理差异", "项"),
		m("in_clock_share", "时限内处理比例", "%")}
	return r.result(s, []stats.DimInfo{dim}, ms, out, stats.Row{Count: len(all.apps), Values: values(all)}), nil
}
