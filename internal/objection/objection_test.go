package objection_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/casetest"
	"jifen/internal/objection"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/db"
)

// fakeLists publishes 2027's list with rows 202700001–202700003 and a
// notice period around the test clock's day.
type fakeLists struct {
	start, end time.Time
}

func (f *fakeLists) Notice(year int) (time.Time, time.Time, bool) {
	return f.start, f.end, year == 2027
}

func (f *fakeLists) Has(year int, number string) bool {
	return year == 2027 && (number == "202700001" || number == "202700002" || number == "202700003")
}

// fakeCases records the cases sent back; err, when set, is its answer. It
// writes a row of its own in the caller's transaction (an audit entry) so
// a rollback is visible.
type fakeCases struct {
	mu    sync.Mutex
	calls []string
	err   error
	audit *audit.Log
}

func (f *fakeCases) ReturnForObjection(ctx context.Context, by actor.Actor, year int, number, receipt, reason string) error {
	f.mu.Lock()
	f.calls = append(f.calls, strconv.Itoa(year)+"/"+number+"/"+receipt)
	f.mu.Unlock()
	if err := f.audit.Record(ctx, audit.Entry{ActorID: by.UserID, Action: "round.reopen_request", ObjectType: "round",
		ObjectID: strconv.Itoa(year), Reason: reason}); err != nil {
		return err
	}
	return f.err
}

type fixture struct {
	*casetest.Env
	svc   *objection.Service
	lists *fakeLists
	cases *fakeCases
	a, b  actor.Actor // city officers
	hd    actor.Actor // a district officer
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := casetest.New(t)
	store, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := env.Clock.Now()
	f := &fixture{Env: env, lists: &fakeLists{start: now.Add(-48 * time.Hour), end: now.Add(5 * 24 * time.Hour)},
		cases: &fakeCases{audit: env.Audit}}
	f.svc = objection.New(env.DB, env.Audit, env.Clock, env.Keys, store, f.lists, f.cases)
	f.a, f.b = f.officer(t, "city_a", account.CityOfficer), f.officer(t, "city_b", account.CityOfficer)
	f.hd = f.officer(t, "hd_a", account.DistrictOfficer)
	return f
}

func (f *fixture) officer(t *testing.T, login string, role account.Role) actor.Actor {
	t.Helper()
	district := ""
	if role == account.DistrictOfficer {
		district = "海淀区"
	}
	u, err := f.Accounts.CreateUser(f.Ctx, account.NewUser{Login: login, DisplayName: "测试" + login, Zone: account.Office,
		Password: casetest.Password, Roles: []account.Role{role}, District: district})
	if err != nil {
		t.Fatal(err)
	}
	return u.Actor()
}

const grounds = "该申请人的社保缴纳记录与实际工作单位不符，请核查。"

func (f *fixture) lodge(t *testing.T, number string) *objection.Receipt {
	t.Helper()
	r, err := f.svc.Lodge(f.Ctx, objection.Lodging{Year: 2027, Number: number, Grounds: grounds, Contact: "13800138000",
		File: bytes.NewReader(append([]byte("%PDF-1.4\n"), make([]byte, 100)...)), ClientAddr: "203.0.113.9"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) idOf(t *testing.T, receipt string) int64 {
	t.Helper()
	q, err := f.svc.Queue(f.Ctx, f.a, objection.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range q.Rows {
		if o.Receipt == receipt {
			return o.ID
		}
	}
	t.Fatalf("receipt %s not in the queue", receipt)
	return 0
}

func field(t *testing.T, err error, name string) string {
	t.Helper()
	ae := apperr.As(err)
	if ae == nil || ae.Code != apperr.Invalid {
		t.Fatalf("want a field error on %s, got %v", name, err)
	}
	for _, fe := range ae.Fields {
		if fe.Field == name {
			return fe.Message
		}
	}
	t.Fatalf("no error on %s in %+v", name, ae.Fields)
	return ""
}

func (f *fixture) actions(t *testing.T, id int64) []string {
	t.Helper()
	rows, err := f.Audit.Search(f.Ctx, audit.Filter{ObjectType: "objection", ObjectID: strconv.FormatInt(id, 10)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Action)
	}
	slices.Reverse(out) // the search answers newest first
	return out
}

// Lodge → assign → investigate → answer dismissed: the public view shows
// the status at each step and the answer only once answered, never the
// contact or the notes; every step is audited and on the timeline.
func TestLifecycleDismissed(t *testing.T) {
	f := setup(t)
	r := f.lodge(t, "202700002")
	if len(r.Receipt) != 19 || strings.Count(r.Receipt, "-") != 3 {
		t.Fatalf("receipt %q", r.Receipt)
	}
	// Typed in lower case without dashes, it is found.
	pub, err := f.svc.Get(f.Ctx, strings.ToLower(strings.ReplaceAll(r.Receipt, "-", "")))
	if err != nil || pub.Status != objection.Lodged || pub.Answer != "" || pub.Number != "202700002" {
		t.Fatalf("public view %+v %v", pub, err)
	}
	id := f.idOf(t, r.Receipt)
	o, err := f.svc.Detail(f.Ctx, f.a, id)
	if err != nil || o.Contact != "13800138000" || o.AttachmentType != "application/pdf" || o.Version != 1 {
		t.Fatalf("detail %+v %v", o, err)
	}
	// The contact is sealed at rest.
	var enc string
	if err := f.DB.QueryRow(f.Ctx, `SELECT contact_enc FROM objections WHERE id = $1`, id).Scan(&enc); err != nil ||
		enc == "" || strings.Contains(enc, "13800138000") {
		t.Fatalf("contact at rest %q %v", enc, err)
	}
	// A district officer may not work the queue.
	if _, err := f.svc.Queue(f.Ctx, f.hd, objection.Filter{}); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("district officer's queue: %v", err)
	}
	// Investigating needs the objection assigned to oneself.
	if _, err := f.svc.Investigate(f.Ctx, f.a, id, "调取社保记录", o.Version); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("investigate unassigned: %v", err)
	}
	if _, err := f.svc.Assign(f.Ctx, f.a, id, f.hd.UserID, o.Version); err == nil {
		t.Fatal("assigned to a district officer")
	}
	if o, err = f.svc.Assign(f.Ctx, f.a, id, f.a.UserID, o.Version); err != nil || o.AssignedTo != f.a.UserID {
		t.Fatalf("assign %+v %v", o, err)
	}
	// A stale version is a conflict.
	if _, err := f.svc.Investigate(f.Ctx, f.a, id, "调取社保记录", 1); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("stale version: %v", err)
	}
	if o, err = f.svc.Investigate(f.Ctx, f.a, id, "调取社保记录，单位与记录一致", o.Version); err != nil || o.Status != objection.Investigating {
		t.Fatalf("investigate %+v %v", o, err)
	}
	// Another officer cannot answer what a holds.
	if _, err := f.svc.Answer(f.Ctx, f.b, id, objection.Dismissed, "经核查，申请人社保记录真实有效。", o.Version); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("answer by another: %v", err)
	}
	if _, err := f.svc.Answer(f.Ctx, f.a, id, objection.Dismissed, "太短", o.Version); field(t, err, "answer") == "" {
		t.Fatal("short answer")
	}
	if o, err = f.svc.Answer(f.Ctx, f.a, id, objection.Dismissed, "经核查，申请人社保记录真实有效。", o.Version); err != nil ||
		o.Status != objection.Answered || o.Outcome != objection.Dismissed {
		t.Fatalf("answer %+v %v", o, err)
	}
	if len(f.cases.calls) != 0 {
		t.Fatalf("a dismissed objection sent a case back: %v", f.cases.calls)
	}
	// Answered is final.
	if _, err := f.svc.Answer(f.Ctx, f.a, id, objection.Upheld, "经核查，申请人社保记录真实有效。", o.Version); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("answer twice: %v", err)
	}
	pub, err = f.svc.Get(f.Ctx, r.Receipt)
	if err != nil || pub.Status != objection.Answered || pub.OutcomeName() != "不成立" || pub.Answer == "" || pub.AnsweredAt.IsZero() {
		t.Fatalf("public answer %+v %v", pub, err)
	}
	o, _ = f.svc.Detail(f.Ctx, f.a, id)
	var kinds []string
	for _, e := range o.Events {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "lodged,assigned,note,answered" {
		t.Fatalf("timeline %v", kinds)
	}
	if got := strings.Join(f.actions(t, id), ","); got != "objection.lodge,objection.assign,objection.investigate,objection.answer.dismissed" {
		t.Fatalf("audit %s", got)
	}
	// The attachment opens for an officer, audited.
	rc, _, err := f.svc.OpenAttachment(f.Ctx, f.a, id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	_ = rc.Close()
	if !bytes.HasPrefix(b, []byte("%PDF-")) || !strings.HasSuffix(strings.Join(f.actions(t, id), ","), "objection.view_attachment") {
		t.Fatalf("attachment %d bytes, audit %v", len(b), f.actions(t, id))
	}
}

// An upheld answer sends the case back once with the objection's year,
// number and receipt; when that fails, nothing of the answer is written.
func TestUpheldReturnsTheCaseOrNothing(t *testing.T) {
	f := setup(t)
	r := f.lodge(t, "202700001")
	id := f.idOf(t, r.Receipt)
	f.cases.err = apperr.New(apperr.Conflict, "复核申请已存在")
	_, err := f.svc.Answer(f.Ctx, f.a, id, objection.Upheld, "经核查，异议成立，退回案件重新审核。", 1)
	if apperr.CodeOf(err) != apperr.Conflict || len(f.cases.calls) != 1 {
		t.Fatalf("failed return: %v, %d calls", err, len(f.cases.calls))
	}
	o, err := f.svc.Detail(f.Ctx, f.a, id)
	if err != nil || o.Status != objection.Lodged || o.Version != 1 || len(o.Events) != 1 {
		t.Fatalf("after a failed return %+v %v", o, err)
	}
	if rows, _ := f.Audit.Search(f.Ctx, audit.Filter{ObjectType: "round"}); len(rows) != 0 {
		t.Fatalf("the case's writes were kept: %d", len(rows))
	}
	f.cases.err, f.cases.calls = nil, nil
	o, err = f.svc.Answer(f.Ctx, f.a, id, objection.Upheld, "经核查，异议成立，退回案件重新审核。", 1)
	if err != nil || o.Outcome != objection.Upheld {
		t.Fatalf("upheld %+v %v", o, err)
	}
	want := "2027/202700001/" + r.Receipt
	if len(f.cases.calls) != 1 || f.cases.calls[0] != want {
		t.Fatalf("calls %v, want [%s]", f.cases.calls, want)
	}
	if pub, _ := f.svc.Get(f.Ctx, r.Receipt); pub.OutcomeName() != "成立" {
		t.Fatalf("public %+v", pub)
	}
}

// Bad input is refused with a message naming the field (or the notice
// period), and stores nothing.
func TestLodgeRefusals(t *testing.T) {
	f := setup(t)
	pdf := func() io.Reader { return bytes.NewReader([]byte("%PDF-1.7 ...")) }
	base := objection.Lodging{Year: 2027, Number: "202700001", Grounds: grounds}
	cases := []struct {
		name  string
		edit  func(l *objection.Lodging)
		field string // "" for a non-field refusal
		want  string
	}{
		{"unknown number", func(l *objection.Lodging) { l.Number = "202799999" }, "number", "不在2027年公示名单中"},
		{"no list that year", func(l *objection.Lodging) { l.Year = 2026 }, "year", "没有正在公示"},
		{"grounds too short", func(l *objection.Lodging) { l.Grounds = "不对" }, "grounds", "10到2000字"},
		{"grounds too long", func(l *objection.Lodging) { l.Grounds = strings.Repeat("长", 2001) }, "grounds", "10到2000字"},
		{"invalid UTF-8", func(l *objection.Lodging) { l.Grounds = grounds + "\xff\xfe" }, "grounds", "无法识别"},
		{"control character", func(l *objection.Lodging) { l.Contact = "138\x00" }, "contact", "控制字符"},
		{"contact too long", func(l *objection.Lodging) { l.Contact = strings.Repeat("1", 101) }, "contact", "100"},
		{"a text file named x.pdf", func(l *objection.Lodging) { l.File = strings.NewReader("just text, not a PDF") }, "attachment", objection.MsgAttachmentType},
		{"empty file", func(l *objection.Lodging) { l.File = strings.NewReader("") }, "attachment", objection.MsgAttachmentType},
		{"too large", func(l *objection.Lodging) {
			l.File = io.MultiReader(pdf(), bytes.NewReader(make([]byte, objection.MaxAttachment)))
		}, "attachment", "5MB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := base
			c.edit(&l)
			_, err := f.svc.Lodge(f.Ctx, l)
			if msg := field(t, err, c.field); !strings.Contains(msg, c.want) {
				t.Fatalf("message %q, want %q", msg, c.want)
			}
		})
	}
	// Outside the notice period: before and after, the message names it.
	for _, at := range []time.Time{f.lists.start.Add(-time.Second), f.lists.end} {
		f.Clock.Set(at)
		_, err := f.svc.Lodge(f.Ctx, base)
		if apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "公示期为 2027-04-08 至 2027-04-15") {
			t.Fatalf("at %s: %v", at, err)
		}
	}
	var n int
	if err := f.DB.QueryRow(f.Ctx, `SELECT count(*) FROM objections`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d objections stored by refused forms (%v)", n, err)
	}
	if _, err := f.svc.Get(f.Ctx, "ABCD-EFGH-JKLM-NPQR"); !errors.Is(err, objection.ErrNotFound) {
		t.Fatalf("unknown receipt: %v", err)
	}
	if _, err := f.svc.Get(f.Ctx, "x' OR 1=1"); !errors.Is(err, objection.ErrNotFound) {
		t.Fatalf("garbage receipt: %v", err)
	}
}

// The queue lists the oldest first, filters by status and year, counts
// per status and pages.
func TestQueue(t *testing.T) {
	f := setup(t)
	first := f.lodge(t, "202700001")
	f.lodge(t, "202700002")
	id := f.idOf(t, first.Receipt)
	if _, err := f.svc.Answer(f.Ctx, f.a, id, objection.Dismissed, "经核查，异议所述情况不属实。", 1); err != nil {
		t.Fatal(err)
	}
	q, err := f.svc.Queue(f.Ctx, f.a, objection.Filter{Status: objection.Lodged, Year: 2027})
	if err != nil || len(q.Rows) != 1 || q.Rows[0].Number != "202700002" || q.Counts[objection.Answered] != 1 || q.Total != 2 {
		t.Fatalf("queue %+v %v", q, err)
	}
	if q, _ := f.svc.Queue(f.Ctx, f.a, objection.Filter{Year: 2026}); len(q.Rows) != 0 || q.Total != 0 {
		t.Fatalf("other year %+v", q)
	}
	if _, err := f.svc.Queue(f.Ctx, f.a, objection.Filter{Status: "bogus"}); field(t, err, "status") == "" {
		t.Fatal("bad status")
	}
}

// Two officers answering the same objection at once: exactly one answer
// is written, one timeline line, one audit entry, one case sent back. On
// PostgreSQL every officer holds its transaction after its read until all
// have read; SQLite's one writer runs them in turn.
func TestConcurrentAnswersOneWins(t *testing.T) {
	f := setup(t)
	r := f.lodge(t, "202700003")
	id := f.idOf(t, r.Receipt)
	officers := []actor.Actor{f.a, f.b, f.officer(t, "city_c", account.CityOfficer), f.officer(t, "city_d", account.CityOfficer)}
	n := len(officers)
	if f.DB.Dialect == db.Postgres {
		var mu sync.Mutex
		arrived, all := 0, make(chan struct{})
		f.svc.SetAfterLoad(func() {
			mu.Lock()
			if arrived++; arrived == n {
				close(all)
			}
			mu.Unlock()
			<-all
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, o := range officers {
		wg.Go(func() {
			outcome := objection.Upheld
			if i%2 == 1 {
				outcome = objection.Dismissed
			}
			_, errs[i] = f.svc.Answer(f.Ctx, o, id, outcome, "经核查，作出如下答复意见。", 1)
		})
	}
	wg.Wait()
	f.svc.SetAfterLoad(nil)
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case apperr.CodeOf(err) != apperr.Conflict:
			t.Fatalf("a loser got %v, want conflict", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d answers took effect: %v", wins, errs)
	}
	o, err := f.svc.Detail(f.Ctx, f.a, id)
	if err != nil || o.Version != 2 || len(o.Events) != 2 {
		t.Fatalf("after the race %+v %v", o, err)
	}
	answers := 0
	for _, a := range f.actions(t, id) {
		if strings.HasPrefix(a, "objection.answer.") {
			answers++
		}
	}
	rounds, _ := f.Audit.Search(f.Ctx, audit.Filter{ObjectType: "round"})
	if answers != 1 || (o.Outcome == objection.Upheld) != (len(rounds) == 1) || len(rounds) > 1 {
		t.Fatalf("%d answers audited, %d cases sent back (kept), outcome %s", answers, len(rounds), o.Outcome)
	}
}
