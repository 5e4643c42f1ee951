package casework

import (
	"context"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// Assignment is who works a case.
type Assignment struct {
	ApplicationID int64  `json:"application_id"`
	OfficerID     int64  `json:"officer_id"`
	OfficerName   string `json:"officer_name"`
}

// holder reads who holds application id, ok false when nobody does.
func (s *Service) holder(ctx context.Context, id int64) (Assignment, bool, error) {
	a := Assignment{ApplicationID: id}
	err := s.db.QueryRow(ctx, `SELECT ca.officer_id, COALESCE(u.display_name, '') FROM case_assignments ca
		LEFT JOIN users u ON u.id = ca.officer_id WHERE ca.application_id = $1`, id).Scan(&a.OfficerID, &a.OfficerName)
	if db.IsNoRows(err) {
		return a, false, nil
	}
	return a, err == nil, err
}

// Holder returns who holds a case of the caller's queue (OfficerID 0:
// nobody).
func (s *Service) Holder(ctx context.Context, c actor.Actor, id int64) (Assignment, error) {
	if _, err := s.visible(ctx, c, id); err != nil {
		return Assignment{}, err
	}
	a, _, err := s.holder(ctx, id)
	return a, err
}

// heldBy is the refusal of a claim of a case someone else holds.
func heldBy(a Assignment) error {
	name := a.OfficerName
	if name == "" {
		name = "其他经办人员"
	}
	return apperr.New(apperr.Conflict, "该案件已由"+name+"认领办理，如需接手请联系其释放或由科长改派")
}

// Claim makes the caller the officer working a case of their queue. One
// officer works a case at a time: the insert is conditional on no row
// (the primary key), so of two officers claiming at once exactly one
// wins; the other is told who holds it. Claiming a case one holds already
// answers the same (idempotent).
func (s *Service) Claim(ctx context.Context, c actor.Actor, id int64) (Assignment, error) {
	if _, err := s.visible(ctx, c, id); err != nil {
		return Assignment{}, err
	}
	var out Assignment
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `INSERT INTO case_assignments (application_id, officer_id, assigned_by, assigned_at)
			VALUES ($1, $2, $2, $3) ON CONFLICT (application_id) DO NOTHING`, id, c.UserID, db.Micros(s.clock.Now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			h, _, err := s.holder(ctx, id)
			if err != nil {
				return err
			}
			if h.OfficerID != c.UserID {
				return heldBy(h)
			}
			out = h
			return nil
		}
		out = Assignment{ApplicationID: id, OfficerID: c.UserID, OfficerName: c.Name}
		s.forgetCounts()
		if err := s.event(ctx, c, id, "经办人员认领办理"); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "case.claim", ObjectType: "application", ObjectID: itoa(id)})
	})
	return out, err
}

// Release gives a case back to the queue. The holder may release it; a
// supervisor (cases.assign) may release anyone's. Releasing a case nobody
// holds answers nil (idempotent).
func (s *Service) Release(ctx context.Context, c actor.Actor, id int64) error {
	if _, err := s.visible(ctx, c, id); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		h, ok, err := s.holder(ctx, id)
		if err != nil || !ok {
			return err
		}
		if h.OfficerID != c.UserID && !c.Can(actor.PermCasesAssign) {
			return apperr.New(apperr.Forbidden, "只能释放自己认领的案件（该案件由"+h.OfficerName+"办理）")
		}
		res, err := s.db.Exec(ctx, `DELETE FROM case_assignments WHERE application_id = $1 AND officer_id = $2`, id, h.OfficerID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.Conflict, "案件的办理人已变更，请刷新页面后查看")
		}
		s.forgetCounts()
		if err := s.event(ctx, c, id, "案件退回待认领"); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "case.release", ObjectType: "application", ObjectID: itoa(id),
			Reason: "officer " + itoa(h.OfficerID)})
	})
}

// Officer is an office account that may work cases, for the assignment
// form and the workload.
type Officer struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Login    string `json:"login"`
	District string `json:"district"`
}

// Officers lists the accounts the caller may assign cases to: officers
// with cases.district (district officers, supervisors, the city bureau) —
// of the caller's district for a district supervisor.
func (s *Service) Officers(ctx context.Context, c actor.Actor) ([]Officer, error) {
	d, err := scope(c)
	if err != nil {
		return nil, err
	}
	roles := caseRoles()
	var w db.Where
	w.And("u.disabled = ?", false)
	ph := ""
	for i, r := range roles {
		if i > 0 {
			ph += ", "
		}
		ph += w.Arg(string(r))
	}
	w.And("u.id IN (SELECT ur.user_id FROM user_roles ur WHERE ur.role IN (" + ph + "))")
	if d != "" {
		w.And("u.district = ?", d)
	}
	rows, err := s.db.Query(ctx, `SELECT u.id, u.display_name, u.login, u.district FROM users u`+w.SQL()+` ORDER BY u.district, u.display_name, u.id`,
		w.Args()...)
	if err != nil {
		return nil, err
	}
	var out []Officer
	err = eachRow(rows, func(sc scanner) error {
		var o Officer
		if err := sc.Scan(&o.ID, &o.Name, &o.Login, &o.District); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// caseRoles are the roles that work cases (hold cases.district).
func caseRoles() []actor.Role {
	var out []actor.Role
	for _, ri := range actor.Roles {
		if actor.Can([]actor.Role{ri.Role}, actor.PermCasesDistrict) {
			out = append(out, ri.Role)
		}
	}
	return out
}

// officer reads an officer the caller may assign to, else a field error.
func (s *Service) officer(ctx context.Context, c actor.Actor, id int64) (Officer, error) {
	list, err := s.Officers(ctx, c)
	if err != nil {
		return Officer{}, err
	}
	for _, o := range list {
		if o.ID == id {
			return o, nil
		}
	}
	return Officer{}, apperr.Field("officer_id", "请选择本辖区在岗的经办人员")
}

// Assign gives a case to an officer (cases.assign: a district supervisor
// in the district, the city bureau anywhere), taking it from whoever held
// it: reassignment. The officer must be able to work the case (its
// district, or the city bureau).
func (s *Service) Assign(ctx context.Context, c actor.Actor, id, officerID int64) (Assignment, error) {
	if err := c.Require(actor.PermCasesAssign); err != nil {
		return Assignment{}, err
	}
	ci, err := s.visible(ctx, c, id)
	if err != nil {
		return Assignment{}, err
	}
	o, err := s.officer(ctx, c, officerID)
	if err != nil {
		return Assignment{}, err
	}
	if o.District != "" && o.District != ci.district && !s.cityOfficer(ctx, o.ID) {
		return Assignment{}, apperr.Field("officer_id", o.Name+"不属于该案件所在的"+ci.district+"，不能改派")
	}
	return s.assign(ctx, c, id, o)
}

func (s *Service) assign(ctx context.Context, c actor.Actor, id int64, o Officer) (Assignment, error) {
	out := Assignment{ApplicationID: id, OfficerID: o.ID, OfficerName: o.Name}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		prev, had, err := s.holder(ctx, id)
		if err != nil {
			return err
		}
		if had && prev.OfficerID == o.ID {
			return nil
		}
		if _, err := s.db.Exec(ctx, `INSERT INTO case_assignments (application_id, officer_id, assigned_by, assigned_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (application_id) DO UPDATE SET officer_id = excluded.officer_id, assigned_by = excluded.assigned_by,
			assigned_at = excluded.assigned_at`, id, o.ID, c.UserID, db.Micros(s.clock.Now())); err != nil {
			return err
		}
		why, note := "to "+itoa(o.ID), "案件分派经办人员办理"
		if had {
			why, note = "from "+itoa(prev.OfficerID)+" "+why, "案件改派其他经办人员办理"
		}
		s.forgetCounts()
		if err := s.event(ctx, c, id, note); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "case.assign", ObjectType: "application", ObjectID: itoa(id), Reason: why})
	})
	return out, err
}

// cityOfficer reports whether an account holds cases.city.
func (s *Service) cityOfficer(ctx context.Context, userID int64) bool {
	var n int
	_ = s.db.QueryRow(ctx, `SELECT count(*) FROM user_roles WHERE user_id = $1 AND role = $2`, userID, string(actor.CityOfficer)).Scan(&n)
	return n > 0
}

// BulkResult is the outcome of one case of a bulk assignment.
type BulkResult struct {
	ID    int64  `json:"id"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// BulkAssign assigns several cases to one officer, each on its own, so one
// refusal does not undo the others. At most 500 at once.
func (s *Service) BulkAssign(ctx context.Context, c actor.Actor, ids []int64, officerID int64) ([]BulkResult, error) {
	if err := c.Require(actor.PermCasesAssign); err != nil {
		return nil, err
	}
	if len(ids) == 0 || len(ids) > 500 {
		return nil, apperr.Field("ids", "请选择1至500个案件")
	}
	if _, err := s.officer(ctx, c, officerID); err != nil {
		return nil, err
	}
	out := make([]BulkResult, 0, len(ids))
	for _, id := range ids {
		_, err := s.Assign(ctx, c, id, officerID)
		r := BulkResult{ID: id, OK: err == nil}
		if err != nil {
			r.Error = apperr.As(err).Message
		}
		out = append(out, r)
	}
	return out, nil
}

// RequireAssigned answers nil when officer holds the case, else not found,
// audited as a denied access. Deciding a case is for the officer working
// it only — city officers included.
func (s *Service) RequireAssigned(ctx context.Context, officer actor.Actor, applicationID int64) error {
	if _, err := s.visible(ctx, officer, applicationID); err != nil {
		return err
	}
	h, ok, err := s.holder(ctx, applicationID)
	if err != nil {
		return err
	}
	if !ok || h.OfficerID != officer.UserID {
		s.denied(ctx, applicationID, "case not assigned to the officer")
		return errNotFound
	}
	return nil
}

// Load is one officer's workload.
type Load struct {
	Officer
	Held    int `json:"held"`
	Overdue int `json:"overdue"`
}

// Workload counts the cases each officer of the caller's scope holds and
// how many of them are past their deadline, in one statement.
func (s *Service) Workload(ctx context.Context, c actor.Actor) ([]Load, error) {
	officers, err := s.Officers(ctx, c)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT ca.officer_id, count(*), COALESCE(SUM(CASE WHEN a.step_due_at > 0 AND a.step_due_at < $1
		AND a.status IN ('first_result', 'review_requested') THEN 1 ELSE 0 END), 0)
		FROM case_assignments ca JOIN applications a ON a.id = ca.application_id GROUP BY ca.officer_id`, db.Micros(s.clock.Now()))
	if err != nil {
		return nil, err
	}
	held := map[int64][2]int{}
	err = eachRow(rows, func(sc scanner) error {
		var id int64
		var n, od int
		if err := sc.Scan(&id, &n, &od); err != nil {
			return err
		}
		held[id] = [2]int{n, od}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Load, 0, len(officers))
	for _, o := range officers {
		h := held[o.ID]
		out = append(out, Load{Officer: o, Held: h[0], Overdue: h[1]})
	}
	return out, nil
}
