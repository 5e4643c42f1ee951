package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// The actions on an administrator's account that wait for a second
// administrator.
const (
	AdminReset   = "reset_password"
	AdminDisable = "disable"
	AdminEnable  = "enable"
)

// AdminActionName is the Chinese name of an action on an administrator's account.
func AdminActionName(action string) string {
	return map[string]string{AdminReset: "重置密码", AdminDisable: "停用账号", AdminEnable: "启用账号"}[action]
}

// AdminRequest is the system administrator's request to reset, disable or
// enable an administrator's account, which takes effect only when an
// administrator of another role approves it (三员分立: no administrator acts
// alone on another).
type AdminRequest struct {
	ID             int64
	UserID         int64
	UserLogin      string
	UserName       string
	Action         string
	Reason         string
	RequestedBy    int64
	RequesterLogin string
	RequesterRole  Role
	RequestedAt    time.Time
	Status         string // pending | approved | rejected
	DecidedBy      int64
	DeciderLogin   string
	DecidedAt      time.Time
	DecisionReason string
}

// RequestAdminAction asks for action on the administrator account userID.
// It changes nothing until DecideAdminRequest approves it.
func (s *Service) RequestAdminAction(ctx context.Context, by actor.Actor, userID int64, action, reason string) (*AdminRequest, error) {
	if err := by.Require(PermUsersManage); err != nil {
		return nil, err
	}
	if onConsole(by) {
		return nil, apperr.New(apperr.Conflict, "服务器控制台可直接操作，无需申请")
	}
	if AdminActionName(action) == "" {
		return nil, apperr.Field("action", "不支持的操作")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", "请填写申请理由")
	}
	target, err := s.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if !target.IsAdmin() {
		return nil, apperr.New(apperr.Conflict, "该账号不是管理员账号，可直接操作，无需审批")
	}
	if target.ID == by.UserID {
		return nil, apperr.New(apperr.Forbidden, "不能对自己的账号提出此申请")
	}
	if action == AdminReset && (s.outbox == nil || target.Email == "") {
		return nil, errNoMailbox
	}
	var req *AdminRequest
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		var id int64
		// The partial unique index admits one pending request per account
		// and action; a second one conflicts instead of queuing twice.
		err := s.db.QueryRow(ctx, `INSERT INTO admin_requests (user_id, action, reason, requested_by, requester_role, requested_at, status)
			VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING id`, userID, action, reason, by.UserID, string(by.Role()),
			db.Micros(s.clock.Now())).Scan(&id)
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, "该账号已有相同的待审批申请")
		}
		if err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "account.admin_request", ObjectType: "user", ObjectID: fmt.Sprint(userID),
			Reason: fmt.Sprintf("request=%d action=%s: %s", id, action, reason)}); err != nil {
			return err
		}
		req, err = s.adminRequest(ctx, id)
		return err
	})
	return req, err
}

// mayDecide reports why by may not decide req, or nil: the decider holds an
// administrator role, none of the requester's role, and is neither the
// requester nor the account concerned.
// requireAdmin refuses an actor who holds none of the three
// administrators' roles.
func requireAdmin(by actor.Actor) error {
	if !slices.ContainsFunc(by.Roles, func(r Role) bool { ri, ok := Info(r); return ok && ri.Admin }) {
		return apperr.New(apperr.Forbidden, "您没有执行此操作的权限")
	}
	return nil
}

func mayDecide(by actor.Actor, req *AdminRequest) error {
	if err := requireAdmin(by); err != nil {
		return err
	}
	if by.UserID == req.RequestedBy {
		return apperr.New(apperr.Forbidden, "双人审批：不能审批自己提出的申请")
	}
	if by.UserID == req.UserID {
		return apperr.New(apperr.Forbidden, "不能审批针对自己账号的申请")
	}
	if slices.Contains(by.Roles, req.RequesterRole) {
		return apperr.New(apperr.Forbidden, "三员分立：须由与申请人不同角色的管理员审批")
	}
	return nil
}

// DecideAdminRequest approves or rejects a pending request. Approval applies
// the action in the same transaction; a reset password goes by mail to the
// account's owner and is shown to no one. The update is conditional on the
// request still pending, so two deciders cannot both apply it.
func (s *Service) DecideAdminRequest(ctx context.Context, by actor.Actor, requestID int64, approve bool, reason string) error {
	// Who is no administrator learns nothing, not even whether the request
	// exists.
	if err := requireAdmin(by); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		req, err := s.adminRequest(ctx, requestID)
		if err != nil {
			return err
		}
		if err := mayDecide(by, req); err != nil {
			return err
		}
		if req.Status != "pending" {
			return apperr.New(apperr.Conflict, "该申请已处理")
		}
		status := "rejected"
		if approve {
			status = "approved"
		}
		res, err := s.db.Exec(ctx, `UPDATE admin_requests SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4
			WHERE id = $5 AND status = 'pending'`, status, by.UserID, db.Micros(s.clock.Now()), strings.TrimSpace(reason), requestID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.Conflict, "该申请已处理")
		}
		if approve {
			target, err := s.UserByID(ctx, req.UserID)
			if err != nil {
				return err
			}
			switch req.Action {
			case AdminReset:
				err = s.resetAndMail(ctx, target)
			case AdminDisable, AdminEnable:
				err = s.setDisabled(ctx, target.ID, req.Action == AdminDisable, req.Reason)
			}
			if err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, audit.Entry{Action: "account.admin_request_" + status, ObjectType: "user", ObjectID: fmt.Sprint(req.UserID),
			Reason: fmt.Sprintf("request=%d action=%s requested_by=%d: %s", req.ID, req.Action, req.RequestedBy, reason)})
	})
}

const adminRequestSelect = `SELECT r.id, r.user_id, u.login, u.display_name, r.action, r.reason, r.requested_by, q.login,
	r.requester_role, r.requested_at, r.status, r.decided_by, COALESCE(d.login, ''), r.decided_at, r.decision_reason
	FROM admin_requests r JOIN users u ON u.id = r.user_id JOIN users q ON q.id = r.requested_by
	LEFT JOIN users d ON d.id = r.decided_by`

func scanAdminRequest(sc interface{ Scan(...any) error }) (*AdminRequest, error) {
	r := &AdminRequest{}
	var role string
	var at, dat int64
	if err := sc.Scan(&r.ID, &r.UserID, &r.UserLogin, &r.UserName, &r.Action, &r.Reason, &r.RequestedBy, &r.RequesterLogin,
		&role, &at, &r.Status, &r.DecidedBy, &r.DeciderLogin, &dat, &r.DecisionReason); err != nil {
		return nil, err
	}
	r.RequesterRole, r.RequestedAt = Role(role), db.FromMicros(at)
	if dat != 0 {
		r.DecidedAt = db.FromMicros(dat)
	}
	return r, nil
}

func (s *Service) adminRequest(ctx context.Context, id int64) (*AdminRequest, error) {
	r, err := scanAdminRequest(s.db.QueryRow(ctx, adminRequestSelect+` WHERE r.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "申请不存在")
	}
	return r, err
}

// AdminRequests lists the requests on administrators' accounts, pending
// first then newest, for any of the three administrators.
func (s *Service) AdminRequests(ctx context.Context, by actor.Actor, limit int) ([]*AdminRequest, error) {
	if err := requireAdmin(by); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, adminRequestSelect+` ORDER BY CASE WHEN r.status = 'pending' THEN 0 ELSE 1 END, r.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*AdminRequest
	for rows.Next() {
		r, err := scanAdminRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
