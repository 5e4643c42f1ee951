package office

import (
	"net/http"
	"strconv"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/employer"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/rules"
	"jifen/internal/surface/shell"
	"jifen/internal/surface/ui"
)

// registerEmployers adds the by-hand verification of employers (until the
// cross-check automates it with the market regulator's records).
func (o *Office) registerEmployers(mux *web.Mux) {
	sh := o.sh
	mux.Handle("GET /office/employers", sh.RequireUser(account.PermCasesDistrict, o.employers))
	mux.Handle("POST /office/employers/{id}/{decision}", sh.RequireUser(account.PermCasesDistrict, o.employerDecide))
}

type employersView struct {
	Employers []*employer.Employer
	Status    string
	District  string
	Query     string
	Districts []string
	Fixed     bool // a district officer sees only the own district
	Page      int
	Next      bool
}

// officerDistrict is the district an officer is limited to: a district
// officer's own district, or "" for the city bureau.
func officerDistrict(u actor.Actor) (string, bool) {
	if u.Can(actor.PermCasesCity) {
		return "", false
	}
	return u.District, true
}

func (o *Office) employers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	f := employer.Filter{Status: employer.Status(q.Get("status")), District: q.Get("district"), Query: q.Get("q"),
		Limit: 51, Offset: (page - 1) * 50}
	if f.Status == "" && !q.Has("status") {
		f.Status = employer.Pending
	}
	d, fixed := officerDistrict(shell.Actor(r.Context()))
	if fixed {
		f.District = d
	}
	list, err := o.emp.List(r.Context(), f)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := employersView{Status: string(f.Status), District: f.District, Query: f.Query, Districts: rules.Districts(), Fixed: fixed, Page: page}
	if len(list) > 50 {
		list, v.Next = list[:50], true
	}
	v.Employers = list
	p := o.sh.Page(r, "用人单位核验")
	p.Data = v
	o.sh.Render(w, r, http.StatusOK, "office_employers", p)
}

func (o *Office) employerDecide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	e, err := o.emp.Get(r.Context(), id)
	if d, fixed := officerDistrict(shell.Actor(r.Context())); err != nil || (fixed && e.District != d) {
		web.WriteError(w, r, employer.ErrNotFound)
		return
	}
	_ = r.ParseForm()
	dec := r.PathValue("decision")
	if dec != "verify" && dec != "reject" {
		web.NotFound(w, r)
		return
	}
	if !ui.Confirmed(r) {
		c := ui.Confirm{Lead: e.Name + "（统一社会信用代码 " + e.CreditCode + "，" + e.District + "）", Action: "/office/employers/" + strconv.FormatInt(id, 10) + "/" + dec,
			Carry: ui.Carry(r.PostForm), Cancel: "/office/employers"}
		if dec == "verify" {
			c.Heading, c.Button = "确认核验通过该单位？", "核验通过"
			c.Effects = []string{"单位状态改为“已核验”，系统生成单位注册码。", "单位经办人登录即可看到注册码，告知本单位申请人用于关联单位。",
				"核验结论记入审计日志，不能撤回。"}
		} else {
			c.Heading, c.Button = "确认该单位核验不通过？", "核验不通过"
			c.Effects = []string{"单位状态改为“未通过”，单位经办人登录后看到不通过理由。", "核验结论记入审计日志，不能撤回；单位须重新注册。"}
			if reason := r.PostFormValue("reason"); reason != "" {
				c.Effects = append(c.Effects, "不通过理由："+reason)
			}
		}
		o.confirm(w, r, c.Heading, c)
		return
	}
	if _, err := o.emp.Decide(r.Context(), shell.Actor(r.Context()), id, dec == "verify", r.PostFormValue("reason")); err != nil {
		if apperr.Is(err, apperr.Invalid) || apperr.Is(err, apperr.Conflict) {
			o.sh.Flash(w, r, "/office/employers", "decision_failed")
			return
		}
		web.WriteError(w, r, err)
		return
	}
	o.sh.Flash(w, r, "/office/employers", map[string]string{"verify": "employer_verified", "reject": "employer_rejected"}[dec])
}
