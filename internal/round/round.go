// Package round holds the annual rounds of the points scheme (年度积分落户批次):
// the year, the rulebook version that scores it, the quota, and the dated
// windows of the procedure (DOMAIN.md §3).
//
// A window is open from its opening time (inclusive) to its closing time
// (exclusive). Nothing opens or closes a window: every action compares the
// injected clock with the stored times, on the server, through RequireOpen.
// A changed schedule therefore takes effect at once, without a restart or a
// scheduler.
package round

import (
	"fmt"
	"slices"
	"time"

	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
)

// Kind names a window of the procedure.
type Kind string

// The window kinds, in the order of the procedure.
const (
	EmployerRegistration Kind = "employer_registration" // 单位注册
	Application          Kind = "application"           // 个人填报 (and 关联单位)
	EmployerSubmission   Kind = "employer_submission"   // 单位确认提交
	Crosscheck           Kind = "crosscheck"            // 数据比对
	ResultViewing        Kind = "result_viewing"        // 查看初核结果
	Review               Kind = "review"                // 复查及现场审核
	Publication          Kind = "publication"           // 发布
	PublicNotice         Kind = "public_notice"         // 公示
	Settlement           Kind = "settlement"            // 落户办理
)

var kinds = []Kind{EmployerRegistration, Application, EmployerSubmission, Crosscheck, ResultViewing, Review,
	Publication, PublicNotice, Settlement}

var kindNames = map[Kind]string{
	EmployerRegistration: "单位注册",
	Application:          "个人填报",
	EmployerSubmission:   "单位确认提交",
	Crosscheck:           "数据比对",
	ResultViewing:        "查看初核结果",
	Review:               "复查及现场审核",
	Publication:          "发布",
	PublicNotice:         "公示",
	Settlement:           "落户办理",
}

// Kinds lists every window kind in the order of the procedure.
func Kinds() []Kind { return slices.Clone(kinds) }

// Valid reports whether k is a known window kind.
func (k Kind) Valid() bool { _, ok := kindNames[k]; return ok }

// Name is the Chinese name of the window, as users see it.
func (k Kind) Name() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return string(k)
}

// BeijingTime formats t as people read it: 2026-03-01 09:00, Beijing time.
func BeijingTime(t time.Time) string { return t.In(clock.Beijing).Format("2006-01-02 15:04") }

// Window is one dated step of a round.
type Window struct {
	Kind     Kind
	OpensAt  time.Time // inclusive
	ClosesAt time.Time // exclusive
}

// Name is the Chinese name of the window's kind.
func (w Window) Name() string { return w.Kind.Name() }

// Open reports whether the window is open at now.
func (w Window) Open(now time.Time) bool { return !now.Before(w.OpensAt) && now.Before(w.ClosesAt) }

// Round is one year's round.
type Round struct {
	ID        int64
	Year      int
	Rulebook  string // rulebook version, see rules.Book
	Quota     int    // settlement places (落户指标)
	Title     string
	Windows   []Window // in the order of Kinds; a kind may be missing only in rows written outside this package
	CreatedAt time.Time
	UpdatedAt time.Time
	CreatedBy int64
	// FrozenAt is when the round was frozen (zero while it is not) and
	// FrozenBy who froze it (freeze.go). StateVersion guards freezing and
	// reopening against concurrent changes.
	FrozenAt     time.Time
	FrozenBy     int64
	StateVersion int
}

// Window returns the round's window of kind k.
func (r *Round) Window(k Kind) (Window, bool) {
	for _, w := range r.Windows {
		if w.Kind == k {
			return w, true
		}
	}
	return Window{}, false
}

// Open reports whether the window of kind k is open at now.
func (r *Round) Open(k Kind, now time.Time) bool {
	w, ok := r.Window(k)
	return ok && w.Open(now)
}

// OpenNow lists the kinds whose windows are open at now, in procedure order.
func (r *Round) OpenNow(now time.Time) []Kind {
	var out []Kind
	for _, w := range r.Windows {
		if w.Open(now) {
			out = append(out, w.Kind)
		}
	}
	return out
}

// Next returns the window that opens next after now: the earliest opening
// still to come (procedure order breaks ties).
func (r *Round) Next(now time.Time) (Window, bool) {
	var next Window
	found := false
	for _, w := range r.Windows {
		if w.OpensAt.After(now) && (!found || w.OpensAt.Before(next.OpensAt)) {
			next, found = w, true
		}
	}
	return next, found
}

// Starts is the opening of the round's earliest window, or the zero time
// for a round without windows.
func (r *Round) Starts() time.Time {
	var first time.Time
	for _, w := range r.Windows {
		if first.IsZero() || w.OpensAt.Before(first) {
			first = w.OpensAt
		}
	}
	return first
}

// Started reports whether the round's first window has opened by now.
func (r *Round) Started(now time.Time) bool {
	s := r.Starts()
	return !s.IsZero() && !now.Before(s)
}

// Locked reports whether the round can no longer be changed: its
// publication window has opened, so scores, ranks and the cutoff are out.
func (r *Round) Locked(now time.Time) bool {
	w, ok := r.Window(Publication)
	return ok && !now.Before(w.OpensAt)
}

// RequireOpen returns nil when the window of kind k is open at now, and
// otherwise a Conflict error that tells the user, in Chinese, when it opens
// or when it closed.
func (r *Round) RequireOpen(k Kind, now time.Time) error {
	if !k.Valid() {
		return apperr.Wrap(fmt.Errorf("round: unknown window kind %q", k))
	}
	w, ok := r.Window(k)
	switch {
	case !r.FrozenAt.IsZero() && frozenKinds[k]:
		return r.frozenError()
	case !ok:
		return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次未设置%s时间", r.Year, k.Name()))
	case now.Before(w.OpensAt):
		return apperr.New(apperr.Conflict, fmt.Sprintf("%s尚未开始，开始时间 %s", k.Name(), BeijingTime(w.OpensAt)))
	case !now.Before(w.ClosesAt):
		return apperr.New(apperr.Conflict, fmt.Sprintf("%s已于 %s 结束", k.Name(), BeijingTime(w.ClosesAt)))
	}
	return nil
}
