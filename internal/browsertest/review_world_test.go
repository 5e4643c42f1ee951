package browsertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"jifen/internal/actor"
	"jifen/internal/app/apptest"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/review"
	"jifen/internal/rules"
	"jifen/internal/synth"
)

// seedReview puts a 复查 case on the 海淀区 office's desk so the walk
// reaches its decide page: an application without discrepancies whose
// request of three indicators the district received, one indicator decided,
// one waiting for an in-person check booked in a slot, one open.
func seedReview(t *testing.T, w *world) {
	t.Helper()
	a := w.a
	ctx := context.Background()
	var id int64
	if err := a.DB.QueryRow(ctx, `SELECT x.id FROM applications x JOIN employers e ON e.id = x.employer_id
		WHERE e.district = '海淀区' AND x.status = 'first_result'
		AND NOT EXISTS (SELECT 1 FROM discrepancies d WHERE d.application_id = x.id) ORDER BY x.id LIMIT 1`).Scan(&id); err != nil {
		t.Fatalf("an application for the review: %v", err)
	}
	now := db.Micros(a.Clock.Now())
	if _, err := a.DB.Exec(ctx, `UPDATE applications SET status = 'review_requested' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DB.Exec(ctx, `INSERT INTO review_requests (application_id, indicators, reason, employer_note, status, created_at,
		forwarded_at, received_at) VALUES ($1, 'housing,education,tax', '住房为自有产权，学历和纳税记录有误',
		'已向区服务窗口提交房产证、学位证复印件', 'received', $2, $2, $2)`, id, now); err != nil {
		t.Fatal(err)
	}
	// The 海淀区 officer holds the case (internal/casework): only the
	// holder decides, and the walk shows the holder's decide page.
	u, err := a.Accounts.UserByLogin(ctx, "hd01")
	if err != nil {
		t.Fatal(err)
	}
	officer := u.ActorAt("seed", "")
	if _, err := a.Cases.Casework.Claim(ctx, officer, id); err != nil {
		t.Fatal(err)
	}
	svc := a.Cases.Review
	if err := svc.Decide(ctx, officer, id, review.Decision{Indicator: rules.CodeEducation, Outcome: review.Rejected,
		Reason: "学历已按学信网记录计分"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.RequireInspection(ctx, officer, id, []string{rules.CodeHousing}, "请携带房产证原件和身份证", 1); err != nil {
		t.Fatal(err)
	}
	day := clock.BeijingDay(a.Clock.Now()).AddDate(0, 0, 2).Format(time.DateOnly)
	sl, err := svc.CreateSlot(ctx, officer, review.SlotInput{District: "海淀区", Day: day, Half: "am", Capacity: 20})
	if err != nil {
		t.Fatal(err)
	}
	var personID, userID int64
	var login string
	if err := a.DB.QueryRow(ctx, `SELECT p.id, p.user_id, u.login FROM applications x JOIN persons p ON p.id = x.person_id
		JOIN users u ON u.id = p.user_id WHERE x.id = $1`, id).Scan(&personID, &userID, &login); err != nil {
		t.Fatal(err)
	}
	if err := svc.Book(ctx, actor.Actor{UserID: userID, Roles: []actor.Role{actor.Applicant}, PersonID: personID}, id, sl.ID); err != nil {
		t.Fatal(err)
	}
	c := a.Client(a.Internet)
	if r := c.LoginAPI(login, synth.Password); r.Status != 200 {
		t.Fatalf("login %s: %d %s", login, r.Status, r.Body)
	}
	w.clients["review-applicant"], w.review = c, id
}

// reviewPages checks the 复查 decide page as the 海淀区 officer sees it (an
// indicator decided, one waiting for its in-person check, one open) and the
// applicant's 复查进度 with the booking, at both widths.
func reviewPages(t *testing.T, b *browser, w *world) {
	for _, p := range []struct {
		name, start string
		c           *apptest.Client
	}{
		{"复查决定", fmt.Sprintf("/office/reviews/%d", w.review), w.clients["hd01"]},
		{"复查进度", "/me/review/progress", w.clients["review-applicant"]},
	} {
		tb := b.tab(t, p.name)
		tb.login(t, p.c)
		if visited := tb.walk(t, p.c, p.start, 1); len(visited) != 1 {
			t.Errorf("%s: not reached (%v)", p.name, visited)
		}
	}
}
