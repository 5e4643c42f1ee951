package settlement_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"jifen/internal/actor"
	"jifen/internal/casetest"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/ranking"
	"jifen/internal/round"
	"jifen/internal/settlement"
)

func code(err error) apperr.Code {
	if err == nil {
		return ""
	}
	return apperr.As(err).Code
}

// TestSettlementHandOff: a committed ranking's qualified list, a status per
// person recorded once the settlement window opens, and the exports with
// full ID numbers and neutralized cells.
func TestSettlementHandOff(t *testing.T) {
	e := casetest.New(t)
	ctx := e.Ctx
	rounds := round.NewService(e.DB, e.Audit, e.Clock)
	rk := ranking.NewService(e.DB, e.Audit, e.Clock, rounds)
	rounds.WithRanking(rk)
	svc := settlement.NewService(e.DB, e.Audit, e.Clock, rounds, e.Persons, e.Applications)
	city := actor.Actor{UserID: 7001, Login: "city", Roles: []actor.Role{actor.CityOfficer}}
	city2 := actor.Actor{UserID: 7002, Login: "city2", Roles: []actor.Role{actor.CityOfficer}}

	emp, op := e.VerifiedEmployer("hr1")
	scores := []int64{12000, 11000, 10000, 9000}
	var apps []int64
	for i, sc := range scores {
		_, _, a := e.Linked("ap"+string(rune('a'+i)), emp, op)
		if _, err := e.DB.Exec(ctx, `UPDATE applications SET status = 'final', score = $1, score_eligible = TRUE WHERE id = $2`, sc, a.ID); err != nil {
			t.Fatal(err)
		}
		apps = append(apps, a.ID)
	}
	if _, err := svc.List(ctx, city, e.RoundID, "", 0, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := rounds.Freeze(ctx, city, e.RoundID); err != nil {
		t.Fatal(err)
	}
	if _, err := rk.Prepare(ctx, city, e.RoundID, 2); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := svc.ExportCSV(ctx, city, e.RoundID, &buf); code(err) != apperr.Conflict {
		t.Fatalf("export before the commit: %v", err)
	}
	if _, err := rk.Commit(ctx, city, e.RoundID); err != nil {
		t.Fatal(err)
	}

	// apps[1]'s list is published (the publication's change, made here);
	// apps[0]'s is not, and its applicant must hear nothing yet.
	if _, err := e.DB.Exec(ctx, `UPDATE applications SET status = 'published' WHERE id = $1`, apps[1]); err != nil {
		t.Fatal(err)
	}
	pg, err := svc.List(ctx, city, e.RoundID, "", 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if pg.Total != 2 || pg.Counts[settlement.Pending] != 2 || len(pg.Rows) != 1 || pg.Next != 1 || pg.Rows[0].ApplicationID != apps[0] ||
		pg.Rows[0].PublicNo != "202700001" {
		t.Fatalf("first page: %+v", pg)
	}
	if pg, err = svc.List(ctx, city, e.RoundID, "", pg.Next, 1); err != nil || len(pg.Rows) != 1 || pg.Next != 0 || pg.Rows[0].ApplicationID != apps[1] {
		t.Fatalf("second page: %+v %v", pg, err)
	}
	applicant := actor.Actor{UserID: 1, Roles: []actor.Role{actor.Applicant}}
	if _, err := svc.List(ctx, applicant, e.RoundID, "", 0, 10); code(err) != apperr.Forbidden {
		t.Fatalf("applicant: %v", err)
	}

	// Nothing is recorded before the settlement window opens.
	if _, err := svc.Record(ctx, city, e.RoundID, apps[0], settlement.Settled, "", 0); code(err) != apperr.Conflict {
		t.Fatalf("record before the window: %v", err)
	}
	now := db.Micros(e.Clock.Now())
	if _, err := e.DB.Exec(ctx, `INSERT INTO round_windows (round_id, kind, opens_at, closes_at) VALUES ($1, 'settlement', $2, $3)`,
		e.RoundID, now-1, now+db.Micros(time.Unix(86400*30, 0))); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Record(ctx, city, e.RoundID, apps[2], settlement.Settled, "", 0); code(err) != apperr.NotFound {
		t.Fatalf("record for one who did not qualify: %v", err)
	}
	if _, err := svc.Record(ctx, city, e.RoundID, apps[1], settlement.Declined, "", 0); code(err) != apperr.Invalid {
		t.Fatalf("declined without a note: %v", err)
	}
	if _, err := svc.Record(ctx, city, e.RoundID, apps[1], "moved", "", 0); code(err) != apperr.Invalid {
		t.Fatalf("unknown status: %v", err)
	}
	// Two officers at once: exactly one records.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, by := range []actor.Actor{city, city2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.Record(ctx, by, e.RoundID, apps[0], settlement.Settled, "=HYPERLINK(\"http://x\")", 0)
		}()
	}
	wg.Wait()
	okCount := 0
	for _, err := range errs {
		if err == nil {
			okCount++
		} else if code(err) != apperr.Conflict {
			t.Fatalf("losing record: %v", err)
		}
	}
	if okCount != 1 {
		t.Fatalf("no record won: %v", errs)
	}
	row, err := svc.Record(ctx, city, e.RoundID, apps[1], settlement.Declined, "本人书面声明放弃", 0)
	if err != nil || row.Status != settlement.Declined || row.Version != 1 {
		t.Fatalf("declined: %+v %v", row, err)
	}
	if _, err := svc.Record(ctx, city, e.RoundID, apps[1], settlement.Settled, "", 0); code(err) != apperr.Conflict {
		t.Fatalf("stale version: %v", err)
	}
	if row, err = svc.Record(ctx, city, e.RoundID, apps[1], settlement.Settled, "撤回放弃声明后办理", 1); err != nil || row.Version != 2 {
		t.Fatalf("update: %+v %v", row, err)
	}
	if n := 0; e.DB.QueryRow(ctx, `SELECT count(*) FROM application_events WHERE application_id = $1 AND reason LIKE '落户办理情况%'`,
		apps[0]).Scan(&n) != nil || n != 0 {
		t.Fatalf("the unpublished applicant's timeline shows the settlement: %d", n)
	}
	var events, mails int
	if err := e.DB.QueryRow(ctx, `SELECT count(*) FROM application_events WHERE application_id = $1 AND reason LIKE '落户办理情况%'`,
		apps[1]).Scan(&events); err != nil || events != 2 {
		t.Fatalf("timeline: %d %v", events, err)
	}
	if err := e.DB.QueryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE category = 'application.note'`).Scan(&mails); err != nil || mails < 3 {
		t.Fatalf("mails: %d %v", mails, err)
	}

	// CSV: BOM, header, full ID numbers, the formula neutralized.
	buf.Reset()
	if err := svc.ExportCSV(ctx, city, e.RoundID, &buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\uFEFF")) {
		t.Fatal("CSV without a byte order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	p0, err := e.Persons.Get(ctx, mustPerson(t, e, apps[0]))
	if err != nil {
		t.Fatal(err)
	}
	full, err := e.Persons.FullIDNumber(ctx, actor.Actor{UserID: 1, Roles: []actor.Role{actor.CityOfficer}}, p0, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(settlement.Header, ",") || recs[1][0] != "202700001" ||
		recs[1][3] != full || recs[1][7] != "120.00" || recs[1][8] != "已落户" || recs[1][9] != `'=HYPERLINK("http://x")` {
		t.Fatalf("CSV: %q", recs)
	}

	// Excel: the same rows; rank and score as numbers.
	buf.Reset()
	if err := svc.ExportExcel(ctx, city, e.RoundID, &buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("落户名单")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[1][3] != full || rows[1][9] != `'=HYPERLINK("http://x")` || rows[2][8] != "已落户" {
		t.Fatalf("Excel: %q", rows)
	}
	if typ, err := f.GetCellType("落户名单", "H2"); err != nil || typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Fatalf("score cell type: %v %v", typ, err)
	}
	if v, _ := f.GetCellValue("落户名单", "H2"); v != "120" {
		t.Fatalf("score cell: %q", v)
	}
	var audits int
	if err := e.DB.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'settlement.export'`).Scan(&audits); err != nil || audits != 2 {
		t.Fatalf("export audit rows: %d %v", audits, err)
	}
}

func mustPerson(t *testing.T, e *casetest.Env, app int64) int64 {
	var id int64
	if err := e.DB.QueryRow(e.Ctx, `SELECT person_id FROM applications WHERE id = $1`, app).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
