package account

import (
	"context"
	"fmt"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
)

// UnusedAfter is how long an office account may go without a login before
// the access review proposes to disable it.
const UnusedAfter = 90 * 24 * time.Hour

// AccessRow is one office account in the periodic access review: who holds
// what, when they last logged in.
type AccessRow struct {
	User *User
	// LastUsed is the last login, or the creation for an account never
	// logged in: a new account gets the same 90 days.
	LastUsed time.Time
	Unused   bool // no login for UnusedAfter or longer, and not disabled
}

// AccessReview lists every office account with its roles and last login,
// flagging the unused ones.
func (s *Service) AccessReview(ctx context.Context, by actor.Actor) ([]AccessRow, error) {
	if err := by.Require(PermRolesManage); err != nil {
		return nil, err
	}
	return s.accessRows(ctx)
}

func (s *Service) accessRows(ctx context.Context) ([]AccessRow, error) {
	var out []AccessRow
	for offset := 0; ; offset += 500 {
		users, err := s.ListUsers(ctx, UserFilter{Zone: Office, Limit: 500, Offset: offset})
		if err != nil {
			return nil, err
		}
		cutoff := s.clock.Now().Add(-UnusedAfter)
		for _, u := range users {
			last := u.LastLoginAt
			if last.IsZero() {
				last = u.CreatedAt
			}
			out = append(out, AccessRow{User: u, LastUsed: last, Unused: !u.Disabled && !last.After(cutoff)})
		}
		if len(users) < 500 {
			return out, nil
		}
	}
}

// FlagUnusedAccounts is the daily access review: for every office account
// unused for UnusedAfter it opens a disable request (requested by jifen
// itself), which two security administrators review and approve like any
// other. It is safe to repeat: an account with an open disable request is
// skipped, and the unique index refuses a duplicate should two runs race.
func (s *Service) FlagUnusedAccounts(ctx context.Context) (int, error) {
	rows, err := s.accessRows(ctx)
	if err != nil {
		return 0, err
	}
	day := s.clock.Now().In(clock.Beijing).Format("2006-01-02")
	n := 0
	for _, r := range rows {
		if !r.Unused {
			continue
		}
		err := s.db.WithTx(ctx, func(ctx context.Context) error {
			var open int
			if err := s.db.QueryRow(ctx, `SELECT count(*) FROM role_requests WHERE user_id = $1 AND action = 'disable'
				AND status IN ('pending', 'reviewed')`, r.User.ID).Scan(&open); err != nil {
				return err
			}
			if open > 0 {
				return nil
			}
			in := RoleRequestInput{UserID: r.User.ID, Kind: KindDisable, FormNo: "定期复核-" + day,
				Reason: fmt.Sprintf("定期权限复核：自 %s 起超过90天未登录", r.LastUsed.In(clock.Beijing).Format("2006-01-02"))}
			id, err := s.insertRoleRequest(ctx, in, 0, StatusPending)
			if err != nil {
				return err // a duplicate rolls back (PostgreSQL aborts the transaction) and is skipped below
			}
			n++
			return s.audit.Record(ctx, audit.Entry{Action: "role.request", ObjectType: "user", ObjectID: fmt.Sprint(r.User.ID),
				Reason: fmt.Sprintf("request=%d kind=disable form=%s: %s", id, in.FormNo, in.Reason)})
		})
		if err != nil && apperr.CodeOf(err) != apperr.Conflict {
			return n, err
		}
	}
	return n, nil
}
