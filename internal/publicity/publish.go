package publicity

// Publishing (DOMAIN.md §6, issue 13 item 2): a city officer publishes the
// committed ranking of a frozen round with a notice period. What is
// published is the canonical list of docs/publicity.md — the qualified rows
// with 公示编号, name, birth month, employer, total and the ten indicator
// values — stored with its digests and Merkle root, immutable. A correction
// (the round reopened, ranked and committed again) publishes version + 1;
// every version stays.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/publicity/proof"
	"jifen/internal/ranking"
	"jifen/internal/round"
	"jifen/internal/rules"
)

// Breakdown returns the ten indicator values of an application's final
// score in rules.IndicatorCodes order, or nil when they cannot be told (an
// application scored without a recorded breakdown): its row is then
// published with the total only.
type Breakdown func(ctx context.Context, applicationID int64) ([]rules.Points, error)

// Publisher publishes committed rankings.
type Publisher struct {
	db        *db.DB
	audit     *audit.Log
	clock     clock.Clock
	rounds    *round.Service
	ranking   *ranking.Service
	breakdown Breakdown
	board     *Board
}

// NewPublisher returns the publishing service; board, if not nil, is
// reloaded after each publication.
func NewPublisher(d *db.DB, a *audit.Log, c clock.Clock, rounds *round.Service, rk *ranking.Service, bd Breakdown, board *Board) *Publisher {
	return &Publisher{db: d, audit: a, clock: c, rounds: rounds, ranking: rk, breakdown: bd, board: board}
}

// Publication is one stored version of a round's list.
type Publication struct {
	ID          int64        `json:"id"`
	RoundID     int64        `json:"round_id"`
	Year        int          `json:"year"`
	Version     int          `json:"version"`
	RankingID   int64        `json:"ranking_id"`
	NoticeStart string       `json:"notice_start"`
	NoticeEnd   string       `json:"notice_end"`
	Quota       int          `json:"quota"`
	Cutoff      rules.Points `json:"cutoff"`
	Qualified   int          `json:"qualified"`
	Rows        int          `json:"rows"`
	SM3         string       `json:"sm3"`
	SHA256      string       `json:"sha256"`
	MerkleRoot  string       `json:"merkle_root"`
	Reason      string       `json:"reason,omitempty"`
	PublishedBy int64        `json:"published_by"`
	PublishedAt time.Time    `json:"published_at"`
}

// The bounds of a notice period, in days (both dates included), and of a
// correction's reason, in characters.
const (
	MaxNoticeDays    = 30
	minReason        = 10
	maxReason        = 1000
	publicationWhere = ` FROM publications`
)

const publicationColumns = `id, round_id, year, version, ranking_id, notice_start, notice_end, quota, cutoff, qualified, row_count,
	sm3, sha256, merkle_root, reason, published_by, published_at`

func scanPublication(sc interface{ Scan(...any) error }) (*Publication, error) {
	var p Publication
	var cutoff, at int64
	if err := sc.Scan(&p.ID, &p.RoundID, &p.Year, &p.Version, &p.RankingID, &p.NoticeStart, &p.NoticeEnd, &p.Quota, &cutoff,
		&p.Qualified, &p.Rows, &p.SM3, &p.SHA256, &p.MerkleRoot, &p.Reason, &p.PublishedBy, &at); err != nil {
		return nil, err
	}
	p.Cutoff, p.PublishedAt = rules.Points(cutoff), db.FromMicros(at)
	return &p, nil
}

// Publications lists the versions published of round roundID, oldest
// first.
func (p *Publisher) Publications(ctx context.Context, roundID int64) ([]*Publication, error) {
	rows, err := p.db.Query(ctx, `SELECT `+publicationColumns+publicationWhere+` WHERE round_id = $1 ORDER BY version`, roundID)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("publications: %w", err))
	}
	defer rows.Close()
	var out []*Publication
	for rows.Next() {
		pub, err := scanPublication(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, pub)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// noticeDates validates a notice period: two dates, the start not before
// today (Beijing), the end not before the start, at most MaxNoticeDays days.
func noticeDates(now time.Time, start, end string) error {
	s, err := beijingDay(strings.TrimSpace(start))
	if err != nil || strings.TrimSpace(start) != start {
		return apperr.Field("notice_start", "公示开始日期须为 YYYY-MM-DD 格式的日期")
	}
	e, err := beijingDay(strings.TrimSpace(end))
	if err != nil || strings.TrimSpace(end) != end {
		return apperr.Field("notice_end", "公示结束日期须为 YYYY-MM-DD 格式的日期")
	}
	today := now.In(clock.Beijing).Format("2006-01-02")
	if start < today {
		return apperr.Field("notice_start", "公示开始日期不能早于今天（"+today+"）")
	}
	if e.Before(s) {
		return apperr.Field("notice_end", "公示结束日期不能早于开始日期")
	}
	if days := int(e.Sub(s).Hours()/24) + 1; days > MaxNoticeDays {
		return apperr.Field("notice_end", fmt.Sprintf("公示期不能超过 %d 天（现为 %d 天）", MaxNoticeDays, days))
	}
	return nil
}

// Publish publishes round roundID's committed ranking with the notice
// period [start, end] (dates, both included). The first publication of a
// year is version 1; after a correction (the round reopened, ranked and
// committed again) the next is version + 1 and needs a reason. The list
// appears to the public at the start; the applications move to published
// then (PublishStarted).
func (p *Publisher) Publish(ctx context.Context, by actor.Actor, roundID int64, start, end, reason string) (*Publication, error) {
	if !by.Can(actor.PermRoundsManage) {
		return nil, apperr.New(apperr.Forbidden, "只有市人力社保局经办人员可以发布公示")
	}
	if err := noticeDates(p.clock.Now(), start, end); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > maxReason {
		return nil, apperr.Field("reason", fmt.Sprintf("更正说明不能超过%d字", maxReason))
	}
	var id int64
	err := p.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := p.rounds.Lock(ctx, roundID)
		if err != nil {
			return err
		}
		if !r.Frozen() {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次未冻结（可能已解除冻结进行更正），不能发布公示", r.Year))
		}
		res, sum, err := p.ranking.Committed(ctx, roundID)
		if err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度排名尚未确认：请先确认排名，再发布公示", r.Year))
			}
			return err
		}
		var imported int
		if err := p.db.QueryRow(ctx, `SELECT count(*) FROM publicity_rounds WHERE year = $1`, r.Year).Scan(&imported); err != nil {
			return apperr.Wrap(err)
		}
		if imported > 0 {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度已导入历年公示名单，不能再发布本系统的公示", r.Year))
		}
		var version, already int
		if err := p.db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0), COALESCE(SUM(CASE WHEN ranking_id = $2 THEN 1 ELSE 0 END), 0)
			FROM publications WHERE year = $1`, r.Year, sum.ID).Scan(&version, &already); err != nil {
			return apperr.Wrap(err)
		}
		if already > 0 {
			return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度已确认的排名已经公示，无需重复发布", r.Year))
		}
		version++
		if version > 1 && utf8.RuneCountInString(reason) < minReason {
			return apperr.Field("reason", fmt.Sprintf("这是更正后的第 %d 版公示：请说明更正的原因（%d到%d字），将随名单公布", version, minReason, maxReason))
		}
		if version == 1 {
			reason = ""
		}
		l, err := p.list(ctx, res, sum, version, start, end)
		if err != nil {
			return err
		}
		sealed, err := l.Seal()
		if err != nil {
			return apperr.Wrap(err)
		}
		now := db.Micros(p.clock.Now())
		err = p.db.QueryRow(ctx, `INSERT INTO publications (round_id, year, version, ranking_id, notice_start, notice_end, quota, cutoff,
			qualified, row_count, canonical, sm3, sha256, merkle_root, reason, published_by, published_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
			r.ID, r.Year, version, sum.ID, start, end, l.Quota, int64(l.Cutoff), l.Qualified, len(l.Rows), string(sealed.Canonical),
			sealed.SM3, sealed.SHA256, sealed.Root, reason, by.UserID, now).Scan(&id)
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, "公示正在由他人发布，请刷新页面后查看")
		}
		if err != nil {
			return apperr.Wrap(fmt.Errorf("insert publication: %w", err))
		}
		text := fmt.Sprintf("%d年度第%d版公示：公示期 %s 至 %s，%d人，分数线%s，SM3 %s，Merkle 根 %s", r.Year, version, start, end,
			len(l.Rows), l.Cutoff, sealed.SM3, sealed.Root)
		if reason != "" {
			text += "；更正原因：" + reason
		}
		return p.audit.Record(ctx, audit.Entry{Action: "publicity.publish", ObjectType: "round", ObjectID: strconv.FormatInt(r.ID, 10),
			Reason: text})
	})
	if err != nil {
		return nil, err
	}
	if p.board != nil {
		// The board is reloaded every half minute anyway; a failure here
		// only delays the list.
		_ = p.board.Reload(ctx)
	}
	return scanPublication(p.db.QueryRow(ctx, `SELECT `+publicationColumns+publicationWhere+` WHERE id = $1`, id))
}

// list builds the published list of a committed ranking: its qualified
// rows with what the public sees.
func (p *Publisher) list(ctx context.Context, res *ranking.Result, sum *ranking.Summary, version int, start, end string) (*proof.List, error) {
	l := &proof.List{Year: res.Year, Version: version, Quota: res.Quota, Cutoff: res.Cutoff, Qualified: res.Qualified,
		NoticeStart: start, NoticeEnd: end, Rows: make([]proof.Row, 0, res.Qualified)}
	rows, err := p.db.Query(ctx, `SELECT e.application_id, e.public_no, e.total, e.birth_ym, p.name, emp.name
		FROM ranking_entries e JOIN persons p ON p.id = e.person_id JOIN employers emp ON emp.id = e.employer_id
		WHERE e.ranking_id = $1 AND e.qualified ORDER BY e.seq`, sum.ID)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("published rows: %w", err))
	}
	type pending struct {
		app int64
		row proof.Row
	}
	var ps []pending
	for rows.Next() {
		var x pending
		var total int64
		if err := rows.Scan(&x.app, &x.row.Number, &total, &x.row.BirthYM, &x.row.Name, &x.row.Employer); err != nil {
			rows.Close()
			return nil, apperr.Wrap(err)
		}
		x.row.Total = rules.Points(total)
		ps = append(ps, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	for _, x := range ps {
		if p.breakdown != nil {
			vals, err := p.breakdown(ctx, x.app)
			if err != nil {
				return nil, err
			}
			// Published values must add up to the published total; a
			// breakdown that does not is left out rather than shown wrong.
			var s rules.Points
			for _, v := range vals {
				s += v
			}
			if len(vals) == len(rules.IndicatorCodes()) && s == x.row.Total {
				x.row.Indicators = vals
			}
		}
		l.Rows = append(l.Rows, x.row)
	}
	if len(l.Rows) != res.Qualified {
		return nil, apperr.Wrap(fmt.Errorf("ranking %d: %d qualified rows, summary says %d", sum.ID, len(l.Rows), res.Qualified))
	}
	return l, nil
}

// Current returns the newest publication of round roundID, or nil.
func (p *Publisher) Current(ctx context.Context, roundID int64) (*Publication, error) {
	pub, err := scanPublication(p.db.QueryRow(ctx, `SELECT `+publicationColumns+publicationWhere+
		` WHERE round_id = $1 ORDER BY version DESC LIMIT 1`, roundID))
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return pub, nil
}
