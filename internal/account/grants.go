package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// The kinds of permission request (权限开通、变更、撤销, and the disabling of
// an account found unused by the access review).
const (
	KindGrant   = "grant"
	KindChange  = "change"
	KindRevoke  = "revoke"
	KindDisable = "disable"
)

// The states of a permission request.
const (
	// StatusPending waits for a security administrator's review (审核).
	StatusPending = "pending"
	// StatusReviewed waits for the approval (审批) of a second security
	// administrator, neither the requester nor the reviewer.
	StatusReviewed = "reviewed"
	// StatusApproved has been approved and applied.
	StatusApproved = "approved"
	// StatusRejected was refused at review or approval; nothing changed
	// (an emergency revoke refused afterwards stays in force).
	StatusRejected = "rejected"
	// StatusAppliedSingle was applied at once because only one security
	// administrator was active; the waiver is in the audit trail.
	StatusAppliedSingle = "applied_single"
	// StatusAppliedPendingReview is an emergency revoke: in force at once,
	// reviewed and approved afterwards.
	StatusAppliedPendingReview = "applied_pending_review"
)

// KindName is the Chinese name of a request kind.
func KindName(kind string) string {
	return map[string]string{KindGrant: "开通", KindChange: "变更", KindRevoke: "撤销", KindDisable: "停用账号"}[kind]
}

// StatusName is the Chinese name of a request state.
func StatusName(status string) string {
	return map[string]string{StatusPending: "待审核", StatusReviewed: "待审批", StatusApproved: "已生效",
		StatusRejected: "已驳回", StatusAppliedSingle: "已生效（单人）", StatusAppliedPendingReview: "已紧急生效，待事后审核"}[status]
}

// RoleRequest is a request to grant, change or revoke a role, or to disable
// an account: it carries the number of its paper form (单据编号), is
// reviewed by a security administrator and approved by a second one.
type RoleRequest struct {
	ID             int64
	UserID         int64
	UserLogin      string
	Role           Role // grant and revoke: the role; change: the new role
	FromRole       Role // change: the role given up
	Action         string
	Reason         string
	FormNo         string
	Emergency      bool
	RequestedBy    int64 // 0: jifen itself (the access review)
	RequesterLogin string
	RequestedAt    time.Time
	Status         string
	ReviewedBy     int64
	ReviewerLogin  string
	ReviewedAt     time.Time
	ReviewNote     string
	DecidedBy      int64
	DeciderLogin   string
	DecidedAt      time.Time
	DecisionReason string
	Version        int
}

// AwaitsReview reports whether the request waits for its review step.
func (r *RoleRequest) AwaitsReview() bool {
	return r.Status == StatusPending || (r.Status == StatusAppliedPendingReview && r.ReviewedBy == 0)
}

// AwaitsApproval reports whether the request waits for its approval step.
func (r *RoleRequest) AwaitsApproval() bool {
	return r.Status == StatusReviewed || (r.Status == StatusAppliedPendingReview && r.ReviewedBy != 0)
}

// MayApprove reports whether user uid may approve the request: the approver
// is a second person, neither the requester nor the reviewer.
func (r *RoleRequest) MayApprove(uid int64) bool {
	return r.AwaitsApproval() && uid != r.RequestedBy && uid != r.ReviewedBy && uid != r.UserID
}

// RoleRequestInput is what a security administrator files from a paper form.
type RoleRequestInput struct {
	UserID    int64
	Kind      string
	Role      Role
	FromRole  Role // change only
	Reason    string
	FormNo    string
	Emergency bool // revoke only: in force at once, reviewed afterwards
}

func (in *RoleRequestInput) validate() error {
	in.Reason, in.FormNo = strings.TrimSpace(in.Reason), strings.TrimSpace(in.FormNo)
	var fe []apperr.FieldError
	if KindName(in.Kind) == "" {
		fe = append(fe, apperr.FieldError{Field: "kind", Message: "请选择申请类型（开通、变更、撤销或停用账号）"})
	}
	if in.FormNo == "" {
		fe = append(fe, apperr.FieldError{Field: "form_no", Message: "请填写单据编号（纸质申请单上的编号）"})
	} else if utf8.RuneCountInString(in.FormNo) > 64 {
		fe = append(fe, apperr.FieldError{Field: "form_no", Message: "单据编号不能超过64个字"})
	}
	if in.Reason == "" {
		fe = append(fe, apperr.FieldError{Field: "reason", Message: "请填写申请理由"})
	}
	if in.Emergency && in.Kind != KindRevoke {
		fe = append(fe, apperr.FieldError{Field: "emergency", Message: "只有撤销可以紧急生效"})
	}
	if in.Kind == KindDisable {
		in.Role, in.FromRole = "", ""
	} else if ri, ok := Info(in.Role); !ok || ri.Zone != Office {
		fe = append(fe, apperr.FieldError{Field: "role", Message: "请选择工作人员角色"})
	}
	if in.Kind == KindChange {
		if ri, ok := Info(in.FromRole); !ok || ri.Zone != Office {
			fe = append(fe, apperr.FieldError{Field: "from_role", Message: "请选择变更前的角色"})
		} else if in.FromRole == in.Role {
			fe = append(fe, apperr.FieldError{Field: "role", Message: "变更后的角色应与变更前不同"})
		}
	} else {
		in.FromRole = ""
	}
	return apperr.Fields(fe)
}

// checkApplicable refuses a request that cannot apply to target as it
// stands now: at filing, and again at approval, since roles may have
// changed in between.
func checkApplicable(target *User, kind string, role, from Role) error {
	switch kind {
	case KindGrant:
		if target.HasRole(role) {
			return apperr.New(apperr.Conflict, "该账号已拥有此角色")
		}
		return conflictingRoles(append(append([]Role{}, target.Roles...), role))
	case KindChange:
		if !target.HasRole(from) {
			return apperr.Field("from_role", "该账号没有变更前的角色")
		}
		if target.HasRole(role) {
			return apperr.New(apperr.Conflict, "该账号已拥有变更后的角色")
		}
		var rest []Role
		for _, r := range target.Roles {
			if r != from {
				rest = append(rest, r)
			}
		}
		return conflictingRoles(append(rest, role))
	case KindRevoke:
		if !target.HasRole(role) {
			return apperr.New(apperr.NotFound, "该账号没有此角色")
		}
	case KindDisable:
		if target.Disabled {
			return apperr.New(apperr.Conflict, "该账号已停用")
		}
	}
	return nil
}

// SubmitRoleRequest files a permission request. It waits for review and
// approval, except an emergency revoke (in force at once, reviewed
// afterwards) and the single-administrator mode (only one active security
// administrator: applied at once, the waiver recorded).
func (s *Service) SubmitRoleRequest(ctx context.Context, by actor.Actor, in RoleRequestInput) (*RoleRequest, error) {
	if err := by.Require(PermRolesManage); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	target, err := s.UserByID(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	if target.Zone != Office {
		return nil, apperr.Field("user", "该账号不是工作人员账号")
	}
	if target.ID == by.UserID {
		return nil, apperr.New(apperr.Forbidden, "不能对自己的账号提出权限申请")
	}
	if err := checkApplicable(target, in.Kind, in.Role, in.FromRole); err != nil {
		return nil, err
	}
	admins, err := s.CountActiveWithRole(ctx, SecurityAdmin)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	status := StatusPending
	switch {
	case in.Emergency:
		status = StatusAppliedPendingReview
	case admins <= 1:
		status = StatusAppliedSingle
	}
	var req *RoleRequest
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		id, err := s.insertRoleRequest(ctx, in, by.UserID, status)
		if err != nil {
			return err
		}
		why := in.Reason
		switch status {
		case StatusAppliedSingle:
			why = "仅有一名安全管理员，未经第二人审批直接生效（已记录）；" + in.Reason
		case StatusAppliedPendingReview:
			why = "紧急撤销，立即生效，待事后审核审批；" + in.Reason
		}
		if status != StatusPending {
			if err := s.applyRequest(ctx, target, in.Kind, in.Role, in.FromRole, by.UserID, in.Reason); err != nil {
				return err
			}
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "role.request", ObjectType: "user", ObjectID: fmt.Sprint(in.UserID),
			Reason: fmt.Sprintf("request=%d kind=%s role=%s from=%s form=%s status=%s: %s", id, in.Kind, in.Role, in.FromRole,
				in.FormNo, status, why)}); err != nil {
			return err
		}
		req, err = s.roleRequest(ctx, id)
		return err
	})
	return req, err
}

// insertRoleRequest adds the row; the partial unique index admits one open
// request per account, kind and role.
func (s *Service) insertRoleRequest(ctx context.Context, in RoleRequestInput, by int64, status string) (int64, error) {
	var requester any = by
	if by == 0 {
		requester = nil // jifen itself
	}
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO role_requests (user_id, role, from_role, action, reason, form_no, emergency,
		requested_by, requested_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		in.UserID, string(in.Role), string(in.FromRole), in.Kind, in.Reason, in.FormNo, in.Emergency, requester,
		db.Micros(s.clock.Now()), status).Scan(&id)
	if db.IsUniqueViolation(err) {
		return 0, apperr.New(apperr.Conflict, "已有相同的待处理申请")
	}
	return id, err
}

// applyRequest makes the change. A change of privilege ends the target's
// sessions: the next login carries the new roles under a new token.
func (s *Service) applyRequest(ctx context.Context, target *User, kind string, role, from Role, by int64, reason string) error {
	now := db.Micros(s.clock.Now())
	switch kind {
	case KindDisable:
		return s.setDisabled(ctx, target.ID, true, "access review: "+reason)
	case KindRevoke, KindChange:
		old := role
		if kind == KindChange {
			old = from
		}
		res, err := s.db.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1 AND role = $2`, target.ID, string(old))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.Conflict, "该账号已没有此角色，申请无法执行")
		}
	}
	if kind == KindGrant || kind == KindChange {
		if _, err := s.db.Exec(ctx, `INSERT INTO user_roles (user_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4)`,
			target.ID, string(role), now, by); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "该账号已拥有此角色")
			}
			return err
		}
	}
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, target.ID)
	return err
}

// ReviewRoleRequest is the review step (审核): a security administrator
// checks the request against its paper form. version is the version the
// reviewer saw; a request changed since then is refused, so two reviewers
// cannot both act on it.
func (s *Service) ReviewRoleRequest(ctx context.Context, by actor.Actor, id int64, version int, pass bool, note string) error {
	if err := by.Require(PermRolesManage); err != nil {
		return err
	}
	note = strings.TrimSpace(note)
	if !pass && note == "" {
		return apperr.Field("note", "驳回时请填写审核意见")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		req, err := s.roleRequest(ctx, id)
		if err != nil {
			return err
		}
		if !req.AwaitsReview() {
			return apperr.New(apperr.Conflict, "该申请不在待审核状态")
		}
		if req.UserID == by.UserID {
			return apperr.New(apperr.Forbidden, "不能审核针对自己账号的申请")
		}
		status := StatusReviewed
		switch {
		case req.Status == StatusAppliedPendingReview:
			status = StatusAppliedPendingReview
			if !pass {
				status = StatusRejected
			}
		case !pass:
			status = StatusRejected
		}
		if err := s.stepRoleRequest(ctx, req, version, `status = $4, reviewed_by = $5, reviewed_at = $6, review_note = $7`,
			status, by.UserID, db.Micros(s.clock.Now()), note); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "role.review", ObjectType: "user", ObjectID: fmt.Sprint(req.UserID),
			Reason: fmt.Sprintf("request=%d pass=%t status=%s: %s", req.ID, pass, status, note)})
	})
}

// stepRoleRequest moves the request on, on condition that nobody else has
// since (the status and version it was read with).
func (s *Service) stepRoleRequest(ctx context.Context, req *RoleRequest, version int, set string, args ...any) error {
	if version != 0 && version != req.Version {
		return apperr.New(apperr.Conflict, "该申请已被他人处理，请刷新后重试")
	}
	// set numbers its parameters from $4: the condition takes $1 to $3.
	q := `UPDATE role_requests SET ` + set + `, version = version + 1 WHERE id = $1 AND status = $2 AND version = $3`
	res, err := s.db.Exec(ctx, q, append([]any{req.ID, req.Status, req.Version}, args...)...)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return apperr.New(apperr.Conflict, "该申请已被他人处理，请刷新后重试")
	}
	return nil
}

// ApproveRoleRequest is the approval step (审批) by a second security
// administrator: neither the requester nor the reviewer. Approval applies
// the request in the same transaction (an emergency revoke is already in
// force and is only confirmed). A refusal changes nothing, and may come
// from anyone but the reviewer: withdrawing one's own request is no risk.
func (s *Service) ApproveRoleRequest(ctx context.Context, by actor.Actor, id int64, version int, approve bool, reason string) error {
	if err := by.Require(PermRolesManage); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if !approve && reason == "" {
		return apperr.Field("reason", "驳回时请填写审批意见")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		req, err := s.roleRequest(ctx, id)
		if err != nil {
			return err
		}
		if !req.AwaitsApproval() {
			if req.AwaitsReview() {
				return apperr.New(apperr.Conflict, "该申请尚未审核，须先由安全管理员审核")
			}
			return apperr.New(apperr.Conflict, "该申请不在待审批状态")
		}
		if req.UserID == by.UserID {
			return apperr.New(apperr.Forbidden, "不能审批针对自己账号的申请")
		}
		if req.ReviewedBy == by.UserID {
			return apperr.New(apperr.Forbidden, "双人审批：审核人不能再审批同一申请，须由另一名安全管理员审批")
		}
		if approve && req.RequestedBy == by.UserID {
			return apperr.New(apperr.Forbidden, "双人审批：不能审批自己提出的申请")
		}
		status := StatusRejected
		if approve {
			status = StatusApproved
		}
		if err := s.stepRoleRequest(ctx, req, version, `status = $4, decided_by = $5, decided_at = $6, decision_reason = $7`,
			status, by.UserID, db.Micros(s.clock.Now()), reason); err != nil {
			return err
		}
		if approve && req.Status == StatusReviewed {
			target, err := s.UserByID(ctx, req.UserID)
			if err != nil {
				return err
			}
			if err := checkApplicable(target, req.Action, req.Role, req.FromRole); err != nil {
				return err
			}
			if err := s.applyRequest(ctx, target, req.Action, req.Role, req.FromRole, by.UserID, req.Reason); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, audit.Entry{Action: "role.request_" + status, ObjectType: "user", ObjectID: fmt.Sprint(req.UserID),
			Reason: fmt.Sprintf("request=%d kind=%s role=%s form=%s requested_by=%d reviewed_by=%d emergency=%t: %s", req.ID,
				req.Action, req.Role, req.FormNo, req.RequestedBy, req.ReviewedBy, req.Emergency, reason)})
	})
}

const roleRequestSelect = `SELECT r.id, r.user_id, u.login, r.role, r.from_role, r.action, r.reason, r.form_no, r.emergency,
	COALESCE(r.requested_by, 0), COALESCE(q.login, ''), r.requested_at, r.status, r.reviewed_by, COALESCE(v.login, ''),
	r.reviewed_at, r.review_note, r.decided_by, COALESCE(d.login, ''), r.decided_at, r.decision_reason, r.version
	FROM role_requests r JOIN users u ON u.id = r.user_id LEFT JOIN users q ON q.id = r.requested_by
	LEFT JOIN users v ON v.id = r.reviewed_by LEFT JOIN users d ON d.id = r.decided_by`

func scanRoleRequest(sc interface{ Scan(...any) error }) (*RoleRequest, error) {
	r := &RoleRequest{}
	var role, from string
	var at, vat, dat int64
	if err := sc.Scan(&r.ID, &r.UserID, &r.UserLogin, &role, &from, &r.Action, &r.Reason, &r.FormNo, &r.Emergency,
		&r.RequestedBy, &r.RequesterLogin, &at, &r.Status, &r.ReviewedBy, &r.ReviewerLogin, &vat, &r.ReviewNote,
		&r.DecidedBy, &r.DeciderLogin, &dat, &r.DecisionReason, &r.Version); err != nil {
		return nil, err
	}
	r.Role, r.FromRole, r.RequestedAt = Role(role), Role(from), db.FromMicros(at)
	if vat != 0 {
		r.ReviewedAt = db.FromMicros(vat)
	}
	if dat != 0 {
		r.DecidedAt = db.FromMicros(dat)
	}
	return r, nil
}

// RoleRequestByID returns one request.
func (s *Service) RoleRequestByID(ctx context.Context, by actor.Actor, id int64) (*RoleRequest, error) {
	if err := by.Require(PermRolesManage); err != nil {
		return nil, err
	}
	return s.roleRequest(ctx, id)
}

func (s *Service) roleRequest(ctx context.Context, id int64) (*RoleRequest, error) {
	r, err := scanRoleRequest(s.db.QueryRow(ctx, roleRequestSelect+` WHERE r.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "申请不存在")
	}
	return r, err
}

// RoleRequests lists requests, open ones first then newest, at most limit.
func (s *Service) RoleRequests(ctx context.Context, by actor.Actor, limit int) ([]*RoleRequest, error) {
	if err := by.Require(PermRolesManage); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.roleRequestList(ctx, roleRequestSelect+` ORDER BY CASE WHEN r.status IN ('pending', 'reviewed', 'applied_pending_review')
		THEN 0 ELSE 1 END, r.id DESC LIMIT $1`, limit)
}

// RoleRequestsFiled lists every request filed in [from, to), oldest
// first: the hand-over list of a period (阶段性移交).
func (s *Service) RoleRequestsFiled(ctx context.Context, by actor.Actor, from, to time.Time) ([]*RoleRequest, error) {
	if err := by.Require(PermRolesManage); err != nil {
		return nil, err
	}
	return s.roleRequestList(ctx, roleRequestSelect+` WHERE r.requested_at >= $1 AND r.requested_at < $2 ORDER BY r.id`,
		db.Micros(from), db.Micros(to))
}

func (s *Service) roleRequestList(ctx context.Context, q string, args ...any) ([]*RoleRequest, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*RoleRequest
	for rows.Next() {
		r, err := scanRoleRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
