package ranking

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/round"
	"jifen/internal/rules"
)

// The stored ranking. A frozen round's ranking is first prepared as a
// draft (stored, shown to the city bureau), then committed; a committed
// ranking is immutable — the database's triggers refuse any change to it
// (migration 0014) — and is what publication hashes and shows. What-if
// stores nothing and works on a frozen or a not-yet-frozen round.

// Bans tells which persons may not take part in a year's ranking, with the
// reason their statement shows (the fraud register, 虚假材料库). nil means
// no one is banned.
type Bans interface {
	BannedPersons(ctx context.Context, year int) (map[int64]string, error)
}

// Service loads, ranks, stores and reads rankings.
type Service struct {
	db     *db.DB
	audit  *audit.Log
	clock  clock.Clock
	rounds *round.Service
	bans   Bans
}

// NewService returns the ranking service.
func NewService(d *db.DB, a *audit.Log, c clock.Clock, rounds *round.Service) *Service {
	return &Service{db: d, audit: a, clock: c, rounds: rounds}
}

// WithBans sets the fraud register the ranking consults.
func (s *Service) WithBans(b Bans) *Service { s.bans = b; return s }

// Summary describes a stored ranking.
type Summary struct {
	ID          int64        `json:"id"`
	RoundID     int64        `json:"round_id"`
	Year        int          `json:"year"`
	Quota       int          `json:"quota"`
	Status      string       `json:"status"` // draft, committed
	Ranked      int          `json:"ranked"`
	Qualified   int          `json:"qualified"`
	Cutoff      rules.Points `json:"cutoff"`
	TiedAtLine  int          `json:"tied_at_line"`
	Excluded    int          `json:"excluded"`
	Digest      string       `json:"digest"`
	FrozenAt    time.Time    `json:"frozen_at"`
	CreatedBy   int64        `json:"created_by"`
	CreatedAt   time.Time    `json:"created_at"`
	CommittedBy int64        `json:"committed_by,omitempty"`
	CommittedAt time.Time    `json:"committed_at,omitzero"`
}

// StatusName is the Chinese name of a stored ranking's status.
func StatusName(s string) string {
	switch s {
	case "draft":
		return "待确认"
	case "committed":
		return "已确认"
	}
	return s
}

// Exclusion is an application left out of the ranking, and why.
type Exclusion struct {
	ApplicationID int64  `json:"application_id"`
	Reason        string `json:"reason"`
}

// Outcome is a what-if: the figures of a quota on the round as it stands.
type Outcome struct {
	Year       int          `json:"year"`
	Frozen     bool         `json:"frozen"`
	Quota      int          `json:"quota"`
	Ranked     int          `json:"ranked"`
	Cutoff     rules.Points `json:"cutoff"`
	Qualified  int          `json:"qualified"`
	TiedAtLine int          `json:"tied_at_line"`
	// Distribution is the number of entries per score bucket: 1 point wide
	// around the cutoff, 10 points wide overall (WhatIf).
	Distribution Distribution `json:"distribution"`
	// Excluded are the final, eligible applications left out by a ban.
	Excluded int `json:"excluded"`
	// Pending counts the round's applications past the employer that are
	// not final yet: they would not be ranked if the round froze now.
	Pending int `json:"pending"`
}

func requireCity(by actor.Actor) error {
	if !by.Can(actor.PermRoundsManage) {
		return apperr.New(apperr.Forbidden, "只有市人力社保局经办人员可以排名")
	}
	return nil
}

// Distribution is the score distribution of a what-if.
type Distribution struct {
	NearCutoff []Bucket `json:"near_cutoff"`
	Overall    []Bucket `json:"overall"`
}

// participant is one ranked application with what the store keeps of it
// besides the entry.
type participant struct {
	person, employer int64
}

// load reads the round's ranking population: every final (or published),
// eligible application, less those of banned persons.
func (s *Service) load(ctx context.Context, r *round.Round) ([]Entry, map[int64]participant, []Exclusion, error) {
	var banned map[int64]string
	if s.bans != nil {
		var err error
		if banned, err = s.bans.BannedPersons(ctx, r.Year); err != nil {
			return nil, nil, nil, err
		}
	}
	rows, err := s.db.Query(ctx, `SELECT a.id, a.person_id, a.employer_id, a.score, p.birth_date
		FROM applications a JOIN persons p ON p.id = a.person_id
		WHERE a.round_id = $1 AND a.status IN ('final', 'published') AND a.score_eligible`, r.ID)
	if err != nil {
		return nil, nil, nil, apperr.Wrap(fmt.Errorf("load ranking population: %w", err))
	}
	defer rows.Close()
	var entries []Entry
	who := map[int64]participant{}
	var excluded []Exclusion
	for rows.Next() {
		var e Entry
		var p participant
		var score int64
		var birth string
		if err := rows.Scan(&e.ApplicationID, &p.person, &p.employer, &score, &birth); err != nil {
			return nil, nil, nil, apperr.Wrap(err)
		}
		if reason, ok := banned[p.person]; ok {
			excluded = append(excluded, Exclusion{ApplicationID: e.ApplicationID, Reason: reason})
			continue
		}
		e.Total = rules.Points(score)
		if e.BirthYM, err = birthYM(birth); err != nil {
			return nil, nil, nil, apperr.Wrap(fmt.Errorf("application %d: %w", e.ApplicationID, err))
		}
		entries = append(entries, e)
		who[e.ApplicationID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, nil, nil, apperr.Wrap(err)
	}
	return entries, who, excluded, nil
}

// birthYM turns a stored birth date (YYYY-MM-DD) into YYYYMM.
func birthYM(d string) (int, error) {
	if len(d) < 7 || d[4] != '-' {
		return 0, fmt.Errorf("birth date %q is not YYYY-MM-DD", d)
	}
	y, err1 := strconv.Atoi(d[:4])
	m, err2 := strconv.Atoi(d[5:7])
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("birth date %q is not YYYY-MM-DD", d)
	}
	return y*100 + m, nil
}

func (s *Service) roundFor(ctx context.Context, roundID int64, quota int) (*round.Round, int, error) {
	r, err := s.rounds.Get(ctx, roundID)
	if err != nil {
		return nil, 0, err
	}
	if quota == 0 {
		quota = r.Quota
	}
	return r, quota, nil
}

// noneRanked is the answer when no application can be ranked yet.
func noneRanked(r *round.Round) error {
	return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次还没有审核完成的有效申请，无法排名", r.Year))
}

// WhatIf computes the cutoff, the number qualified and the distribution of
// quota (0: the round's quota) on round roundID as it stands, frozen or not.
// It stores nothing.
func (s *Service) WhatIf(ctx context.Context, by actor.Actor, roundID int64, quota int) (*Outcome, error) {
	if err := requireCity(by); err != nil {
		return nil, err
	}
	r, quota, err := s.roundFor(ctx, roundID, quota)
	if err != nil {
		return nil, err
	}
	entries, _, excluded, err := s.load(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, noneRanked(r)
	}
	t, err := Prepare(entries)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	w, err := t.WhatIf(quota)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Year: r.Year, Frozen: r.Frozen(), Quota: w.Quota, Ranked: w.Ranked, Cutoff: w.Cutoff, Qualified: w.Qualified,
		TiedAtLine: w.TiedAtLine, Distribution: Distribution{NearCutoff: w.Near, Overall: w.Overall}, Excluded: len(excluded)}
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM applications WHERE round_id = $1
		AND status IN ('submitted', 'checking', 'first_result', 'review_requested')`, r.ID).Scan(&out.Pending); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// Prepare ranks frozen round roundID with quota (0: the round's quota) and
// stores the result as the round's draft, replacing an earlier draft. A
// committed round is refused.
func (s *Service) Prepare(ctx context.Context, by actor.Actor, roundID int64, quota int) (*Summary, error) {
	if err := requireCity(by); err != nil {
		return nil, err
	}
	var out *Summary
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := s.rounds.Lock(ctx, roundID)
		if err != nil {
			return err
		}
		if quota == 0 {
			quota = r.Quota
		}
		if !r.Frozen() {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次尚未冻结：请先冻结，再生成排名", r.Year))
		}
		if done, err := s.HasCommitted(ctx, r.ID); err != nil {
			return err
		} else if done {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度排名已确认，不能重新生成", r.Year))
		}
		entries, who, excluded, err := s.load(ctx, r)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return noneRanked(r)
		}
		res, err := Rank(r.Year, quota, entries)
		if err != nil {
			return err
		}
		if err := s.DiscardDraft(ctx, r.ID); err != nil {
			return err
		}
		id, err := s.store(ctx, by, r, res, who, excluded)
		if err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "ranking.prepare", ObjectType: "round", ObjectID: strconv.FormatInt(r.ID, 10),
			Reason: fmt.Sprintf("名额%d，分数线%s，%d人取得资格，%d人参加排名", quota, res.Cutoff, res.Qualified, res.Ranked())}); err != nil {
			return err
		}
		out, err = s.summary(ctx, `k.id = $1`, id)
		return err
	})
	return out, err
}

// store inserts a draft ranking and its entries and exclusions.
func (s *Service) store(ctx context.Context, by actor.Actor, r *round.Round, res *Result, who map[int64]participant,
	excluded []Exclusion) (int64, error) {
	now := db.Micros(s.clock.Now())
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO rankings (round_id, year, quota, status, ranked, qualified, cutoff, tied_at_line, excluded,
		digest, frozen_at, created_by, created_at) VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		r.ID, r.Year, res.Quota, res.Ranked(), res.Qualified, int64(res.Cutoff), res.TiedAtLine, len(excluded), res.Digest(),
		db.Micros(r.FrozenAt), by.UserID, now).Scan(&id)
	if db.IsUniqueViolation(err) {
		return 0, apperr.New(apperr.Conflict, "排名正在由他人生成，请刷新页面后查看")
	}
	if err != nil {
		return 0, apperr.Wrap(fmt.Errorf("insert ranking: %w", err))
	}
	type row struct {
		Seq       int    `json:"seq"`
		App       int64  `json:"app"`
		Person    int64  `json:"person"`
		Employer  int64  `json:"employer"`
		Rank      int    `json:"rank_no"`
		Total     int64  `json:"total"`
		BirthYM   int    `json:"birth_ym"`
		Qualified bool   `json:"qualified"`
		PublicNo  string `json:"public_no"`
	}
	// Multi-row inserts of a few thousand rows each: 350,000 entries in a
	// hundred statements, not 350,000.
	const chunk = 4000
	batch := make([]row, 0, chunk)
	insert := `INSERT INTO ranking_entries (ranking_id, seq, application_id, person_id, employer_id, rank_no, total, birth_ym, qualified,
		public_no) SELECT $1, r.seq, r.app, r.person, r.employer, r.rank_no, r.total, r.birth_ym, r.qualified, r.public_no FROM ` +
		s.db.JSONRows("$2", "seq INTEGER", "app BIGINT", "person BIGINT", "employer BIGINT", "rank_no INTEGER", "total BIGINT",
			"birth_ym INTEGER", "qualified BOOLEAN", "public_no TEXT") + ` r`
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b, _ := json.Marshal(batch)
		if _, err := s.db.Exec(ctx, insert, id, string(b)); err != nil {
			return apperr.Wrap(fmt.Errorf("insert ranking entries: %w", err))
		}
		batch = batch[:0]
		return nil
	}
	for i, e := range res.Entries {
		p := who[e.ApplicationID]
		batch = append(batch, row{i + 1, e.ApplicationID, p.person, p.employer, e.Rank, int64(e.Total), e.BirthYM, e.Qualified, e.PublicityNo})
		if len(batch) == chunk {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if len(excluded) > 0 {
		b, _ := json.Marshal(excluded)
		if _, err := s.db.Exec(ctx, `INSERT INTO ranking_exclusions (ranking_id, application_id, reason)
			SELECT $1, r.application_id, r.reason FROM `+s.db.JSONRows("$2", "application_id BIGINT", "reason TEXT")+` r`,
			id, string(b)); err != nil {
			return 0, apperr.Wrap(fmt.Errorf("insert ranking exclusions: %w", err))
		}
	}
	return id, nil
}

// Commit makes the draft ranking of round roundID the round's committed
// ranking. The round must be frozen, and still frozen since the draft was
// made; a second commit is refused.
func (s *Service) Commit(ctx context.Context, by actor.Actor, roundID int64) (*Summary, error) {
	if err := requireCity(by); err != nil {
		return nil, err
	}
	var out *Summary
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := s.rounds.Lock(ctx, roundID)
		if err != nil {
			return err
		}
		if !r.Frozen() {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次尚未冻结，不能确认排名", r.Year))
		}
		if done, err := s.HasCommitted(ctx, r.ID); err != nil {
			return err
		} else if done {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度排名已确认，不能重复确认", r.Year))
		}
		d, err := s.summary(ctx, `k.round_id = $1 AND k.status = 'draft'`, r.ID)
		if err != nil {
			return err
		}
		if d == nil {
			return apperr.New(apperr.Conflict, "还没有待确认的排名：请先生成排名")
		}
		if !d.FrozenAt.Equal(r.FrozenAt.Truncate(time.Microsecond)) {
			return apperr.New(apperr.Conflict, "批次在生成排名后曾解除冻结，请重新生成排名")
		}
		// What is committed is what the round holds now: scores are fixed
		// by the freeze, but a ban approved after the draft changes who
		// takes part. The draft is ranked again and must hash the same.
		entries, _, excluded, err := s.load(ctx, r)
		if err != nil {
			return err
		}
		if res, err := Rank(r.Year, d.Quota, entries); err != nil || res.Digest() != d.Digest || len(excluded) != d.Excluded {
			return apperr.New(apperr.Conflict, "生成排名后参加排名的名单有变化（如虚假材料库新增记录），请重新生成排名后再确认")
		}
		now := db.Micros(s.clock.Now())
		res, err := s.db.Exec(ctx, `UPDATE rankings SET status = 'committed', committed_by = $1, committed_at = $2
			WHERE id = $3 AND status = 'draft'`, by.UserID, now, d.ID)
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度排名已确认，不能重复确认", r.Year))
		}
		if err != nil {
			return apperr.Wrap(fmt.Errorf("commit ranking: %w", err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "排名已被他人确认或重新生成，请刷新页面后查看")
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "ranking.commit", ObjectType: "round", ObjectID: strconv.FormatInt(r.ID, 10),
			Reason: fmt.Sprintf("名额%d，分数线%s，%d人取得资格，SM3 %s", d.Quota, d.Cutoff, d.Qualified, d.Digest)}); err != nil {
			return err
		}
		out, err = s.summary(ctx, `k.id = $1`, d.ID)
		return err
	})
	return out, err
}

// CurrentCommitted is the condition, on a ranking aliased k, that it is its
// round's current committed ranking: committed and not superseded by a
// formal reopening (a correction). Other packages reading the committed
// list (settlement, publicity) use the same condition.
const CurrentCommitted = `k.status = 'committed' AND NOT EXISTS (SELECT 1 FROM ranking_supersessions x WHERE x.ranking_id = k.id)`

// HasCommitted reports whether round roundID has a current committed
// ranking.
func (s *Service) HasCommitted(ctx context.Context, roundID int64) (bool, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM rankings k WHERE k.round_id = $1 AND `+CurrentCommitted, roundID).Scan(&n); err != nil {
		return false, apperr.Wrap(err)
	}
	return n > 0, nil
}

// DiscardDraft deletes round roundID's draft ranking, if any.
func (s *Service) DiscardDraft(ctx context.Context, roundID int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		for _, q := range []string{
			`DELETE FROM ranking_entries WHERE ranking_id IN (SELECT id FROM rankings WHERE round_id = $1 AND status = 'draft')`,
			`DELETE FROM ranking_exclusions WHERE ranking_id IN (SELECT id FROM rankings WHERE round_id = $1 AND status = 'draft')`,
			`DELETE FROM rankings WHERE round_id = $1 AND status = 'draft'`,
		} {
			if _, err := s.db.Exec(ctx, q, roundID); err != nil {
				return apperr.Wrap(fmt.Errorf("discard draft ranking: %w", err))
			}
		}
		return nil
	})
}

const summaryColumns = `k.id, k.round_id, k.year, k.quota, k.status, k.ranked, k.qualified, k.cutoff, k.tied_at_line, k.excluded,
	k.digest, k.frozen_at, k.created_by, k.created_at, k.committed_by, k.committed_at`

// summary reads the one ranking matching where, or nil.
func (s *Service) summary(ctx context.Context, where string, arg any) (*Summary, error) {
	var k Summary
	var cutoff, frozen, created, committed int64
	err := s.db.QueryRow(ctx, `SELECT `+summaryColumns+` FROM rankings k WHERE `+where, arg).Scan(&k.ID, &k.RoundID, &k.Year,
		&k.Quota, &k.Status, &k.Ranked, &k.Qualified, &cutoff, &k.TiedAtLine, &k.Excluded, &k.Digest, &frozen, &k.CreatedBy, &created,
		&k.CommittedBy, &committed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	k.Cutoff, k.FrozenAt, k.CreatedAt, k.CommittedAt = rules.Points(cutoff), db.FromMicros(frozen), db.FromMicros(created), db.FromMicros(committed)
	return &k, nil
}

// Stored returns round roundID's draft and committed rankings (each nil
// when there is none).
func (s *Service) Stored(ctx context.Context, by actor.Actor, roundID int64) (draft, committed *Summary, err error) {
	if err := requireCity(by); err != nil {
		return nil, nil, err
	}
	if draft, err = s.summary(ctx, `k.round_id = $1 AND k.status = 'draft'`, roundID); err != nil {
		return nil, nil, err
	}
	committed, err = s.summary(ctx, `k.round_id = $1 AND `+CurrentCommitted, roundID)
	return draft, committed, err
}

// Committed rebuilds round roundID's committed ranking from its rows and
// checks it against the digest stored at commit: what publication hashes
// and shows. It answers NotFound when nothing is committed.
func (s *Service) Committed(ctx context.Context, roundID int64) (*Result, *Summary, error) {
	k, err := s.summary(ctx, `k.round_id = $1 AND `+CurrentCommitted, roundID)
	if err != nil {
		return nil, nil, err
	}
	if k == nil {
		return nil, nil, apperr.New(apperr.NotFound, "该年度尚未确认排名")
	}
	res, err := s.result(ctx, k)
	if err != nil {
		return nil, nil, err
	}
	if got := res.Digest(); got != k.Digest {
		return nil, nil, apperr.Wrap(fmt.Errorf("ranking %d: stored digest %s, rows hash to %s", k.ID, k.Digest, got))
	}
	return res, k, nil
}

func (s *Service) result(ctx context.Context, k *Summary) (*Result, error) {
	res := &Result{Year: k.Year, Quota: k.Quota, Cutoff: k.Cutoff, Qualified: k.Qualified, TiedAtLine: k.TiedAtLine,
		Entries: make([]Ranked, 0, k.Ranked)}
	rows, err := s.db.Query(ctx, `SELECT application_id, rank_no, total, birth_ym, qualified, public_no FROM ranking_entries
		WHERE ranking_id = $1 ORDER BY seq`, k.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Ranked
		var total int64
		if err := rows.Scan(&e.ApplicationID, &e.Rank, &total, &e.BirthYM, &e.Qualified, &e.PublicityNo); err != nil {
			return nil, apperr.Wrap(err)
		}
		e.Total = rules.Points(total)
		res.Entries = append(res.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return res, nil
}

// Exclusions lists the applications a stored ranking left out.
func (s *Service) Exclusions(ctx context.Context, rankingID int64) ([]Exclusion, error) {
	rows, err := s.db.Query(ctx, `SELECT application_id, reason FROM ranking_exclusions WHERE ranking_id = $1 ORDER BY application_id`, rankingID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Exclusion
	for rows.Next() {
		var e Exclusion
		if err := rows.Scan(&e.ApplicationID, &e.Reason); err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// ApplicationOf finds the application holding 公示编号 number in round
// roundID's committed ranking (the office queue's search).
func (s *Service) ApplicationOf(ctx context.Context, roundID int64, number string) (int64, bool, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT e.application_id FROM ranking_entries e JOIN rankings k ON k.id = e.ranking_id
		WHERE k.round_id = $1 AND `+CurrentCommitted+` AND e.public_no = $2`, roundID, number).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, apperr.Wrap(err)
	}
	return id, true, nil
}

// Supersede marks round roundID's current committed ranking, if any, as
// superseded by reopening reopeningID, in the caller's transaction (the
// approval of the reopening, under the round's lock). The ranking and its
// entries stay as they were — immutable, the record of what was published —
// and the round can be ranked and committed again: a correction.
func (s *Service) Supersede(ctx context.Context, by actor.Actor, roundID, reopeningID int64) error {
	k, err := s.summary(ctx, `k.round_id = $1 AND `+CurrentCommitted, roundID)
	if err != nil || k == nil {
		return err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO ranking_supersessions (ranking_id, reopening_id, superseded_by, superseded_at)
		VALUES ($1, $2, $3, $4)`, k.ID, reopeningID, by.UserID, db.Micros(s.clock.Now())); err != nil {
		return apperr.Wrap(fmt.Errorf("supersede ranking %d: %w", k.ID, err))
	}
	return s.audit.Record(ctx, audit.Entry{Action: "ranking.supersede", ObjectType: "round", ObjectID: strconv.FormatInt(roundID, 10),
		Reason: fmt.Sprintf("解除冻结（申请 %d）后，原确认的排名（SM3 %s）作废，须重新排名并确认", reopeningID, k.Digest)})
}

// Standing is one application's place in a committed ranking.
type Standing struct {
	RankingID   int64        `json:"-"`
	Rank        int          `json:"rank"`
	Ranked      int          `json:"ranked"`
	Total       rules.Points `json:"total"`
	Cutoff      rules.Points `json:"cutoff"`
	Qualified   bool         `json:"qualified"`
	PublicityNo string       `json:"publicity_no,omitempty"`
	// Excluded is the reason the application was left out of the ranking
	// (a ban), "" when it was ranked.
	Excluded string `json:"excluded,omitempty"`
}

// StandingIn returns application appID's place in ranking rankingID, or
// nil when the ranking neither ranked nor excluded it.
func (s *Service) StandingIn(ctx context.Context, rankingID, appID int64) (*Standing, error) {
	var st Standing
	var total, cutoff int64
	err := s.db.QueryRow(ctx, `SELECT e.rank_no, k.ranked, e.total, k.cutoff, e.qualified, e.public_no
		FROM ranking_entries e JOIN rankings k ON k.id = e.ranking_id WHERE e.ranking_id = $1 AND e.application_id = $2`,
		rankingID, appID).Scan(&st.Rank, &st.Ranked, &total, &cutoff, &st.Qualified, &st.PublicityNo)
	switch {
	case err == nil:
		st.RankingID, st.Total, st.Cutoff = rankingID, rules.Points(total), rules.Points(cutoff)
		return &st, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, apperr.Wrap(err)
	}
	err = s.db.QueryRow(ctx, `SELECT x.reason, k.ranked, k.cutoff FROM ranking_exclusions x JOIN rankings k ON k.id = x.ranking_id
		WHERE x.ranking_id = $1 AND x.application_id = $2`, rankingID, appID).Scan(&st.Excluded, &st.Ranked, &cutoff)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, apperr.Wrap(err)
	}
	st.RankingID, st.Cutoff = rankingID, rules.Points(cutoff)
	return &st, nil
}
