package round

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Limits of a round's settings.
const (
	MinYear     = 2018 // the first round of the scheme
	MaxYear     = 2100
	MaxQuota    = 100000
	maxTitleLen = 60
)

// Input is what a city officer sets on a round.
type Input struct {
	Year     int
	Rulebook string // a version of rules.Versions()
	// OtherRulebook confirms a rulebook other than the one in force for
	// the year (rules.ForYear); without it such a choice is refused as a
	// likely mistake.
	OtherRulebook bool
	Quota         int
	Title         string   // empty: "2027年度积分落户"
	Windows       []Window // one per kind; any order
}

// InputOf returns the settings of r, as an edit form starts from. A title
// that is the default for the year comes back empty, so that it follows a
// corrected year.
func InputOf(r *Round) Input {
	in := Input{Year: r.Year, Rulebook: r.Rulebook, Quota: r.Quota, Title: r.Title,
		Windows: append([]Window(nil), r.Windows...)}
	if in.Title == defaultTitle(r.Year) {
		in.Title = ""
	}
	if b, err := rules.ForYear(r.Year); err != nil || b.Version() != r.Rulebook {
		in.OtherRulebook = true
	}
	return in
}

// OpensField and ClosesField name the fields of a window's times in field
// errors and forms, e.g. "windows.application.opens_at".
func OpensField(k Kind) string { return "windows." + string(k) + ".opens_at" }

// ClosesField names the field of a window's closing time.
func ClosesField(k Kind) string { return "windows." + string(k) + ".closes_at" }

func require(by actor.Actor) error {
	if !by.Can(actor.PermRoundsManage) {
		return apperr.New(apperr.Forbidden, "您没有管理年度批次的权限")
	}
	return nil
}

// Validate checks in as Create (id 0) or Update of round id would, without
// changing anything. Forms call it to show every error at once.
func (s *Service) Validate(ctx context.Context, id int64, in Input) error {
	var old *Round
	if id != 0 {
		var err error
		if old, err = s.Get(ctx, id); err != nil {
			return err
		}
	}
	_, err := s.check(ctx, old, in)
	return err
}

// Create adds a round on behalf of a city officer, audited as round.create
// in the same transaction.
func (s *Service) Create(ctx context.Context, by actor.Actor, in Input) (*Round, error) {
	if err := require(by); err != nil {
		return nil, err
	}
	var id int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		in, err := s.check(ctx, nil, in)
		if err != nil {
			return err
		}
		now := db.Micros(s.clock.Now())
		err = s.db.QueryRow(ctx, `INSERT INTO rounds (year, rulebook, quota, title, created_at, updated_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, in.Year, in.Rulebook, in.Quota, in.Title, now, now, by.UserID).Scan(&id)
		if db.IsUniqueViolation(err) {
			return yearTaken(in.Year)
		}
		if err != nil {
			return apperr.Wrap(fmt.Errorf("insert round: %w", err))
		}
		if err := s.saveWindows(ctx, id, in.Windows); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "round.create", ObjectType: "round", ObjectID: strconv.FormatInt(id, 10),
			Reason: describe(in)})
	})
	s.forget(0)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Update changes round id on behalf of a city officer, audited as
// round.update with what changed. A round whose publication window has
// opened is refused with Conflict; so is a new year once the round has
// started. An update that changes nothing writes nothing.
func (s *Service) Update(ctx context.Context, by actor.Actor, id int64, in Input) (*Round, error) {
	if err := require(by); err != nil {
		return nil, err
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var locked int64
		err := s.db.QueryRow(ctx, `SELECT id FROM rounds WHERE id = $1`+s.db.ForUpdate(), id).Scan(&locked)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return apperr.Wrap(fmt.Errorf("lock round: %w", err))
		}
		old, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if old.Locked(now) {
			w, _ := old.Window(Publication)
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次已于 %s 进入发布阶段，不能再修改", old.Year, BeijingTime(w.OpensAt)))
		}
		if in, err = s.check(ctx, old, in); err != nil {
			return err
		}
		if old.Frozen() && (in.Rulebook != old.Rulebook || in.Year != old.Year) {
			return old.frozenError()
		}
		changes := diff(old, in)
		if len(changes) == 0 {
			return nil
		}
		_, err = s.db.Exec(ctx, `UPDATE rounds SET year = $1, rulebook = $2, quota = $3, title = $4, updated_at = $5 WHERE id = $6`,
			in.Year, in.Rulebook, in.Quota, in.Title, db.Micros(now), id)
		if db.IsUniqueViolation(err) {
			return yearTaken(in.Year)
		}
		if err != nil {
			return apperr.Wrap(fmt.Errorf("update round: %w", err))
		}
		if err := s.saveWindows(ctx, id, in.Windows); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "round.update", ObjectType: "round", ObjectID: strconv.FormatInt(id, 10),
			Reason: strings.Join(changes, "; ")})
	})
	s.forget(id)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

func defaultTitle(year int) string { return fmt.Sprintf("%d年度积分落户", year) }

func yearTaken(year int) error {
	return apperr.Field("year", fmt.Sprintf("%d年度的批次已存在，请修改原批次", year))
}

// saveWindows writes every window of a round, replacing the stored times.
func (s *Service) saveWindows(ctx context.Context, id int64, ws []Window) error {
	for _, w := range ws {
		if _, err := s.db.Exec(ctx, `INSERT INTO round_windows (round_id, kind, opens_at, closes_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (round_id, kind) DO UPDATE SET opens_at = excluded.opens_at, closes_at = excluded.closes_at`,
			id, string(w.Kind), db.Micros(w.OpensAt), db.Micros(w.ClosesAt)); err != nil {
			return apperr.Wrap(fmt.Errorf("save window %s: %w", w.Kind, err))
		}
	}
	return nil
}

// check validates in against the stored rounds (old is the round being
// changed, nil for a new one) and returns it normalised: title defaulted,
// windows in procedure order and at microsecond precision.
func (s *Service) check(ctx context.Context, old *Round, in Input) (Input, error) {
	var fe []apperr.FieldError
	add := func(field, format string, args ...any) {
		fe = append(fe, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	yearOK := in.Year >= MinYear && in.Year <= MaxYear
	switch {
	case !yearOK:
		add("year", "年度应为%d至%d之间的四位数字", MinYear, MaxYear)
	case old != nil && in.Year != old.Year && old.Started(s.clock.Now()):
		add("year", "该批次已经开始，不能修改年度（原为%d年度）", old.Year)
	default:
		if other, err := s.ByYear(ctx, in.Year); err == nil && (old == nil || other.ID != old.ID) {
			fe = append(fe, apperr.As(yearTaken(in.Year)).Fields...)
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return in, err
		}
	}
	if msg := checkRulebook(in.Year, yearOK, in.Rulebook, in.OtherRulebook); msg != "" {
		add("rulebook", "%s", msg)
	}
	if in.Quota < 1 || in.Quota > MaxQuota {
		add("quota", "落户指标应为1至%d之间的整数", MaxQuota)
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" && yearOK {
		in.Title = defaultTitle(in.Year)
	}
	if utf8.RuneCountInString(in.Title) > maxTitleLen {
		add("title", "名称不能超过%d个字", maxTitleLen)
	}
	ws, wfe := checkWindows(in.Year, yearOK, in.Windows)
	in.Windows = ws
	return in, apperr.Fields(append(fe, wfe...))
}

// checkRulebook says what is wrong with a rulebook choice, or "".
func checkRulebook(year int, yearOK bool, version string, other bool) string {
	if version == "" {
		return "请选择积分规则版本"
	}
	if _, err := rules.Book(version); err != nil {
		return fmt.Sprintf("没有%s版积分规则，可选版本为%s", version, strings.Join(rules.Versions(), "、"))
	}
	if !yearOK || other {
		return ""
	}
	inForce, err := rules.ForYear(year)
	switch {
	case err != nil:
		return fmt.Sprintf("%d年度没有适用的积分规则；如确需使用%s版，请勾选“使用其他版本的积分规则”", year, version)
	case inForce.Version() != version:
		return fmt.Sprintf("%d年度适用%s版积分规则；如确需使用%s版，请勾选“使用其他版本的积分规则”", year, inForce.Version(), version)
	}
	return ""
}

// checkWindows validates the schedule: every kind once, each opening before
// its closing, each opening not before the previous kind's opening (windows
// may overlap), and every time within a year of the round's year, which
// catches a mistyped year.
func checkWindows(year int, yearOK bool, in []Window) ([]Window, []apperr.FieldError) {
	var fe []apperr.FieldError
	add := func(field, format string, args ...any) {
		fe = append(fe, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	byKind := map[Kind]Window{}
	for _, w := range in {
		if _, dup := byKind[w.Kind]; !w.Kind.Valid() || dup {
			add("windows", "时间窗口“%s”无法识别或重复", w.Kind)
			continue
		}
		byKind[w.Kind] = w
	}
	from := time.Date(year-1, 1, 1, 0, 0, 0, 0, clock.Beijing)
	to := time.Date(year+2, 1, 1, 0, 0, 0, 0, clock.Beijing)
	inRange := func(t time.Time) bool { return !yearOK || (!t.Before(from) && t.Before(to)) }
	var out []Window
	var prev *Window
	for _, k := range kinds {
		w := byKind[k]
		w.Kind = k
		w.OpensAt, w.ClosesAt = w.OpensAt.UTC().Truncate(time.Microsecond), w.ClosesAt.UTC().Truncate(time.Microsecond)
		opensOK, closesOK := !w.OpensAt.IsZero(), !w.ClosesAt.IsZero()
		switch {
		case !opensOK:
			add(OpensField(k), "请填写%s的开始时间", k.Name())
		case !inRange(w.OpensAt):
			opensOK = false
			add(OpensField(k), "%s的开始时间应在%d年至%d年之间", k.Name(), year-1, year+1)
		case prev != nil && w.OpensAt.Before(prev.OpensAt):
			add(OpensField(k), "%s的开始时间不能早于%s的开始时间（%s）", k.Name(), prev.Kind.Name(), BeijingTime(prev.OpensAt))
		}
		switch {
		case !closesOK:
			add(ClosesField(k), "请填写%s的结束时间", k.Name())
		case !inRange(w.ClosesAt):
			add(ClosesField(k), "%s的结束时间应在%d年至%d年之间", k.Name(), year-1, year+1)
		case opensOK && !w.OpensAt.Before(w.ClosesAt):
			add(ClosesField(k), "%s的结束时间应晚于开始时间（%s）", k.Name(), BeijingTime(w.OpensAt))
		}
		out = append(out, w)
		if opensOK {
			p := w
			prev = &p
		}
	}
	return out, fe
}
