package ranking_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/db/dbtest"
	"jifen/internal/ranking"
	"jifen/internal/round"
	"jifen/internal/rules"
)

// world is a round of applications written straight into the tables: the
// store's tests are about ranking what is there, not how it got there.
type world struct {
	t       *testing.T
	ctx     context.Context
	db      *db.DB
	clock   *clock.Fake
	rounds  *round.Service
	ranking *ranking.Service
	roundID int64
	bans    fakeBans
	a, b    actor.Actor // two city officers
}

type fakeBans map[int64]string

func (f fakeBans) BannedPersons(context.Context, int) (map[int64]string, error) { return f, nil }

func newWorld(t *testing.T) *world {
	d := dbtest.Open(t)
	c := clock.NewFake(time.Date(2027, 8, 1, 2, 0, 0, 0, time.UTC))
	au := audit.New(d, c)
	w := &world{t: t, ctx: context.Background(), db: d, clock: c, bans: fakeBans{}}
	w.rounds = round.NewService(d, au, c)
	w.ranking = ranking.NewService(d, au, c, w.rounds).WithBans(w.bans)
	w.rounds.WithRanking(w.ranking)
	w.a = actor.Actor{UserID: 9001, Login: "city-a", Roles: []actor.Role{actor.CityOfficer}}
	w.b = actor.Actor{UserID: 9002, Login: "city-b", Roles: []actor.Role{actor.CityOfficer}}
	now := db.Micros(c.Now())
	w.exec(`INSERT INTO rounds (year, rulebook, quota, title, created_at, updated_at) VALUES (2027, '2020', 3, '2027年度', $1, $1)`, now)
	w.exec(`INSERT INTO employers (credit_code, name, district, address, legal_rep, status, created_at, updated_at)
		VALUES ('91110108MA00000011', '单位', '海淀区', '地址', '法人', 'verified', $1, $1)`, now)
	if err := d.QueryRow(w.ctx, `SELECT id FROM rounds WHERE year = 2027`).Scan(&w.roundID); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) exec(q string, args ...any) {
	w.t.Helper()
	if _, err := w.db.Exec(w.ctx, q, args...); err != nil {
		w.t.Fatalf("%s: %v", q, err)
	}
}

var people int

// add writes one application of a new person with a status, a verified
// score in hundredths and a birth date; it returns the application's id.
func (w *world) add(status string, score int64, eligible bool, birth string) (person, app int64) {
	w.t.Helper()
	people++
	now := db.Micros(w.clock.Now())
	var uid int64
	if err := w.db.QueryRow(w.ctx, `INSERT INTO users (login, zone, password_hash, password_changed_at, created_at, updated_at)
		VALUES ($1, 'internet', 'x', $2, $2, $2) RETURNING id`, fmt.Sprintf("p%d", people), now).Scan(&uid); err != nil {
		w.t.Fatal(err)
	}
	if err := w.db.QueryRow(w.ctx, `INSERT INTO persons (user_id, id_enc, id_idx, name, birth_date, sex, created_at)
		VALUES ($1, 'x', $2, '某人', $3, 'M', $4) RETURNING id`, uid, fmt.Sprintf("idx%d", people), birth, now).Scan(&person); err != nil {
		w.t.Fatal(err)
	}
	if err := w.db.QueryRow(w.ctx, `INSERT INTO applications (round_id, person_id, employer_id, status, declaration, score, score_eligible,
		created_at, updated_at) VALUES ($1, $2, (SELECT min(id) FROM employers), $3, '{}', $4, $5, $6, $6) RETURNING id`,
		w.roundID, person, status, score, eligible, now).Scan(&app); err != nil {
		w.t.Fatal(err)
	}
	return person, app
}

func code(err error) apperr.Code {
	if err == nil {
		return ""
	}
	return apperr.As(err).Code
}

// TestFreezeRankCommit walks the whole stored ranking: what-if before the
// freeze, the freeze, a draft, the commit, and everything refused around
// them.
func TestFreezeRankCommit(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx
	// Totals 110, 105, 105, 100, 100, 100, 90: quota 3 puts the line at 105
	// with both 105s; quota 4 at 100 with all three 100s.
	_, top := w.add("final", 11000, true, "1990-05-01")
	_, older := w.add("final", 10500, true, "1985-01-20")
	_, younger := w.add("final", 10500, true, "1992-12-03")
	for i := 0; i < 3; i++ {
		w.add("final", 10000, true, "1988-06-15")
	}
	w.add("final", 9000, true, "1980-01-01")
	w.add("final", 12000, false, "1980-01-01")                      // not eligible: never ranked
	_, notFinal := w.add("first_result", 13000, true, "1980-01-01") // not final: never ranked
	bannedPerson, banned := w.add("final", 11500, true, "1980-01-01")
	w.bans[bannedPerson] = "因提供虚假材料，2027年至2032年不得申报"

	// What-if on the round as it stands, not yet frozen.
	o, err := w.ranking.WhatIf(ctx, w.a, w.roundID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if o.Frozen || o.Ranked != 7 || o.Quota != 3 || o.Cutoff != 10500 || o.Qualified != 3 || o.Excluded != 1 || o.Pending != 1 {
		t.Fatalf("what-if quota 3: %+v", o)
	}
	if o, err = w.ranking.WhatIf(ctx, w.a, w.roundID, 4); err != nil || o.Cutoff != 10000 || o.Qualified != 6 || o.TiedAtLine != 3 {
		t.Fatalf("what-if quota 4: %+v %v", o, err)
	}
	for _, q := range []int{-1, 8} {
		if _, err := w.ranking.WhatIf(ctx, w.a, w.roundID, q); code(err) != apperr.Invalid || apperr.As(err).Fields[0].Field != "quota" {
			t.Fatalf("what-if quota %d: %v", q, err)
		}
	}
	applicant := actor.Actor{UserID: 1, Roles: []actor.Role{actor.Applicant}}
	if _, err := w.ranking.WhatIf(ctx, applicant, w.roundID, 3); code(err) != apperr.Forbidden {
		t.Fatalf("applicant what-if: %v", err)
	}

	// Nothing is stored or committed before the freeze.
	if _, err := w.ranking.Prepare(ctx, w.a, w.roundID, 3); code(err) != apperr.Conflict {
		t.Fatalf("prepare unfrozen: %v", err)
	}
	if _, err := w.ranking.Commit(ctx, w.a, w.roundID); code(err) != apperr.Conflict {
		t.Fatalf("commit unfrozen: %v", err)
	}
	if err := w.rounds.RequireUnfrozen(ctx, w.roundID); err != nil {
		t.Fatal(err)
	}
	// An application at its first result would be left out: no freeze.
	if _, err := w.rounds.Freeze(ctx, w.a, w.roundID); code(err) != apperr.Conflict || !strings.Contains(err.Error(), "尚未审核完成") {
		t.Fatalf("freeze with an application not final: %v", err)
	}
	w.exec(`UPDATE applications SET status = 'final', score_eligible = FALSE WHERE id = $1`, notFinal)
	if _, err := w.rounds.Freeze(ctx, w.a, w.roundID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.rounds.Freeze(ctx, w.b, w.roundID); code(err) != apperr.Conflict || !strings.Contains(err.Error(), "无需重复冻结") {
		t.Fatalf("second freeze: %v", err)
	}
	if err := w.rounds.RequireUnfrozen(ctx, w.roundID); code(err) != apperr.Conflict {
		t.Fatalf("frozen round: %v", err)
	}
	r, _ := w.rounds.Get(ctx, w.roundID)
	if err := r.RequireOpen(round.Review, w.clock.Now()); code(err) != apperr.Conflict || !strings.Contains(err.Error(), "冻结") {
		t.Fatalf("review window of a frozen round: %v", err)
	}
	if _, err := w.ranking.Commit(ctx, w.a, w.roundID); code(err) != apperr.Conflict {
		t.Fatalf("commit without a draft: %v", err)
	}
	for _, q := range []int{-5, 99} {
		if _, err := w.ranking.Prepare(ctx, w.a, w.roundID, q); code(err) != apperr.Invalid {
			t.Fatalf("prepare quota %d: %v", q, err)
		}
	}
	if d, c, err := w.ranking.Stored(ctx, w.a, w.roundID); err != nil || d != nil || c != nil {
		t.Fatalf("refused prepares stored something: %+v %+v %v", d, c, err)
	}
	d, err := w.ranking.Prepare(ctx, w.a, w.roundID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "draft" || d.Ranked != 7 || d.Qualified != 3 || d.Cutoff != 10500 || d.Excluded != 1 {
		t.Fatalf("draft: %+v", d)
	}
	// A ban approved after the draft changes who takes part: the commit
	// refuses the draft.
	laterPerson, _ := w.add("draft", 0, false, "1990-01-01")
	w.bans[laterPerson] = "因提供虚假材料，2027年至2032年不得申报"
	w.bans[topPersonOf(t, w, top)] = "因提供虚假材料，2027年至2032年不得申报"
	if _, err := w.ranking.Commit(ctx, w.b, w.roundID); code(err) != apperr.Conflict || !strings.Contains(err.Error(), "请重新生成排名") {
		t.Fatalf("commit of a draft the ban changed: %v", err)
	}
	delete(w.bans, topPersonOf(t, w, top))
	c, err := w.ranking.Commit(ctx, w.b, w.roundID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "committed" || c.ID != d.ID || c.Digest != d.Digest || c.CommittedBy != w.b.UserID {
		t.Fatalf("committed: %+v", c)
	}
	if _, err := w.ranking.Commit(ctx, w.a, w.roundID); code(err) != apperr.Conflict {
		t.Fatalf("second commit: %v", err)
	}
	if _, err := w.ranking.Prepare(ctx, w.a, w.roundID, 4); code(err) != apperr.Conflict {
		t.Fatalf("prepare after commit: %v", err)
	}

	// The committed ranking reads back to the same bytes.
	res, sum, err := w.ranking.Committed(ctx, w.roundID)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Digest != res.Digest() || res.Ranked() != 7 || res.Entries[0].ApplicationID != top {
		t.Fatalf("committed result: %+v", sum)
	}
	// Equal totals: the earlier birth month first; both at the line qualify.
	if res.Entries[1].ApplicationID != older || res.Entries[2].ApplicationID != younger || res.Entries[2].Rank != 2 ||
		res.Entries[2].PublicityNo != "202700003" || res.Entries[3].Qualified {
		t.Fatalf("order at the line: %+v", res.Entries[:4])
	}
	if ex, err := w.ranking.Exclusions(ctx, sum.ID); err != nil || len(ex) != 1 || ex[0].ApplicationID != banned {
		t.Fatalf("exclusions: %+v %v", ex, err)
	}
	if id, ok, err := w.ranking.ApplicationOf(ctx, w.roundID, "202700001"); err != nil || !ok || id != top {
		t.Fatalf("公示编号 search: %d %v %v", id, ok, err)
	}

	// The database itself refuses to change a committed ranking.
	for _, q := range []string{
		`UPDATE rankings SET cutoff = 1`,
		`DELETE FROM rankings`,
		`UPDATE ranking_entries SET total = 99999`,
		`DELETE FROM ranking_entries`,
		`DELETE FROM ranking_exclusions`,
		`INSERT INTO ranking_entries (ranking_id, seq, application_id, person_id, employer_id, rank_no, total, birth_ym, qualified)
			SELECT id, 100, 1, 1, 1, 1, 1, 198001, TRUE FROM rankings`,
	} {
		if _, err := w.db.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "immutable") {
			t.Errorf("%s: want refused as immutable, got %v", q, err)
		}
	}
	if _, _, err := w.ranking.Committed(ctx, w.roundID); err != nil {
		t.Fatalf("after the refused changes: %v", err)
	}

	// A correction: reopening a committed round (four eyes) supersedes the
	// committed ranking, which stays as it was; the round is then ranked
	// and committed again.
	first, _, _ := w.ranking.Committed(ctx, w.roundID)
	ro, err := w.rounds.RequestReopening(ctx, w.a, w.roundID, "公示异议成立，需更正一名申请人的积分")
	if err != nil {
		t.Fatalf("reopen after commit: %v", err)
	}
	if _, err := w.rounds.DecideReopening(ctx, w.b, ro.ID, true, "同意更正"); err != nil {
		t.Fatal(err)
	}
	if done, _ := w.ranking.HasCommitted(ctx, w.roundID); done {
		t.Fatal("the superseded ranking still counts as committed")
	}
	if _, _, err := w.ranking.Committed(ctx, w.roundID); code(err) != apperr.NotFound {
		t.Fatalf("committed after supersession: %v", err)
	}
	if _, ok, _ := w.ranking.ApplicationOf(ctx, w.roundID, "202700001"); ok {
		t.Fatal("公示编号 found in a superseded ranking")
	}
	var kept int
	if err := w.db.QueryRow(ctx, `SELECT count(*) FROM ranking_entries e JOIN rankings k ON k.id = e.ranking_id
		WHERE k.status = 'committed'`).Scan(&kept); err != nil || kept != len(first.Entries) {
		t.Fatalf("superseded entries kept: %d of %d (%v)", kept, len(first.Entries), err)
	}
	if _, err := w.db.Exec(ctx, `DELETE FROM ranking_supersessions`); err == nil || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("a supersession can be deleted: %v", err)
	}
	if _, err := w.rounds.Freeze(ctx, w.a, w.roundID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ranking.Prepare(ctx, w.a, w.roundID, 0); err != nil {
		t.Fatal(err)
	}
	second, err := w.ranking.Commit(ctx, w.a, w.roundID)
	if err != nil {
		t.Fatalf("commit after the correction: %v", err)
	}
	if res, sum, err := w.ranking.Committed(ctx, w.roundID); err != nil || sum.ID != second.ID || len(res.Entries) != len(first.Entries) {
		t.Fatalf("current committed after the correction: %+v %v", sum, err)
	}
	if st, err := w.ranking.StandingIn(ctx, second.ID, top); err != nil || st == nil || st.Rank != 1 || !st.Qualified || st.PublicityNo != "202700001" {
		t.Fatalf("standing of the top application: %+v %v", st, err)
	}
}

// TestReopening lifts a freeze with four eyes and discards the draft.
func TestReopening(t *testing.T) {
	w := newWorld(t)
	ctx := w.ctx
	for i := 0; i < 5; i++ {
		w.add("final", int64(10000+i*100), true, "1990-01-01")
	}
	if _, err := w.rounds.RequestReopening(ctx, w.a, w.roundID, "需要更正一名申请人的积分"); code(err) != apperr.Conflict {
		t.Fatalf("reopen an unfrozen round: %v", err)
	}
	if _, err := w.rounds.Freeze(ctx, w.a, w.roundID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ranking.Prepare(ctx, w.a, w.roundID, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := w.rounds.RequestReopening(ctx, w.a, w.roundID, "太短"); code(err) != apperr.Invalid {
		t.Fatalf("short reason: %v", err)
	}
	ro, err := w.rounds.RequestReopening(ctx, w.a, w.roundID, "复查材料遗漏一项，需更正一名申请人的积分")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.rounds.RequestReopening(ctx, w.b, w.roundID, "另一项申请：重复提出解除冻结"); code(err) != apperr.Conflict {
		t.Fatalf("second pending reopening: %v", err)
	}
	if _, err := w.rounds.DecideReopening(ctx, w.a, ro.ID, true, ""); code(err) != apperr.Forbidden {
		t.Fatalf("own approval: %v", err)
	}
	if r, _ := w.rounds.Get(ctx, w.roundID); !r.Frozen() {
		t.Fatal("refused approval unfroze the round")
	}
	// Two approvers at once: exactly one approval.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	c := actor.Actor{UserID: 9003, Login: "city-c", Roles: []actor.Role{actor.CityOfficer}}
	for i, by := range []actor.Actor{w.b, c} {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = w.rounds.DecideReopening(ctx, by, ro.ID, true, "同意") }()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("concurrent approvals: %v / %v", errs[0], errs[1])
	}
	r, _ := w.rounds.Get(ctx, w.roundID)
	if r.Frozen() {
		t.Fatal("approved reopening left the round frozen")
	}
	if d, _, err := w.ranking.Stored(ctx, w.a, w.roundID); err != nil || d != nil {
		t.Fatalf("draft after reopening: %+v %v", d, err)
	}
	var entries int
	if err := w.db.QueryRow(ctx, `SELECT count(*) FROM ranking_entries`).Scan(&entries); err != nil || entries != 0 {
		t.Fatalf("entries left: %d %v", entries, err)
	}
	// Freeze again, rank again, commit.
	if _, err := w.rounds.Freeze(ctx, w.b, w.roundID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ranking.Prepare(ctx, w.a, w.roundID, 2); err != nil {
		t.Fatal(err)
	}
	if s, err := w.ranking.Commit(ctx, w.a, w.roundID); err != nil || s.Cutoff != rules.Points(10300) {
		t.Fatalf("commit: %+v %v", s, err)
	}
}

// TestConcurrentCommit: of two officers committing at once exactly one wins.
func TestConcurrentCommit(t *testing.T) {
	w := newWorld(t)
	for i := 0; i < 5; i++ {
		w.add("final", int64(10000+i*100), true, "1990-01-01")
	}
	if _, err := w.rounds.Freeze(w.ctx, w.a, w.roundID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ranking.Prepare(w.ctx, w.a, w.roundID, 2); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, by := range []actor.Actor{w.a, w.b} {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = w.ranking.Commit(w.ctx, by, w.roundID) }()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("concurrent commits: %v / %v", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil && code(err) != apperr.Conflict {
			t.Fatalf("losing commit: %v", err)
		}
	}
}

func topPersonOf(t *testing.T, w *world, app int64) int64 {
	t.Helper()
	var id int64
	if err := w.db.QueryRow(w.ctx, `SELECT person_id FROM applications WHERE id = $1`, app).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
