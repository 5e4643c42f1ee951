package statsreport

import (
	"context"
	"fmt"
	"strings"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// Subscriber is an account that receives a saved query's files by mail.
type Subscriber struct {
	UserID int64
	Login  string
	Name   string
	Email  string
}

// seesScope reports whether an actor may receive figures of scope: the city
// sees every district, a district officer only their own district's.
func seesScope(by actor.Actor, scope string) bool {
	if by.Can(actor.PermCasesCity) {
		return true
	}
	return scope != "" && by.Can(actor.PermCasesDistrict) && by.District == scope
}

func (s *Service) subscriberIDs(ctx context.Context, savedID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT user_id FROM stats_subscribers WHERE saved_id = $1 ORDER BY user_id`, savedID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Subscribers lists a saved query's subscribers.
func (s *Service) Subscribers(ctx context.Context, by actor.Actor, id int64) ([]Subscriber, error) {
	if _, err := s.Get(ctx, by, id); err != nil {
		return nil, err
	}
	ids, err := s.subscriberIDs(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]Subscriber, 0, len(ids))
	for _, uid := range ids {
		u, err := s.users.UserByID(ctx, uid)
		if err != nil {
			if apperr.Is(err, apperr.NotFound) || db.IsNoRows(err) {
				continue
			}
			return nil, err
		}
		out = append(out, subscriberOf(u))
	}
	return out, nil
}

func subscriberOf(u *account.User) Subscriber {
	return Subscriber{UserID: u.ID, Login: u.Login, Name: u.DisplayName, Email: u.Email}
}

// Subscribe adds the account with login to the subscribers of one of by's
// saved queries. The account must be allowed to see the query's figures:
// the city any, a district officer those of their own district only.
func (s *Service) Subscribe(ctx context.Context, by actor.Actor, id int64, login string) (Subscriber, error) {
	v, err := s.owned(ctx, by, id)
	if err != nil {
		return Subscriber{}, err
	}
	login = account.NormalizeLogin(login)
	if login == "" {
		return Subscriber{}, apperr.Field("login", "请填写订阅人的登录名")
	}
	u, err := s.users.UserByLogin(ctx, login)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) || db.IsNoRows(err) {
			return Subscriber{}, apperr.Field("login", "没有登录名为 "+login+" 的账号")
		}
		return Subscriber{}, err
	}
	if !seesScope(u.Actor(), v.Scope) {
		return Subscriber{}, apperr.Field("login", "该账号无权查看本统计的数据（需为市级经办人员，或本区的区级经办人员）")
	}
	if strings.TrimSpace(u.Email) == "" {
		return Subscriber{}, apperr.Field("login", "该账号未登记电子邮箱，无法接收报表通知")
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `INSERT INTO stats_subscribers (saved_id, user_id) VALUES ($1, $2)
			ON CONFLICT (saved_id, user_id) DO NOTHING`, id, u.ID); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "stats.saved.subscribe", ObjectType: "stats_saved",
			ObjectID: fmt.Sprint(id), Reason: "user=" + u.Login})
	})
	return subscriberOf(u), err
}

// Unsubscribe removes a subscriber: the owner may remove anyone, a
// subscriber themselves.
func (s *Service) Unsubscribe(ctx context.Context, by actor.Actor, id, userID int64) error {
	if err := requireUse(by); err != nil {
		return err
	}
	v, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if v.OwnerID != by.UserID && userID != by.UserID {
		return apperr.New(apperr.Forbidden, "只有创建人可以移除订阅人")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `DELETE FROM stats_subscribers WHERE saved_id = $1 AND user_id = $2`, id, userID); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "stats.saved.unsubscribe", ObjectType: "stats_saved",
			ObjectID: fmt.Sprint(id), Reason: fmt.Sprintf("user_id=%d", userID)})
	})
}
