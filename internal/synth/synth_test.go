package synth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"jifen/internal/account"
	"jifen/internal/casetest"
	"jifen/internal/synth"
)

func run(t testing.TB, e *casetest.Env, people, employers int, seed uint64) synth.Result {
	t.Helper()
	hash, err := e.Accounts.Hasher().Hash(context.Background(), synth.Password)
	if err != nil {
		t.Fatal(err)
	}
	res, err := synth.New(e.DB, e.Keys, synth.Config{People: people, Employers: employers, Seed: seed, Discrepancy: 0.1,
		RoundID: e.RoundID, Year: e.Year, PasswordHash: hash, Now: e.Clock.Now()}).Run(e.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func digest(t testing.TB, e *casetest.Env) string {
	t.Helper()
	h := sha256.New()
	rows, err := e.DB.Query(e.Ctx, `SELECT p.name, p.birth_date, a.status, a.declaration, a.estimate FROM applications a
		JOIN persons p ON p.id = a.person_id ORDER BY a.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, birth, st, decl string
		var est int64
		if err := rows.Scan(&name, &birth, &st, &decl, &est); err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(name + birth + st + decl))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestSynthIsConsistentAndDeterministic(t *testing.T) {
	e := casetest.New(t)
	res := run(t, e, 3000, 400, 7)
	if res.People != 3000 || res.Employers != 400 || res.Applications < 2500 || res.AgencyRecords < 3000*4 {
		t.Fatalf("%+v", res)
	}
	count := func(q string, args ...any) int {
		var n int
		if err := e.DB.QueryRow(e.Ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Applications in every state.
	for _, st := range []string{"draft", "with_employer", "returned", "submitted", "checking", "first_result", "review_requested", "final", "published"} {
		if n := count(`SELECT count(*) FROM applications WHERE status = $1`, st); n == 0 {
			t.Errorf("no application in state %s", st)
		}
	}
	// Every application belongs to its confirmed link's employer, one per person.
	if n := count(`SELECT count(*) FROM applications a JOIN employer_links l ON l.person_id = a.person_id AND l.round_id = a.round_id
		AND l.status = 'confirmed' AND l.employer_id = a.employer_id`); n != res.Applications {
		t.Fatalf("%d of %d applications match a confirmed link", n, res.Applications)
	}
	if n := count(`SELECT count(DISTINCT id_idx) FROM persons`); n != 3000 {
		t.Fatalf("%d distinct ID numbers", n)
	}
	// The agencies know every applicant; every applicant is findable by ID.
	if n := count(`SELECT count(*) FROM agency_records WHERE agency = 'public_security'`); n != 3000 {
		t.Fatalf("%d identity records", n)
	}
	// Every application waiting for its 复查 has its request.
	if n, m := count(`SELECT count(*) FROM applications WHERE status = 'review_requested'`),
		count(`SELECT count(*) FROM review_requests rr JOIN applications a ON a.id = rr.application_id
			WHERE a.status = 'review_requested'`); n == 0 || n != m {
		t.Fatalf("%d applications in review_requested, %d with a request", n, m)
	}
	// A synthetic applicant can log in with the documented password.
	if _, err := e.Accounts.Login(e.Ctx, account.Internet, "p000001", synth.Password, "", ""); err != nil {
		t.Fatalf("login: %v", err)
	}
	if _, err := e.Accounts.Login(e.Ctx, account.Internet, "e000001", synth.Password, "", ""); err != nil {
		t.Fatalf("operator login: %v", err)
	}
	// The same seed gives the same population.
	e2 := casetest.New(t)
	run(t, e2, 3000, 400, 7)
	if digest(t, e) != digest(t, e2) {
		t.Fatal("same seed, different population")
	}
	e3 := casetest.New(t)
	run(t, e3, 3000, 400, 8)
	if digest(t, e) == digest(t, e3) {
		t.Fatal("different seed, same population")
	}
	// Running again on the same database adds a second population without collisions.
	run(t, e, 100, 10, 9)
	// The services keep working on top: a new registration gets a fresh id.
	emp, _ := e.VerifiedEmployer("after-synth")
	if emp.ID <= int64(res.Employers) {
		t.Fatalf("new employer id %d collides with synthetic ones", emp.ID)
	}
}
