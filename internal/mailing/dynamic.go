package mailing

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Query is a dynamic list's saved query over the system's own people,
// stored as JSON {kind, params} and evaluated at send time. It reads the
// tables of other packages (users, persons, applications, rounds,
// employers, employer_operators, fraud_entries, user_roles) and never
// writes them.
type Query struct {
	Kind   QueryKind         `json:"kind"`
	Params map[string]string `json:"params"`
}

// QueryKind is what a dynamic list selects.
type QueryKind string

// The kinds of saved query and their parameters.
const (
	// Applicants of round year in status (every status when "").
	// Params: year, status.
	Applicants QueryKind = "applicants"
	// DistrictOperators are the operators of the verified employers of a
	// district. Params: district.
	DistrictOperators QueryKind = "employer_operators"
	// BannedOperators are the operators of employers banned in the fraud
	// register (虚假材料库) in year (the current Beijing year when "").
	// Params: year.
	BannedOperators QueryKind = "banned_operators"
	// StaffRole is every enabled staff account holding an office role.
	// Params: role.
	StaffRole QueryKind = "staff_role"
)

// QueryKinds lists the kinds with their Chinese names, for the form.
var QueryKinds = []struct {
	Kind QueryKind
	Name string
}{
	{Applicants, "某年度某状态的申请人"},
	{DistrictOperators, "某区用人单位的经办人"},
	{BannedOperators, "被列入虚假材料库的用人单位的经办人"},
	{StaffRole, "某角色的全部工作人员"},
}

// Describe says in Chinese what the query selects.
func (q Query) Describe() string {
	p := q.Params
	switch q.Kind {
	case Applicants:
		if p["status"] == "" {
			return p["year"] + " 年度的全部申请人"
		}
		return p["year"] + " 年度状态为“" + application.StatusName(application.Status(p["status"])) + "”的申请人"
	case DistrictOperators:
		return p["district"] + "用人单位的经办人"
	case BannedOperators:
		if p["year"] == "" {
			return "当年被禁止申报的用人单位的经办人"
		}
		return p["year"] + " 年被禁止申报的用人单位的经办人"
	case StaffRole:
		return "全部" + actor.RoleName(actor.Role(p["role"]))
	}
	return string(q.Kind)
}

// Validate checks the kind and its parameters, dropping parameters the
// kind does not take; errors name the parameter's field.
func (q Query) Validate() (Query, error) {
	get := func(k string) string { return strings.TrimSpace(q.Params[k]) }
	out := Query{Kind: q.Kind, Params: map[string]string{}}
	year := func(required bool) error {
		y := get("year")
		if y == "" && !required {
			return nil
		}
		if n, err := strconv.Atoi(y); err != nil || n < 2018 || n > 2100 {
			return apperr.Field("year", "请填写年度（如 2026）")
		}
		out.Params["year"] = y
		return nil
	}
	switch q.Kind {
	case Applicants:
		if err := year(true); err != nil {
			return out, err
		}
		if s := get("status"); s != "" {
			if !slices.Contains(application.Statuses, application.Status(s)) {
				return out, apperr.Field("status", "请从列表中选择申请状态")
			}
			out.Params["status"] = s
		}
	case DistrictOperators:
		d := get("district")
		if !slices.Contains(rules.Districts(), d) {
			return out, apperr.Field("district", "请从列表中选择所在区")
		}
		out.Params["district"] = d
	case BannedOperators:
		if err := year(false); err != nil {
			return out, err
		}
	case StaffRole:
		r := actor.Role(get("role"))
		if ri, ok := actor.Info(r); !ok || ri.Zone != actor.Office {
			return out, apperr.Field("role", "请从列表中选择工作人员角色")
		}
		out.Params["role"] = string(r)
	default:
		return out, apperr.Field("kind", "请选择名单的条件")
	}
	return out, nil
}

// resolveQuery evaluates q now. Accounts without a valid address, and
// disabled accounts, are left out; an address shared by several accounts
// gets one mail (the first by address order, then by the query's order).
func (l *Lists) resolveQuery(ctx context.Context, q Query) ([]Recipient, error) {
	q, err := q.Validate()
	if err != nil {
		return nil, err
	}
	p := q.Params
	var sqlText string
	var args []any
	banYear := 0 // the year of a banned_operators list, for its variable
	switch q.Kind {
	case Applicants:
		var w db.Where
		w.And("r.year = ?", atoi(p["year"]))
		w.And("u.disabled = ?", false)
		if p["status"] != "" {
			w.And("a.status = ?", p["status"])
		}
		sqlText = `SELECT u.email, p.name, e.name, e.district, r.year, a.status FROM applications a
			JOIN persons p ON p.id = a.person_id JOIN users u ON u.id = p.user_id
			JOIN rounds r ON r.id = a.round_id JOIN employers e ON e.id = a.employer_id` + w.SQL() + ` ORDER BY a.id`
		args = w.Args()
	case DistrictOperators:
		sqlText = `SELECT u.email, u.display_name, e.name, e.district, 0, '' FROM employer_operators o
			JOIN users u ON u.id = o.user_id JOIN employers e ON e.id = o.employer_id
			WHERE e.district = $1 AND e.status = 'verified' AND u.disabled = $2 ORDER BY u.id`
		args = []any{p["district"], false}
	case BannedOperators:
		y := clock.BeijingDay(l.clock.Now()).Year()
		if p["year"] != "" {
			y = atoi(p["year"])
		}
		banYear = y
		sqlText = `SELECT u.email, u.display_name, e.name, e.district, 0, '' FROM employer_operators o
			JOIN users u ON u.id = o.user_id JOIN employers e ON e.id = o.employer_id
			WHERE u.disabled = $2 AND e.id IN (SELECT f.employer_id FROM fraud_entries f WHERE f.kind = 'employer'
			AND f.status = 'in_force' AND f.ban_from_year <= $1 AND f.ban_to_year >= $1) ORDER BY u.id`
		args = []any{y, false}
	case StaffRole:
		sqlText = `SELECT u.email, u.display_name, '', u.district, 0, '' FROM users u JOIN user_roles ur ON ur.user_id = u.id
			WHERE ur.role = $1 AND u.disabled = $2 AND u.zone = 'office' ORDER BY u.id`
		args = []any{p["role"], false}
	}
	rows, err := l.db.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("dynamic list %s: %w", q.Kind, err))
	}
	defer rows.Close()
	seen := map[string]bool{}
	out := []Recipient{}
	for rows.Next() {
		var email, name, employer, district, status string
		var year int
		if err := rows.Scan(&email, &name, &employer, &district, &year, &status); err != nil {
			return nil, apperr.Wrap(err)
		}
		email, ok := ValidEmail(email)
		if !ok || seen[email] {
			continue
		}
		seen[email] = true
		vars := map[string]string{"name": name, "employer": employer, "district": district}
		if year == 0 {
			year = banYear
		}
		if year != 0 {
			vars["year"] = strconv.Itoa(year)
		}
		if status != "" {
			vars["status"] = application.StatusName(application.Status(status))
		}
		if q.Kind == StaffRole {
			vars["role"] = actor.RoleName(actor.Role(p["role"]))
		}
		for k, v := range vars {
			if v == "" {
				delete(vars, k)
			}
		}
		out = append(out, Recipient{Email: email, Name: name, Vars: vars})
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	sortRecipients(out)
	return out, nil
}

func sortRecipients(rs []Recipient) {
	slices.SortFunc(rs, func(a, b Recipient) int { return strings.Compare(a.Email, b.Email) })
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
