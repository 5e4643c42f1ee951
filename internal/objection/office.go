package objection

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// PageSize is how many objections a page of the queue shows.
const PageSize = 50

// Filter selects objections of the queue.
type Filter struct {
	Status Status // "" for every status
	Year   int    // 0 for every year
	Page   int    // from 1
}

// Queue is a page of the queue, oldest first, with the count per status of
// the filter's year.
type Queue struct {
	Rows   []*Objection
	Counts map[Status]int
	Total  int
	Next   bool
}

// Queue lists objections for a city officer.
func (s *Service) Queue(ctx context.Context, by actor.Actor, f Filter) (*Queue, error) {
	if err := requireOfficer(by); err != nil {
		return nil, err
	}
	if f.Status != "" && StatusName(f.Status) == "" {
		return nil, apperr.Field("status", "没有这种状态")
	}
	var w db.Where
	if f.Year != 0 {
		w.And("year = ?", f.Year)
	}
	out := &Queue{Counts: map[Status]int{}}
	if err := s.count(ctx, &w, out); err != nil {
		return nil, apperr.Wrap(err)
	}
	if f.Status != "" {
		w.And("status = ?", string(f.Status))
	}
	page := max(f.Page, 1)
	q := selectObjection + w.SQL() + ` ORDER BY id LIMIT ` + w.Arg(PageSize+1) + ` OFFSET ` + w.Arg((page-1)*PageSize)
	rows, err := s.db.Query(ctx, q, w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		o, err := scanObjection(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out.Rows = append(out.Rows, o)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	if len(out.Rows) > PageSize {
		out.Rows, out.Next = out.Rows[:PageSize], true
	}
	return out, nil
}

// count fills the queue's count per status under the conditions of w.
func (s *Service) count(ctx context.Context, w *db.Where, out *Queue) error {
	rows, err := s.db.Query(ctx, `SELECT status, count(*) FROM objections`+w.SQL()+` GROUP BY status`, w.Args()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return err
		}
		out.Counts[Status(st)] = n
		out.Total += n
	}
	return rows.Err()
}

// Detail returns an objection with its contact unsealed and its timeline.
func (s *Service) Detail(ctx context.Context, by actor.Actor, id int64) (*Objection, error) {
	if err := requireOfficer(by); err != nil {
		return nil, err
	}
	o, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.contactEnc != "" {
		c, err := s.keys.DecryptString(o.contactEnc, contactAD(o.Receipt))
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		o.Contact = c
	}
	rows, err := s.db.Query(ctx, `SELECT kind, actor_id, note, at FROM objection_events WHERE objection_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.Kind, &e.ActorID, &e.Note, &at); err != nil {
			return nil, apperr.Wrap(err)
		}
		e.At = db.FromMicros(at)
		o.Events = append(o.Events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return o, nil
}

// Officer is a city officer an objection can be assigned to.
type Officer struct {
	ID   int64
	Name string
}

// Officers lists the active city officers, for the assignment form.
func (s *Service) Officers(ctx context.Context) ([]Officer, error) {
	rows, err := s.db.Query(ctx, `SELECT id, display_name, login FROM users WHERE disabled = $1
		AND id IN (SELECT user_id FROM user_roles WHERE role = $2) ORDER BY id`, false, string(actor.CityOfficer))
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Officer
	for rows.Next() {
		var o Officer
		var login string
		if err := rows.Scan(&o.ID, &o.Name, &login); err != nil {
			return nil, apperr.Wrap(err)
		}
		if o.Name == "" {
			o.Name = login
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// cityOfficer returns the name of user id when an active city officer,
// "" otherwise.
func (s *Service) cityOfficer(ctx context.Context, id int64) (string, error) {
	var name, login string
	err := s.db.QueryRow(ctx, `SELECT display_name, login FROM users WHERE id = $1 AND disabled = $2
		AND id IN (SELECT user_id FROM user_roles WHERE role = $3)`, id, false, string(actor.CityOfficer)).Scan(&name, &login)
	if db.IsNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if name == "" {
		name = login
	}
	return name, nil
}

// conflict is the answer when the objection is no longer as the page
// showed it: someone acted first, or the same form was sent twice.
func conflict(o *Objection) error {
	return apperr.New(apperr.Conflict, "该异议已被其他人员处理（当前状态："+o.StatusName()+"），请刷新页面后查看")
}

// change is what an office step writes: the columns it sets (placeholders
// $1… for args), then what else it does once the row is won (then), the
// timeline line and the audit action.
type change struct {
	set    string
	args   []any
	then   func(ctx context.Context) error
	event  string
	note   string
	action string
}

// step runs one office step on objection id in a transaction: it reads the
// objection, checks that the officer's version is current and that it is
// not answered, lets fn check it and say what changes, then writes the
// conditional update, the rest of the change, the timeline and the audit
// entry. Only the officer whose update changed the row goes on to then.
func (s *Service) step(ctx context.Context, by actor.Actor, id int64, version int,
	fn func(ctx context.Context, o *Objection) (*change, error)) (*Objection, error) {
	if err := requireOfficer(by); err != nil {
		return nil, err
	}
	var out *Objection
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		o, err := s.load(ctx, id)
		if err != nil {
			return err
		}
		if s.afterLoad != nil {
			s.afterLoad()
		}
		if o.Status == Answered || version != 0 && o.Version != version {
			return conflict(o)
		}
		c, err := fn(ctx, o)
		if err != nil {
			return err
		}
		// The update is conditional on what was read: of two officers
		// writing from the same version, one changes no row.
		var w db.Where
		for _, a := range c.args {
			w.Arg(a)
		}
		q := `UPDATE objections SET ` + c.set + `, version = version + 1, updated_at = ` + w.Arg(db.Micros(s.clock.Now())) +
			` WHERE id = ` + w.Arg(id) + ` AND status = ` + w.Arg(string(o.Status)) + ` AND version = ` + w.Arg(o.Version)
		res, err := s.db.Exec(ctx, q, w.Args()...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			if err != nil {
				return err
			}
			return conflict(o)
		}
		if c.then != nil {
			if err := c.then(ctx); err != nil {
				return err
			}
		}
		if err := s.event(ctx, id, c.event, by.UserID, c.note); err != nil {
			return err
		}
		if err := s.record(ctx, by, c.action, id, c.note); err != nil {
			return err
		}
		out, err = s.load(ctx, id)
		return err
	})
	if err != nil {
		if apperr.As(err) == nil {
			return nil, apperr.Wrap(err)
		}
		return nil, err
	}
	return out, nil
}

// Assign gives the objection to a city officer (the caller or another);
// version is the one the officer's page showed.
func (s *Service) Assign(ctx context.Context, by actor.Actor, id, to int64, version int) (*Objection, error) {
	return s.step(ctx, by, id, version, func(ctx context.Context, o *Objection) (*change, error) {
		name, err := s.cityOfficer(ctx, to)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, apperr.Field("assign_to", "请选择一名市人力社保局经办人员")
		}
		if o.AssignedTo == to {
			return nil, apperr.New(apperr.Conflict, "该异议已由该经办人员办理")
		}
		return &change{set: "assigned_to = $1", args: []any{to}, event: "assigned", note: "分配给" + name,
			action: "objection.assign"}, nil
	})
}

// Investigate records a note of the investigation on the timeline; the
// objection must be assigned to the officer, and goes from lodged to
// investigating.
func (s *Service) Investigate(ctx context.Context, by actor.Actor, id int64, note string, version int) (*Objection, error) {
	note = strings.TrimSpace(note)
	if msg := checkText(note, true); msg != "" {
		return nil, apperr.Field("note", "调查记录"+msg)
	}
	if n := utf8.RuneCountInString(note); n < 1 || n > MaxText {
		return nil, apperr.Field("note", fmt.Sprintf("请填写调查记录（不超过%d字）", MaxText))
	}
	return s.step(ctx, by, id, version, func(ctx context.Context, o *Objection) (*change, error) {
		if o.AssignedTo != by.UserID {
			return nil, apperr.New(apperr.Conflict, "该异议未分配给您，请先分配给自己再记录调查情况")
		}
		return &change{set: "status = $1", args: []any{string(Investigating)}, event: "note", note: note,
			action: "objection.investigate"}, nil
	})
}

// Answer closes the objection with an outcome and an answer the person
// reads with the receipt. An objection assigned to another officer is
// theirs to answer; an unassigned one any city officer may answer, and
// holds. An upheld objection sends its case back to case handling
// (Cases.ReturnForObjection) in the same transaction: if that fails,
// nothing is written.
func (s *Service) Answer(ctx context.Context, by actor.Actor, id int64, outcome Outcome, answer string, version int) (*Objection, error) {
	answer = strings.TrimSpace(answer)
	var fe []apperr.FieldError
	if OutcomeName(outcome) == "" {
		fe = append(fe, apperr.FieldError{Field: "outcome", Message: "请选择异议是否成立"})
	}
	if msg := checkText(answer, true); msg != "" {
		fe = append(fe, apperr.FieldError{Field: "answer", Message: "答复意见" + msg})
	} else if n := utf8.RuneCountInString(answer); n < MinText || n > MaxText {
		fe = append(fe, apperr.FieldError{Field: "answer", Message: fmt.Sprintf("请填写答复意见（%d到%d字，现为%d字）", MinText, MaxText, n)})
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}
	return s.step(ctx, by, id, version, func(ctx context.Context, o *Objection) (*change, error) {
		if o.AssignedTo != 0 && o.AssignedTo != by.UserID {
			return nil, apperr.New(apperr.Conflict, "该异议已分配给其他经办人员，由其答复")
		}
		c := &change{set: "status = $1, outcome = $2, answer = $3, answered_at = $4, answered_by = $5, assigned_to = $5",
			args:  []any{string(Answered), string(outcome), answer, db.Micros(s.clock.Now()), by.UserID},
			event: "answered", note: OutcomeName(outcome) + "：" + answer, action: "objection.answer." + string(outcome)}
		if outcome == Upheld {
			c.then = func(ctx context.Context) error {
				_, cases := s.publication()
				return cases.ReturnForObjection(ctx, by, o.Year, o.Number, o.Receipt, answer)
			}
		}
		return c, nil
	})
}

// OpenAttachment returns the objection's attachment for an officer, with
// its sniffed type and size; each opening is audited.
func (s *Service) OpenAttachment(ctx context.Context, by actor.Actor, id int64) (io.ReadCloser, *Objection, error) {
	if err := requireOfficer(by); err != nil {
		return nil, nil, err
	}
	o, err := s.load(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if o.AttachmentKey == "" {
		return nil, nil, apperr.New(apperr.NotFound, "该异议没有附件")
	}
	if err := s.record(ctx, by, "objection.view_attachment", id, ""); err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	rc, err := s.store.Open(ctx, o.AttachmentKey)
	if err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	return rc, o, nil
}
