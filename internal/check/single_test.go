package check

import (
	"testing"

	"jifen/internal/agencysim"
)

func TestSingleChecksOfEmployersAndIdentities(t *testing.T) {
	e := newEnv(t, 300)
	if _, err := e.db.Exec(e.ctx, `UPDATE employers SET status = 'pending' WHERE id IN (SELECT id FROM employers ORDER BY id LIMIT 5)`); err != nil {
		t.Fatal(err)
	}
	// One employer whose registered name differs from the market record.
	if _, err := e.db.Exec(e.ctx, `UPDATE employers SET name = name || '（改名）' WHERE id = (SELECT MIN(id) FROM employers)`); err != nil {
		t.Fatal(err)
	}
	pending := e.count(`SELECT COUNT(*) FROM employers WHERE status = 'pending'`)
	waiting := e.count(`SELECT COUNT(*) FROM applications WHERE status = 'with_employer'`)
	if waiting == 0 {
		t.Fatal("synth made no application waiting for its employer")
	}
	// While the agencies are down, the checks wait as unavailable.
	e.setFaults("*", agencysim.Faults{Down: true})
	if _, err := e.eng.SweepSingles(e.ctx, 500); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT COUNT(*) FROM applications WHERE status = 'with_employer' AND identity_check = 'unavailable'`); n != waiting {
		t.Errorf("%d of %d identity checks unavailable during the outage", n, waiting)
	}
	e.setFaults("*", agencysim.Faults{})
	deadlineSweep(t, e)
	if n := e.count(`SELECT COUNT(*) FROM employers WHERE status = 'pending' AND market_check IN ('', 'unavailable')`); n != 0 {
		t.Errorf("%d employers not checked", n)
	}
	var outcome, detail string
	if err := e.db.QueryRow(e.ctx, `SELECT market_check, market_detail FROM employers WHERE id = (SELECT MIN(id) FROM employers)`).Scan(&outcome, &detail); err != nil {
		t.Fatal(err)
	}
	if outcome != Mismatch || detail == "" {
		t.Errorf("renamed employer: %s %q", outcome, detail)
	}
	if n := e.count(`SELECT COUNT(*) FROM employers WHERE status = 'pending' AND market_check = 'match'`); n != pending-1 {
		t.Errorf("%d employers match, want %d", n, pending-1)
	}
	if n := e.count(`SELECT COUNT(*) FROM applications WHERE status = 'with_employer' AND identity_check IN ('match', 'mismatch')`); n != waiting {
		t.Errorf("%d of %d identities checked", n, waiting)
	}
	if n := e.count(`SELECT COUNT(*) FROM applications WHERE identity_check = 'match'`); n < waiting*9/10 {
		t.Errorf("only %d of %d identities match", n, waiting)
	}
}

func deadlineSweep(t *testing.T, e *env) {
	t.Helper()
	for range 50 {
		if e.count(`SELECT COUNT(*) FROM applications WHERE status = 'with_employer' AND identity_check IN ('', 'unavailable')`)+
			e.count(`SELECT COUNT(*) FROM employers WHERE status = 'pending' AND market_check IN ('', 'unavailable')`) == 0 {
			return
		}
		if _, err := e.eng.SweepSingles(e.ctx, 500); err != nil {
			t.Fatal(err)
		}
		sleepMS(100)
	}
}
