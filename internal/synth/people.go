package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"jifen/internal/platform/crypto"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

const peopleChunk = 2000

// Application states of the synthetic population and their shares (‰).
var stateShares = []struct {
	status string
	permil int
}{
	{"draft", 100}, {"with_employer", 100}, {"returned", 30}, {"submitted", 350}, {"checking", 100},
	{"first_result", 200}, {"review_requested", 50}, {"final", 50}, {"published", 20},
}

var stateOrder = []string{"draft", "with_employer", "submitted", "checking", "first_result", "review_requested", "final", "published"}

func pickState(x int) string {
	for _, s := range stateShares {
		if x < s.permil {
			return s.status
		}
		x -= s.permil
	}
	return "submitted"
}

func prevState(s string) string {
	if s == "returned" {
		return "with_employer"
	}
	for i, x := range stateOrder {
		if x == s && i > 0 {
			return stateOrder[i-1]
		}
	}
	return "draft"
}

// personRows is one prepared person: every row the writer needs.
type personRows struct {
	user, person, link, app []any
	review                  []any // the 复查 request of an application in review_requested
	events                  [][]any
	agency                  [][]any
}

type chunk struct {
	lo   int
	rows []personRows
	err  error
}

// people prepares chunks of people on every core and writes them in order
// from one goroutine, a transaction per chunk.
func (g *Generator) people(ctx context.Context, res *Result) error {
	n := g.cfg.People
	nchunks := (n + peopleChunk - 1) / peopleChunk
	verified := make([]int, 0, len(g.emps))
	for i, e := range g.emps {
		if e.verified {
			verified = append(verified, i)
		}
	}
	if len(verified) == 0 && n > 0 {
		return fmt.Errorf("synth: no verified employer to link people to")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan chunk, nchunks)
	for i := range results {
		results[i] = make(chan chunk, 1)
	}
	jobs := make(chan int)
	// At most a few chunks are prepared ahead of the writer, so memory
	// stays flat however many people are asked for.
	ahead := make(chan struct{}, 2*workers())
	var wg sync.WaitGroup
	for w := 0; w < workers(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				results[c] <- g.prepare(c*peopleChunk, min((c+1)*peopleChunk, n), verified)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for c := 0; c < nchunks; c++ {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer wg.Wait()
	for c := 0; c < nchunks; c++ {
		ch := <-results[c]
		<-ahead
		if ch.err != nil {
			return ch.err
		}
		if err := g.write(ctx, ch, res); err != nil {
			return fmt.Errorf("synth: people %d–%d: %w", ch.lo, ch.lo+len(ch.rows), err)
		}
		g.bar.add(len(ch.rows), "申请人")
	}
	return nil
}

func (g *Generator) prepare(lo, hi int, verified []int) chunk {
	r := g.rng(2, uint64(lo))
	now := db.Micros(g.cfg.Now)
	year := g.cfg.Year
	out := chunk{lo: lo, rows: make([]personRows, 0, hi-lo)}
	for j := lo; j < hi; j++ {
		var pr personRows
		uid := g.base.user + int64(j)
		pid := g.base.person + int64(j)
		male := r.IntN(2) == 0
		by := year - 1 - (26 + r.IntN(28)) // 26–53 at the statistics date
		bm, bd := 1+r.IntN(12), 1+r.IntN(28)
		id := uniqueID(int(pid), by, bm, bd, male)
		name := personName(r)
		phone := mobile(r)
		idEnc, err1 := g.keys.EncryptString(id, "id_number")
		phoneEnc, err2 := g.keys.EncryptString(phone, "phone")
		if err1 != nil || err2 != nil {
			out.err = fmt.Errorf("synth: encrypt: %v %v", err1, err2)
			return out
		}
		login := fmt.Sprintf("p%06d", pid)
		pr.user = []any{uid, login, name, "internet", login + "@synth.jifen.test", phoneEnc, g.keys.BlindIndex("phone", phone),
			g.cfg.PasswordHash, now, now, now}
		sex := map[bool]string{true: "M", false: "F"}[male]
		pr.person = []any{pid, uid, idEnc, g.keys.BlindIndex("id_number", id), name, fmt.Sprintf("%04d-%02d-%02d", by, bm, bd), sex, now}
		emp := g.emps[verified[r.IntN(len(verified))]]
		t := makeTruth(r, year, by, bm, male, emp.district)
		t.req.BirthDate = fmt.Sprintf("%04d-%02d-%02d", by, bm, bd)
		t.creditCode = emp.code
		subject := crypto.SM3Hex([]byte(id))
		pr.agency = agencyRows(t, name, subject, now)
		linkID := g.base.link + int64(j)
		switch x := r.Float64(); {
		case x < 0.05: // not linked yet
		case x < 0.10:
			pr.link = []any{linkID, g.cfg.RoundID, pid, emp.id, "pending", "", now, int64(0)}
		default:
			pr.link = []any{linkID, g.cfg.RoundID, pid, emp.id, "confirmed", "", now, now}
			decl := declare(r, &t, g.cfg.Discrepancy)
			appID := g.base.app + int64(j)
			status := pickState(r.IntN(1000))
			if g.cfg.ReadyToRank && status != "draft" && status != "with_employer" && status != "returned" {
				// Every filed application is decided: the round can be
				// frozen and ranked at once (jifen synth --final).
				status = "final"
			}
			var est int64
			eligible := false
			if facts, fe := decl.Facts(); len(fe) == 0 {
				if book, err := rules.ForYear(year); err == nil {
					res := book.Score(facts)
					est, eligible = int64(res.Total), res.Eligible
				}
			}
			b, _ := json.Marshal(decl)
			submitted, filed, truthful := int64(0), int64(0), int64(0)
			if status != "draft" {
				submitted, truthful = now, now
			}
			if status != "draft" && status != "with_employer" && status != "returned" {
				filed = now
			}
			reason := ""
			if status == "returned" {
				reason = "请补充住房材料"
			}
			// From the first result on, an application carries its verified
			// score; the synthetic verification confirms the declaration.
			score, scoreEligible := int64(0), false
			if slices.Contains(stateOrder[slices.Index(stateOrder, "first_result"):], status) {
				score, scoreEligible = est, eligible
			}
			// The service clock (application/steps.go): the employer's
			// district, and for a case in the work queues a deadline spread
			// from 3 days ago to 11 days ahead, so some stand out as overdue.
			var due int64
			if status == "first_result" || status == "review_requested" {
				due = now + int64(r.IntN(15)-3)*int64(24*time.Hour/time.Microsecond)
			}
			pr.app = []any{appID, g.cfg.RoundID, pid, emp.id, status, string(b), est, eligible, truthful, submitted, filed, reason, now, now,
				score, scoreEligible, emp.district, now, due}
			if status == "review_requested" {
				// Half wait for the employer to forward them, half wait for
				// the district office to receive them.
				if appID%2 == 0 {
					pr.review = []any{appID, rules.CodeHousing, "租赁住房已办理备案，请核对住建部门记录", "", "requested", now, int64(0)}
				} else {
					pr.review = []any{appID, rules.CodeEducation, "学位证书已认证，请核对学信网记录", "单位已核对申请人学位证书原件",
						"forwarded", now, now}
				}
			}
			evBase := g.base.event + int64(j)*2
			pr.events = append(pr.events, []any{evBase, appID, now, "", "draft", uid, "applicant", "创建申请"})
			if status != "draft" {
				pr.events = append(pr.events, []any{evBase + 1, appID, now, prevState(status), status, int64(0), "synth", "合成数据"})
			}
		}
		out.rows = append(out.rows, pr)
	}
	return out
}

// uniqueID makes the ID number of person j distinct from every other
// person's of the run, whatever the birth dates: j picks one of 22 × 100
// county codes and, above that, the sequence number (1.1 million people).
func uniqueID(j, by, bm, bd int, male bool) string {
	prov := idRegions[j%len(idRegions)][:2]
	region := fmt.Sprintf("%s01%02d", prov, (j/len(idRegions))%100)
	return idNumber(region, by, bm, bd, j/(len(idRegions)*100), male)
}

func (g *Generator) write(ctx context.Context, ch chunk, res *Result) error {
	return g.db.WithTx(ctx, func(ctx context.Context) error {
		users := newBulk(g.db, "users", "id", "login", "display_name", "zone", "email", "phone_enc", "phone_idx",
			"password_hash", "password_changed_at", "created_at", "updated_at")
		roles := newBulk(g.db, "user_roles", "user_id", "role", "granted_at")
		persons := newBulk(g.db, "persons", "id", "user_id", "id_enc", "id_idx", "name", "birth_date", "sex", "created_at")
		links := newBulk(g.db, "employer_links", "id", "round_id", "person_id", "employer_id", "status", "reason", "created_at", "decided_at")
		apps := newBulk(g.db, "applications", "id", "round_id", "person_id", "employer_id", "status", "declaration", "estimate",
			"eligible", "truthful_at", "submitted_at", "filed_at", "return_reason", "created_at", "updated_at", "score", "score_eligible",
			"district", "step_started_at", "step_due_at")
		reviews := newBulk(g.db, "review_requests", "application_id", "indicators", "reason", "employer_note", "status", "created_at",
			"forwarded_at")
		events := newBulk(g.db, "application_events", "id", "application_id", "at", "from_status", "to_status", "actor_id", "actor_role", "reason")
		agency := newBulk(g.db, "agency_records", "agency", "subject", "payload", "updated_at")
		// Parents before children: every table is written in full before the
		// next, so foreign keys always find their rows.
		for _, pr := range ch.rows {
			if err := users.add(ctx, pr.user...); err != nil {
				return err
			}
			if err := roles.add(ctx, pr.user[0], "applicant", pr.user[8]); err != nil {
				return err
			}
		}
		steps := []struct {
			b   *bulk
			get func(personRows) [][]any
		}{
			{persons, func(p personRows) [][]any { return [][]any{p.person} }},
			{links, func(p personRows) [][]any { return one(p.link) }},
			{apps, func(p personRows) [][]any { return one(p.app) }},
			{reviews, func(p personRows) [][]any { return one(p.review) }},
			{events, func(p personRows) [][]any { return p.events }},
			{agency, func(p personRows) [][]any { return p.agency }},
		}
		for _, b := range []*bulk{users, roles} {
			if err := b.flush(ctx); err != nil {
				return err
			}
		}
		for _, st := range steps {
			for _, pr := range ch.rows {
				for _, row := range st.get(pr) {
					if err := st.b.add(ctx, row...); err != nil {
						return err
					}
				}
			}
			if err := st.b.flush(ctx); err != nil {
				return err
			}
		}
		res.People += persons.total
		res.Links += links.total
		res.Applications += apps.total
		res.Events += events.total
		res.AgencyRecords += agency.total
		return nil
	})
}

func one(row []any) [][]any {
	if row == nil {
		return nil
	}
	return [][]any{row}
}
