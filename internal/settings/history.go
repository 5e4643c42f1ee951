package settings

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

// SecurityRelevant lists the settings whose change waits for a second
// administrator holding the same permission (not the proposer): they loosen
// or tighten how accounts are protected. Every other setting changes at
// once. Both kinds keep their history.
var SecurityRelevant = []string{
	LockoutThreshold, LockoutMinutes, IdleInternetMin, IdleOfficeMin, AbsoluteHours, PasswordMaxAgeDays,
	MaxSessionsAdmin, MaxSessionsStaff, MailFrom,
}

// NeedsSecondApproval reports whether a change of key waits for a second
// administrator.
func NeedsSecondApproval(key string) bool { return slices.Contains(SecurityRelevant, key) }

// The states of a change.
const (
	ChangeApplied       = "applied"
	ChangeAppliedSingle = "applied_single" // security-relevant, but only one administrator could approve
	ChangePending       = "pending"
	ChangeRejected      = "rejected"
)

// Change is one change of a setting made in the office: who, when, the old
// and new values, why; for a security-relevant one, who approved it.
type Change struct {
	ID             int64
	Key            string
	Label          string
	OldValue       string
	NewValue       string
	Reason         string
	ProposedBy     int64
	ProposerLogin  string
	ProposedAt     time.Time
	Status         string
	DecidedBy      int64
	DeciderLogin   string
	DecidedAt      time.Time
	DecisionReason string
}

// Change proposes a new value for key. An ordinary setting changes at once;
// a security-relevant one waits for a second administrator (DecideChange),
// unless the proposer is the only active holder of the permission, when it
// applies at once and the waiver is recorded. Either way the change is
// written to settings_history in the same transaction. It returns the
// change as recorded.
func (s *Store) Change(ctx context.Context, by actor.Actor, key, value, reason string) (*Change, error) {
	d, ok := Lookup(key)
	if !ok {
		return nil, apperr.Field("key", "没有这项设置")
	}
	if !by.Can(d.Owner.Permission()) {
		return nil, apperr.New(apperr.Forbidden, "您无权修改这项设置")
	}
	v, err := d.Validate(value)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", "请填写修改理由")
	}
	status := ChangeApplied
	if NeedsSecondApproval(key) {
		n, err := s.holders(ctx, d.Owner.Permission())
		if err != nil {
			return nil, err
		}
		status = ChangePending
		if n <= 1 {
			status = ChangeAppliedSingle
		}
	}
	var id int64
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		old, err := s.current(ctx, d)
		if err != nil {
			return err
		}
		if old == v {
			return apperr.Field(key, d.Label+"与当前值相同，无需修改")
		}
		err = s.db.QueryRow(ctx, `INSERT INTO settings_history (key, old_value, new_value, reason, proposed_by, proposed_at, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, key, old, v, reason, by.UserID, db.Micros(s.clock.Now()), status).Scan(&id)
		if db.IsUniqueViolation(err) {
			return apperr.Field(key, d.Label+"已有一项待审批的修改，请先审批或驳回")
		}
		if err != nil {
			return err
		}
		if status != ChangePending {
			if err := s.write(ctx, key, v, by.UserID); err != nil {
				return err
			}
		}
		why := reason
		if status == ChangeAppliedSingle {
			why = "仅有一名管理员，未经第二人审批直接生效（已记录）；" + reason
		}
		return s.audit.Record(ctx, audit.Entry{Action: "config.change", ObjectType: "setting", ObjectID: key,
			Reason: fmt.Sprintf("%q → %q status=%s change=%d: %s", old, v, status, id, why)})
	})
	if err != nil {
		return nil, err
	}
	s.forget()
	return s.change(ctx, id)
}

// DecideChange approves or rejects a pending change of a security-relevant
// setting. The decider holds the setting's permission and is not the
// proposer. The value applied is the one proposed; if the setting has been
// changed since (it cannot be, while the change is pending, but the check
// costs nothing) the approval is refused.
func (s *Store) DecideChange(ctx context.Context, by actor.Actor, id int64, approve bool, reason string) error {
	reason = strings.TrimSpace(reason)
	if !approve && reason == "" {
		return apperr.Field("reason", "驳回时请填写理由")
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		c, err := s.change(ctx, id)
		if err != nil {
			return err
		}
		d, _ := Lookup(c.Key)
		if !by.Can(d.Owner.Permission()) {
			return apperr.New(apperr.Forbidden, "您无权审批这项设置")
		}
		if c.Status != ChangePending {
			return apperr.New(apperr.Conflict, "该修改已处理")
		}
		if c.ProposedBy == by.UserID {
			return apperr.New(apperr.Forbidden, "双人审批：不能审批自己提出的修改")
		}
		status := ChangeRejected
		if approve {
			status = ChangeApplied
		}
		res, err := s.db.Exec(ctx, `UPDATE settings_history SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4
			WHERE id = $5 AND status = 'pending'`, status, by.UserID, db.Micros(s.clock.Now()), reason, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.Conflict, "该修改已处理")
		}
		if approve {
			cur, err := s.current(ctx, d)
			if err != nil {
				return err
			}
			if cur != c.OldValue {
				return apperr.New(apperr.Conflict, "该设置已被修改，请驳回后重新提出")
			}
			if err := s.write(ctx, c.Key, c.NewValue, c.ProposedBy); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, audit.Entry{Action: "config.change_" + status, ObjectType: "setting", ObjectID: c.Key,
			Reason: fmt.Sprintf("%q → %q change=%d proposed_by=%d: %s", c.OldValue, c.NewValue, c.ID, c.ProposedBy, reason)})
	})
	if err != nil {
		return err
	}
	s.forget()
	return nil
}

// current reads the stored value of d, or its default.
func (s *Store) current(ctx context.Context, d Def) (string, error) {
	var v string
	err := s.db.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, d.Key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return d.Default, nil
	}
	return v, err
}

func (s *Store) write(ctx context.Context, key, v string, by int64) error {
	now := db.Micros(s.clock.Now())
	res, err := s.db.Exec(ctx, `UPDATE settings SET value = $1, updated_at = $2, updated_by = $3 WHERE key = $4`, v, now, by, key)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = s.db.Exec(ctx, `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4)`, key, v, now, by)
	return err
}

func (s *Store) forget() {
	s.mu.Lock()
	s.cache = nil
	s.mu.Unlock()
}

// holders counts the active accounts whose roles allow p: the people who
// could approve a change. Reading the account tables is reading only.
func (s *Store) holders(ctx context.Context, p actor.Permission) (int, error) {
	seen := map[int64]bool{}
	for _, ri := range actor.Roles {
		if !actor.Can([]actor.Role{ri.Role}, p) {
			continue
		}
		if err := s.holdersOf(ctx, ri.Role, seen); err != nil {
			return 0, err
		}
	}
	return len(seen), nil
}

func (s *Store) holdersOf(ctx context.Context, r actor.Role, seen map[int64]bool) error {
	rows, err := s.db.Query(ctx, `SELECT u.id FROM users u JOIN user_roles ur ON ur.user_id = u.id
		WHERE ur.role = $1 AND u.disabled = FALSE`, string(r))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		seen[id] = true
	}
	return rows.Err()
}

const changeSelect = `SELECT h.id, h.key, h.old_value, h.new_value, h.reason, h.proposed_by, COALESCE(p.login, ''), h.proposed_at,
	h.status, h.decided_by, COALESCE(d.login, ''), h.decided_at, h.decision_reason
	FROM settings_history h LEFT JOIN users p ON p.id = h.proposed_by LEFT JOIN users d ON d.id = h.decided_by`

func scanChange(sc interface{ Scan(...any) error }) (*Change, error) {
	c := &Change{}
	var at, dat int64
	if err := sc.Scan(&c.ID, &c.Key, &c.OldValue, &c.NewValue, &c.Reason, &c.ProposedBy, &c.ProposerLogin, &at, &c.Status,
		&c.DecidedBy, &c.DeciderLogin, &dat, &c.DecisionReason); err != nil {
		return nil, err
	}
	c.ProposedAt = db.FromMicros(at)
	if dat != 0 {
		c.DecidedAt = db.FromMicros(dat)
	}
	if d, ok := Lookup(c.Key); ok {
		c.Label = d.Label
	}
	return c, nil
}

func (s *Store) change(ctx context.Context, id int64) (*Change, error) {
	c, err := scanChange(s.db.QueryRow(ctx, changeSelect+` WHERE h.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "修改记录不存在")
	}
	return c, err
}

// History lists the changes of owner's settings, pending first then newest,
// at most limit, for an administrator who may change them.
func (s *Store) History(ctx context.Context, by actor.Actor, owner Owner, limit int) ([]*Change, error) {
	if !by.Can(owner.Permission()) {
		return nil, apperr.New(apperr.Forbidden, "您无权查看这些设置的修改记录")
	}
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	// Keys are named after their owner ("security.", "system."); Defs
	// and TestKeysNamedAfterOwner keep it so.
	rows, err := s.db.Query(ctx, changeSelect+` WHERE h.key LIKE $1 ORDER BY CASE WHEN h.status = 'pending' THEN 0 ELSE 1 END,
		h.id DESC LIMIT $2`, string(owner)+".%", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
