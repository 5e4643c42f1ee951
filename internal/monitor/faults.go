package monitor

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// Fault is a fault record (故障处理报告).
type Fault struct {
	ID          int64        `json:"id"`
	Title       string       `json:"title"`
	Severity    string       `json:"severity"`
	Status      string       `json:"status"` // open | review | closed
	AlertID     int64        `json:"alert_id"`
	Impact      string       `json:"impact"`
	Cause       string       `json:"cause"`
	Fix         string       `json:"fix"`
	Followups   string       `json:"followups"`
	StartedAt   time.Time    `json:"started_at"`
	EndedAt     time.Time    `json:"ended_at,omitzero"`
	SubmittedBy int64        `json:"submitted_by"`
	ClosedBy    int64        `json:"closed_by"`
	ClosedAt    time.Time    `json:"closed_at,omitzero"`
	Version     int          `json:"version"`
	Events      []FaultEvent `json:"events,omitempty"`
}

// FaultEvent is one line of a fault's timeline.
type FaultEvent struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Kind string    `json:"kind"`
	Text string    `json:"text"`
}

// FaultStatusNames are the statuses in Chinese.
var FaultStatusNames = map[string]string{"open": "处理中", "review": "待复核", "closed": "已关闭"}

const faultColumns = `id, title, severity, status, alert_id, impact, cause, fix, followups, started_at, ended_at, submitted_by, closed_by, closed_at, version`

func scanFault(sc interface{ Scan(...any) error }) (*Fault, error) {
	f := &Fault{}
	var st, en, cl int64
	if err := sc.Scan(&f.ID, &f.Title, &f.Severity, &f.Status, &f.AlertID, &f.Impact, &f.Cause, &f.Fix, &f.Followups, &st, &en,
		&f.SubmittedBy, &f.ClosedBy, &cl, &f.Version); err != nil {
		return nil, err
	}
	f.StartedAt = db.FromMicros(st)
	if en != 0 {
		f.EndedAt = db.FromMicros(en)
	}
	if cl != 0 {
		f.ClosedAt = db.FromMicros(cl)
	}
	return f, nil
}

func requireOps(by actor.Actor) error { return by.Require(actor.PermConfigManage) }

// openFault inserts a fault record with its first event, in the caller's
// transaction.
func (s *Service) openFault(ctx context.Context, by actor.Actor, title, severity string, alertID int64, at time.Time, text string) (int64, error) {
	now := db.Micros(s.clock.Now())
	var id int64
	if err := s.db.QueryRow(ctx, `INSERT INTO faults (title, severity, status, alert_id, started_at, opened_by, created_at, updated_at)
		VALUES ($1, $2, 'open', $3, $4, $5, $6, $6) RETURNING id`, title, severity, alertID, db.Micros(at), by.UserID, now).Scan(&id); err != nil {
		return 0, err
	}
	return id, s.addEvent(ctx, id, by, "opened", text, s.clock.Now())
}

func (s *Service) addEvent(ctx context.Context, faultID int64, by actor.Actor, kind, text string, at time.Time) error {
	name := by.Name
	if name == "" {
		name = by.Login
	}
	if name == "" {
		name = "系统"
	}
	_, err := s.db.Exec(ctx, `INSERT INTO fault_events (fault_id, at, by_user, by_name, kind, text) VALUES ($1, $2, $3, $4, $5, $6)`,
		faultID, db.Micros(at), by.UserID, name, kind, text)
	return err
}

// OpenFault opens a fault record by hand.
func (s *Service) OpenFault(ctx context.Context, by actor.Actor, title, severity, impact string) (int64, error) {
	if err := requireOps(by); err != nil {
		return 0, err
	}
	title = strings.TrimSpace(title)
	var fe []apperr.FieldError
	if n := utf8.RuneCountInString(title); n < 2 || n > 100 {
		fe = append(fe, apperr.FieldError{Field: "title", Message: "请填写故障标题（2到100个字）"})
	}
	if severity != "warning" && severity != "critical" {
		fe = append(fe, apperr.FieldError{Field: "severity", Message: "请选择级别：警告或严重"})
	}
	if err := apperr.Fields(fe); err != nil {
		return 0, err
	}
	var id int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if id, err = s.openFault(ctx, by, title, severity, 0, s.clock.Now(), "手工登记故障"); err != nil {
			return err
		}
		if impact != "" {
			if _, err := s.db.Exec(ctx, `UPDATE faults SET impact = $1 WHERE id = $2`, limit(impact), id); err != nil {
				return err
			}
		}
		return s.audit.Record(ctx, audit.Entry{ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()),
			Action: "monitor.fault_open", ObjectType: "fault", ObjectID: strconv.FormatInt(id, 10), Reason: title})
	})
	return id, apperrOf(err)
}

func limit(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 4000 {
		s = string([]rune(s)[:4000])
	}
	return s
}

func apperrOf(err error) error {
	if err == nil {
		return nil
	}
	if ae := apperr.As(err); ae.Code != apperr.Internal || ae.Err == nil {
		return ae
	}
	return apperr.Wrap(err)
}

// Fault returns a fault record with its timeline.
func (s *Service) Fault(ctx context.Context, by actor.Actor, id int64) (*Fault, error) {
	if err := requireOps(by); err != nil {
		return nil, err
	}
	f, err := scanFault(s.db.QueryRow(ctx, `SELECT `+faultColumns+` FROM faults WHERE id = $1`, id))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.NotFound, "没有这条故障记录")
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	rows, err := s.db.Query(ctx, `SELECT at, by_name, kind, text FROM fault_events WHERE fault_id = $1 ORDER BY at, id`, id)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e FaultEvent
		var at int64
		if err := rows.Scan(&at, &e.By, &e.Kind, &e.Text); err != nil {
			return nil, apperr.Wrap(err)
		}
		e.At = db.FromMicros(at)
		f.Events = append(f.Events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return f, nil
}

// Faults lists fault records, newest first; from/to bound their start
// (zero: no bound).
func (s *Service) Faults(ctx context.Context, by actor.Actor, from, to time.Time) ([]Fault, error) {
	if err := requireOps(by); err != nil {
		return nil, err
	}
	hi := int64(1) << 62
	if !to.IsZero() {
		hi = db.Micros(to)
	}
	rows, err := s.db.Query(ctx, `SELECT `+faultColumns+` FROM faults WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at DESC LIMIT 500`,
		db.Micros(from), hi)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Fault
	for rows.Next() {
		f, err := scanFault(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, *f)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// FaultUpdate is what an operator writes into an open fault record.
type FaultUpdate struct {
	Impact, Cause, Fix, Followups string
	Note                          string // a line for the timeline
	Version                       int
}

// UpdateFault writes impact, cause, fix and follow-ups of an open record
// and adds the note to its timeline.
func (s *Service) UpdateFault(ctx context.Context, by actor.Actor, id int64, u FaultUpdate) error {
	if err := requireOps(by); err != nil {
		return err
	}
	return apperrOf(s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `UPDATE faults SET impact = $1, cause = $2, fix = $3, followups = $4, version = version + 1, updated_at = $5
			WHERE id = $6 AND version = $7 AND status = 'open'`, limit(u.Impact), limit(u.Cause), limit(u.Fix), limit(u.Followups),
			db.Micros(s.clock.Now()), id, u.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该故障记录已被他人修改或已提交复核，请刷新后重试")
		}
		note := strings.TrimSpace(u.Note)
		if note == "" {
			note = "更新了故障记录"
		}
		return s.addEvent(ctx, id, by, "note", limit(note), s.clock.Now())
	}))
}

// SubmitFault asks for the record's review: impact, cause and fix must be
// written.
func (s *Service) SubmitFault(ctx context.Context, by actor.Actor, id int64, version int) error {
	if err := requireOps(by); err != nil {
		return err
	}
	return apperrOf(s.db.WithTx(ctx, func(ctx context.Context) error {
		f, err := scanFault(s.db.QueryRow(ctx, `SELECT `+faultColumns+` FROM faults WHERE id = $1`, id))
		if db.IsNoRows(err) {
			return apperr.New(apperr.NotFound, "没有这条故障记录")
		}
		if err != nil {
			return err
		}
		var fe []apperr.FieldError
		for _, c := range []struct{ field, v, msg string }{{"impact", f.Impact, "请填写影响（涉及哪些用户、多长时间）"},
			{"cause", f.Cause, "请填写故障原因"}, {"fix", f.Fix, "请填写处理措施"}} {
			if c.v == "" {
				fe = append(fe, apperr.FieldError{Field: c.field, Message: c.msg})
			}
		}
		if err := apperr.Fields(fe); err != nil {
			return err
		}
		res, err := s.db.Exec(ctx, `UPDATE faults SET status = 'review', submitted_by = $1, version = version + 1, updated_at = $2
			WHERE id = $3 AND version = $4 AND status = 'open'`, by.UserID, db.Micros(s.clock.Now()), id, version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该故障记录已被他人修改或已提交复核，请刷新后重试")
		}
		return s.addEvent(ctx, id, by, "submitted", "提交复核", s.clock.Now())
	}))
}

// ReviewFault is the second person's review: approve closes the record;
// otherwise it goes back open with the reason. The one who submitted it
// may not review it.
func (s *Service) ReviewFault(ctx context.Context, by actor.Actor, id int64, version int, approve bool, reason string) error {
	if err := requireOps(by); err != nil {
		return err
	}
	return apperrOf(s.db.WithTx(ctx, func(ctx context.Context) error {
		f, err := scanFault(s.db.QueryRow(ctx, `SELECT `+faultColumns+` FROM faults WHERE id = $1`, id))
		if db.IsNoRows(err) {
			return apperr.New(apperr.NotFound, "没有这条故障记录")
		}
		if err != nil {
			return err
		}
		if f.Status != "review" {
			return apperr.New(apperr.Conflict, "该故障记录不在待复核状态")
		}
		if f.SubmittedBy == by.UserID {
			return apperr.New(apperr.Forbidden, "故障记录须由提交人以外的另一位管理员复核")
		}
		now := db.Micros(s.clock.Now())
		var res sql.Result
		if approve {
			res, err = s.db.Exec(ctx, `UPDATE faults SET status = 'closed', closed_by = $1, closed_at = $2, version = version + 1, updated_at = $2
				WHERE id = $3 AND version = $4 AND status = 'review'`, by.UserID, now, id, version)
		} else {
			if strings.TrimSpace(reason) == "" {
				return apperr.Field("reason", "退回时请说明原因")
			}
			res, err = s.db.Exec(ctx, `UPDATE faults SET status = 'open', version = version + 1, updated_at = $1
				WHERE id = $2 AND version = $3 AND status = 'review'`, now, id, version)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该故障记录已被他人修改，请刷新后重试")
		}
		text := "复核通过，关闭"
		if !approve {
			text = "复核退回：" + limit(reason)
		}
		if err := s.addEvent(ctx, id, by, "reviewed", text, s.clock.Now()); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()),
			Action: "monitor.fault_review", ObjectType: "fault", ObjectID: strconv.FormatInt(id, 10), Reason: text})
	}))
}
