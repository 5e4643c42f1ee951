package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// RoleRequest is a request to grant or revoke a role, decided by a second
// security administrator (four eyes).
type RoleRequest struct {
	ID             int64
	UserID         int64
	UserLogin      string
	Role           Role
	Action         string // grant | revoke
	Reason         string
	RequestedBy    int64
	RequesterLogin string
	RequestedAt    time.Time
	Status         string // pending | approved | rejected | applied_single
	DecidedBy      int64
	DecidedAt      time.Time
	DecisionReason string
}

// RequestGrant asks for role to be granted to userID. With more than one
// active security administrator the request waits for another one's
// approval; with only one, it is applied at once and the waiver is recorded.
func (s *Service) RequestGrant(ctx context.Context, by actor.Actor, userID int64, role Role, reason string) (*RoleRequest, error) {
	if err := by.Require(PermRolesManage); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", "请填写授权理由")
	}
	target, err := s.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	ri, ok := Info(role)
	if !ok || ri.Zone != Office {
		return nil, apperr.Field("role", "只能在此授予工作人员角色")
	}
	if target.Zone != Office {
		return nil, apperr.Field("user", "该账号不是工作人员账号")
	}
	if target.ID == by.UserID {
		return nil, apperr.New(apperr.Forbidden, "不能给自己授予角色")
	}
	if target.HasRole(role) {
		return nil, apperr.New(apperr.Conflict, "该账号已拥有此角色")
	}
	if err := conflictingRoles(append(append([]Role{}, target.Roles...), role)); err != nil {
		return nil, err
	}
	admins, err := s.CountActiveWithRole(ctx, SecurityAdmin)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	var req *RoleRequest
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM role_requests WHERE user_id = $1 AND role = $2 AND status = 'pending'`,
			userID, string(role)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "已有相同的待审批申请")
		}
		status := "pending"
		if admins <= 1 {
			status = "applied_single"
		}
		now := db.Micros(s.clock.Now())
		var id int64
		if err := s.db.QueryRow(ctx, `INSERT INTO role_requests (user_id, role, action, reason, requested_by, requested_at, status)
			VALUES ($1, $2, 'grant', $3, $4, $5, $6) RETURNING id`, userID, string(role), reason, by.UserID, now, status).Scan(&id); err != nil {
			return err
		}
		why := reason
		if status == "applied_single" {
			why = "仅有一名安全管理员，未经第二人审批直接生效（已记录）；" + reason
			if err := s.applyGrant(ctx, target, role, by.UserID); err != nil {
				return err
			}
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "role.grant_request", ObjectType: "user", ObjectID: fmt.Sprint(userID),
			Reason: fmt.Sprintf("role=%s status=%s: %s", role, status, why)}); err != nil {
			return err
		}
		var err error
		req, err = s.roleRequest(ctx, id)
		return err
	})
	return req, err
}

func (s *Service) applyGrant(ctx context.Context, target *User, role Role, by int64) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO user_roles (user_id, role, granted_at, granted_by) VALUES ($1, $2, $3, $4)`,
		target.ID, string(role), db.Micros(s.clock.Now()), by); err != nil {
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, "该账号已拥有此角色")
		}
		return err
	}
	// A change of privilege ends the target's sessions: the next login
	// carries the new roles under a new token.
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, target.ID)
	return err
}

// DecideGrant approves or rejects a pending request. The decider must be a
// security administrator other than the requester (four eyes).
func (s *Service) DecideGrant(ctx context.Context, by actor.Actor, requestID int64, approve bool, reason string) error {
	if err := by.Require(PermRolesManage); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		req, err := s.roleRequest(ctx, requestID)
		if err != nil {
			return err
		}
		if req.Status != "pending" {
			return apperr.New(apperr.Conflict, "该申请已处理")
		}
		if req.RequestedBy == by.UserID {
			return apperr.New(apperr.Forbidden, "双人审批：不能审批自己提出的申请")
		}
		if req.UserID == by.UserID {
			return apperr.New(apperr.Forbidden, "不能审批授予自己的角色")
		}
		status := "rejected"
		if approve {
			status = "approved"
			target, err := s.UserByID(ctx, req.UserID)
			if err != nil {
				return err
			}
			if err := conflictingRoles(append(append([]Role{}, target.Roles...), req.Role)); err != nil {
				return err
			}
			if err := s.applyGrant(ctx, target, req.Role, by.UserID); err != nil {
				return err
			}
		}
		if _, err := s.db.Exec(ctx, `UPDATE role_requests SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4
			WHERE id = $5 AND status = 'pending'`, status, by.UserID, db.Micros(s.clock.Now()), strings.TrimSpace(reason), requestID); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "role.grant_" + status, ObjectType: "user", ObjectID: fmt.Sprint(req.UserID),
			Reason: fmt.Sprintf("request=%d role=%s requested_by=%d: %s", req.ID, req.Role, req.RequestedBy, reason)})
	})
}

// RevokeRole removes a role at once (taking privileges away needs no second
// approval) and ends the user's sessions.
func (s *Service) RevokeRole(ctx context.Context, by actor.Actor, userID int64, role Role, reason string) error {
	if err := by.Require(PermRolesManage); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return apperr.Field("reason", "请填写撤销理由")
	}
	if userID == by.UserID {
		return apperr.New(apperr.Forbidden, "不能撤销自己的角色")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1 AND role = $2`, userID, string(role))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.NotFound, "该账号没有此角色")
		}
		now := db.Micros(s.clock.Now())
		if _, err := s.db.Exec(ctx, `INSERT INTO role_requests (user_id, role, action, reason, requested_by, requested_at, status,
			decided_by, decided_at) VALUES ($1, $2, 'revoke', $3, $4, $5, 'approved', $6, $7)`,
			userID, string(role), reason, by.UserID, now, by.UserID, now); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "role.revoke", ObjectType: "user", ObjectID: fmt.Sprint(userID),
			Reason: fmt.Sprintf("role=%s: %s", role, reason)})
	})
}

const roleRequestSelect = `SELECT r.id, r.user_id, u.login, r.role, r.action, r.reason, r.requested_by, q.login, r.requested_at,
	r.status, r.decided_by, r.decided_at, r.decision_reason
	FROM role_requests r JOIN users u ON u.id = r.user_id JOIN users q ON q.id = r.requested_by`

func scanRoleRequest(sc interface{ Scan(...any) error }) (*RoleRequest, error) {
	r := &RoleRequest{}
	var role string
	var at, dat int64
	if err := sc.Scan(&r.ID, &r.UserID, &r.UserLogin, &role, &r.Action, &r.Reason, &r.RequestedBy, &r.RequesterLogin, &at,
		&r.Status, &r.DecidedBy, &dat, &r.DecisionReason); err != nil {
		return nil, err
	}
	r.Role, r.RequestedAt, r.DecidedAt = Role(role), db.FromMicros(at), db.FromMicros(dat)
	return r, nil
}

func (s *Service) roleRequest(ctx context.Context, id int64) (*RoleRequest, error) {
	r, err := scanRoleRequest(s.db.QueryRow(ctx, roleRequestSelect+` WHERE r.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "申请不存在")
	}
	return r, err
}

// RoleRequests lists requests, pending first then newest, at most limit.
func (s *Service) RoleRequests(ctx context.Context, by actor.Actor, limit int) ([]*RoleRequest, error) {
	if err := by.Require(PermRolesManage); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, roleRequestSelect+fmt.Sprintf(` ORDER BY CASE WHEN r.status = 'pending' THEN 0 ELSE 1 END, r.id DESC LIMIT %d`, limit))
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
