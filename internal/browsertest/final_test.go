package browsertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"jifen/internal/synth"
)

// TestBrowserFinalResult: on a phone, an applicant whose application is
// final sees the final score — and nothing of a rank or a cutoff, which
// wait for the publication — and the employer sees the same score on the
// application's page. Both pages are held to the suite's checks.
func TestBrowserFinalResult(t *testing.T) {
	if os.Getenv("JIFEN_TEST_POSTGRES") != "" && os.Getenv("JIFEN_BROWSER_POSTGRES") == "" {
		t.Skip("browser suite runs on SQLite only")
	}
	b := newBrowser(t)
	w := newWorld(t)
	ctx := context.Background()
	var appID, empID, score int64
	var login string
	if err := w.a.DB.QueryRow(ctx, `SELECT x.id, x.employer_id, x.score, u.login FROM applications x
		JOIN persons p ON p.id = x.person_id JOIN users u ON u.id = p.user_id
		WHERE x.status = 'first_result' AND x.score_run <> 0 AND x.score_eligible ORDER BY x.id LIMIT 1`).Scan(&appID, &empID, &score, &login); err != nil {
		t.Fatalf("a checked application: %v", err)
	}
	// The 复查 window closed without a request: the first result is final
	// (the finalize schedule's change, made here directly).
	if _, err := w.a.DB.Exec(ctx, `UPDATE applications SET status = 'final' WHERE id = $1`, appID); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d.%02d 分", score/100, score%100)

	c := w.a.Client(w.a.Internet)
	if r := c.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("login %s: %d", login, r.Status)
	}
	at := b.tab(t, "申请人（最终积分）")
	at.login(t, c)
	at.phone(t)
	at.load(t, w.a.Internet+"/me")
	at.expect(t, "最终积分", want, "审核完成")
	text := at.text(t)
	for _, leak := range []string{"排名第", "分数线", "公示编号", "取得落户资格"} {
		if strings.Contains(text, leak) {
			t.Errorf("%q on the applicant's page before publication", leak)
		}
	}
	at.checkHere(t, "final")

	op := w.a.Client(w.a.Internet)
	if r := op.LoginAPI(fmt.Sprintf("e%06d", empID), synth.Password); r.Status != 200 {
		t.Fatalf("operator login: %d", r.Status)
	}
	et := b.tab(t, "单位经办人（最终积分）")
	et.login(t, op)
	et.phone(t)
	et.load(t, fmt.Sprintf("%s/employer/applications/%d", w.a.Internet, appID))
	et.expect(t, "最终积分", want)
	et.checkHere(t, "employer-final")
}
