package casework

import (
	"context"
	"strconv"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// DefaultLimits are the limits in working days of the steps of the service
// clock when a round sets none (docs/ARCHITECTURE.md, "Case work"):
//
//   - first_result, 5: the applicant's time to ask for 复查 after the first
//     result (the round's review window still decides whether a request is
//     accepted);
//   - review_requested, 3: the employer forwards the request with its
//     evidence;
//   - review_forwarded, 2: the district office receives it;
//   - review_received, 15: the district office decides it (including an
//     in-person check).
//
// Other steps carry no limit.
var DefaultLimits = map[application.Step]int{
	application.StepFirstResult:     5,
	application.StepReviewRequested: 3,
	application.StepReviewForwarded: 2,
	application.StepReviewReceived:  15,
}

// Limit is the limit of one step in one round.
type Limit struct {
	Step     application.Step `json:"step"`
	Name     string           `json:"name"`
	Holder   string           `json:"holder"`
	Days     int              `json:"days"`
	Default  int              `json:"default"`
	Override bool             `json:"override"` // the round sets its own
}

// Limits lists a round's limits for the steps of the queue.
func (s *Service) Limits(ctx context.Context, roundID int64) ([]Limit, error) {
	set := map[application.Step]int{}
	rows, err := s.db.Query(ctx, `SELECT step, days FROM step_limits WHERE round_id = $1`, roundID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		set[application.Step(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Limit, 0, len(application.QueueSteps))
	for _, st := range application.QueueSteps {
		l := Limit{Step: st, Name: application.StepName(st), Holder: application.Holder(st), Days: DefaultLimits[st],
			Default: DefaultLimits[st]}
		if n, ok := set[st]; ok {
			l.Days, l.Override = n, true
		}
		out = append(out, l)
	}
	return out, nil
}

// SetLimit sets the limit of a step in a round (rounds.manage), audited.
// It applies to steps begun from now on; a step under way keeps the
// deadline it was given.
func (s *Service) SetLimit(ctx context.Context, c actor.Actor, roundID int64, step application.Step, days int) error {
	if err := c.Require(actor.PermRoundsManage); err != nil {
		return err
	}
	if _, ok := DefaultLimits[step]; !ok {
		return apperr.Field("step", "未知的办理环节："+string(step))
	}
	if days < 1 || days > 200 {
		return apperr.Field("days", "办理时限应为1至200个工作日")
	}
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM rounds WHERE id = $1`, roundID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return apperr.New(apperr.NotFound, "年度批次不存在")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `INSERT INTO step_limits (round_id, step, days, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (round_id, step) DO UPDATE SET days = excluded.days, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			roundID, string(step), days, c.Login, db.Micros(s.clock.Now())); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "casework.limit.set", ObjectType: "round", ObjectID: itoa(roundID),
			Reason: string(step) + "=" + strconv.Itoa(days)})
	})
}

// Due is the deadline of step begun at start in a round: the end of the
// limit's last working day (Beijing time), or the zero time for a step
// without a limit. It implements application.Deadlines.
func (s *Service) Due(ctx context.Context, roundID int64, step application.Step, start time.Time) (time.Time, error) {
	days, ok := DefaultLimits[step]
	if !ok {
		return time.Time{}, nil
	}
	var n int
	err := s.db.QueryRow(ctx, `SELECT days FROM step_limits WHERE round_id = $1 AND step = $2`, roundID, string(step)).Scan(&n)
	switch {
	case err == nil:
		days = n
	case !db.IsNoRows(err):
		return time.Time{}, err
	}
	return s.cal.AddWorkingDays(ctx, start, days)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
