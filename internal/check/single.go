package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"jifen/internal/agency"
	"jifen/internal/platform/db"
)

// The single checks outside runs: an employer against 市场监管 when it
// registers, an applicant's identity and residence permit against 公安 when
// the application is submitted to the employer. Their state is in the
// employer's and the application's rows ('' = not yet asked, 'unavailable'
// = asked again), so the sweep that asks is durable by construction.

// SingleCheckNames are their outcomes in Chinese.
var SingleCheckNames = map[string]string{"": "待核验", Match: "核验一致", Mismatch: "核验不一致", NotFound: "无登记记录",
	Unavailable: "接口暂不可用，稍后自动重试"}

// SweepSingles asks about the employers and applications that wait for a
// single check, up to limit of each, and reports how many it settled.
func (e *Engine) SweepSingles(ctx context.Context, limit int) (int, error) {
	a, err := e.sweepEmployers(ctx, limit)
	if err != nil {
		return a, err
	}
	b, err := e.sweepIdentities(ctx, limit)
	return a + b, err
}

func (e *Engine) sweepEmployers(ctx context.Context, limit int) (int, error) {
	type emp struct {
		id                   int64
		code, name, district string
	}
	var list []emp
	err := e.each(ctx, `SELECT id, credit_code, name, district FROM employers
		WHERE status = 'pending' AND market_check IN ('', 'unavailable') ORDER BY id LIMIT $1`, []any{limit}, func(rows *sql.Rows) error {
		var x emp
		if err := rows.Scan(&x.id, &x.code, &x.name, &x.district); err != nil {
			return err
		}
		list = append(list, x)
		return nil
	})
	if err != nil || len(list) == 0 {
		return 0, err
	}
	items := make([]singleItem, len(list))
	for i, x := range list {
		items[i] = singleItem{id: x.id, subject: x.code, judge: func(a Answer) (string, string) { return judgeEmployer(a, x.name, x.district) }}
	}
	return e.settle(ctx, agency.Market, "employer", "emp", e.own.Employers.SetMarketCheck, items)
}

// singleItem is one employer or application a single check asks about.
type singleItem struct {
	id      int64
	subject string
	judge   func(Answer) (outcome, detail string)
}

// record writes a single check's outcome through the service that owns the
// row (employer or application).
type record func(ctx context.Context, id int64, outcome, detail string, at int64) error

// settle asks agency about the items in one call and records each outcome.
// An unavailable agency is recorded as such and asked again at the next
// sweep; it settles nothing now.
func (e *Engine) settle(ctx context.Context, agency, kind, prefix string, save record, items []singleItem) (int, error) {
	subjects := make([]string, len(items))
	for i, x := range items {
		subjects[i] = x.subject
	}
	first, last := items[0].id, items[len(items)-1].id
	reqID := fmt.Sprintf("jifen-%s-%d-%d-%d", prefix, first, last, e.clock.Now().Unix()/60)
	ans, qerr := e.conn.Query(ctx, agency, reqID, subjects, CallMeta{Kind: kind, AppFrom: first, AppTo: last})
	now := db.Micros(e.clock.Now())
	for _, x := range items {
		outcome, detail := Unavailable, ""
		if qerr == nil {
			outcome, detail = x.judge(ans[x.subject])
		} else {
			detail = truncate(qerr.Error(), 200)
		}
		if err := save(ctx, x.id, outcome, detail, now); err != nil {
			return 0, err
		}
	}
	settled := len(items)
	if qerr != nil {
		settled = 0
	}
	return settled, nil
}

func judgeEmployer(a Answer, name, district string) (string, string) {
	if !a.Found {
		return NotFound, "市场监管部门无此统一社会信用代码的登记"
	}
	var r struct {
		Name     string `json:"name"`
		District string `json:"district"`
		Status   string `json:"status"`
	}
	if err := json.Unmarshal(a.Record, &r); err != nil {
		return Mismatch, "登记信息无法解析"
	}
	var diffs []string
	if r.Name != name {
		diffs = append(diffs, "登记名称为“"+r.Name+"”")
	}
	if r.District != district {
		diffs = append(diffs, "登记所在区为"+r.District)
	}
	if r.Status != "" && r.Status != "存续" {
		diffs = append(diffs, "登记状态为"+r.Status)
	}
	if len(diffs) > 0 {
		return Mismatch, strings.Join(diffs, "；")
	}
	return Match, "名称、所在区、存续状态一致"
}

func (e *Engine) sweepIdentities(ctx context.Context, limit int) (int, error) {
	type app struct {
		id                    int64
		num, name, birth, sex string
	}
	var list []app
	err := e.each(ctx, `SELECT a.id, p.id_enc, p.name, p.birth_date, p.sex FROM applications a JOIN persons p ON p.id = a.person_id
		WHERE a.status = 'with_employer' AND a.identity_check IN ('', 'unavailable') ORDER BY a.id LIMIT $1`, []any{limit},
		func(rows *sql.Rows) error {
			var x app
			var enc string
			if err := rows.Scan(&x.id, &enc, &x.name, &x.birth, &x.sex); err != nil {
				return err
			}
			var err error
			if x.num, err = e.keys.DecryptString(enc, "id_number"); err != nil {
				return err
			}
			list = append(list, x)
			return nil
		})
	if err != nil || len(list) == 0 {
		return 0, err
	}
	items := make([]singleItem, len(list))
	for i, x := range list {
		items[i] = singleItem{id: x.id, subject: x.num, judge: func(a Answer) (string, string) { return judgeIdentity(a, x.name, x.birth, x.sex) }}
	}
	return e.settle(ctx, agency.PublicSecurity, "identity", "id", e.own.Applications.SetIdentityCheck, items)
}

func judgeIdentity(a Answer, name, birth, sex string) (string, string) {
	if !a.Found {
		return NotFound, "公安部门无此身份证号码的户籍或居住登记"
	}
	var r struct {
		Name            string `json:"name"`
		BirthDate       string `json:"birth_date"`
		Sex             string `json:"sex"`
		ResidencePermit bool   `json:"residence_permit"`
	}
	if err := json.Unmarshal(a.Record, &r); err != nil {
		return Mismatch, "登记信息无法解析"
	}
	var diffs []string
	if r.Name != name {
		diffs = append(diffs, "登记姓名不同")
	}
	if r.BirthDate != birth || r.Sex != sex {
		diffs = append(diffs, "出生日期或性别不同")
	}
	if !r.ResidencePermit {
		diffs = append(diffs, "未持有有效北京市居住证")
	}
	if len(diffs) > 0 {
		return Mismatch, strings.Join(diffs, "；")
	}
	return Match, "身份信息一致，持有有效居住证"
}
