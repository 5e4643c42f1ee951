// Package settlement is the hand-off of a round's qualified list to
// settlement (落户办理): the list of a committed ranking's qualified
// applicants with a status per person (settled, declined, expired) recorded
// by the city bureau, and the list exported as CSV and as Excel for the
// public security bureau. It owns the settlements table.
package settlement

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/audit"
	"jifen/internal/person"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/sheet"
	"jifen/internal/ranking"
	"jifen/internal/round"
	"jifen/internal/rules"
)

// Status is where a qualified applicant's settlement stands.
type Status string

// The statuses. Pending is the absence of a record.
const (
	Pending  Status = "pending"
	Settled  Status = "settled"
	Declined Status = "declined"
	Expired  Status = "expired"
)

var statusNames = map[Status]string{Pending: "待办理", Settled: "已落户", Declined: "本人放弃", Expired: "逾期未办理"}

// Statuses lists the statuses in the order pages show them.
var Statuses = []Status{Pending, Settled, Declined, Expired}

// Name is the Chinese name of a status.
func (s Status) Name() string { return statusNames[s] }

// Valid reports whether s is a known status.
func (s Status) Valid() bool { _, ok := statusNames[s]; return ok }

// Row is one qualified applicant of a committed ranking.
type Row struct {
	Seq           int          `json:"seq"`
	ApplicationID int64        `json:"application_id"`
	PublicNo      string       `json:"publicity_no"`
	Rank          int          `json:"rank"`
	Total         rules.Points `json:"total"`
	BirthYM       int          `json:"birth_ym"`
	Name          string       `json:"name"`
	EmployerName  string       `json:"employer_name"`
	CreditCode    string       `json:"credit_code"`
	Status        Status       `json:"status"`
	StatusName    string       `json:"status_name"`
	Note          string       `json:"note,omitempty"`
	DecidedAt     time.Time    `json:"decided_at,omitzero"`
	Version       int          `json:"version"` // 0 while nothing is recorded
	personID      int64
}

// Service keeps the settlement list.
type Service struct {
	db      *db.DB
	audit   *audit.Log
	clock   clock.Clock
	rounds  *round.Service
	persons *person.Service
	apps    *application.Service
}

// NewService returns the settlement service.
func NewService(d *db.DB, a *audit.Log, c clock.Clock, rounds *round.Service, persons *person.Service, apps *application.Service) *Service {
	return &Service{db: d, audit: a, clock: c, rounds: rounds, persons: persons, apps: apps}
}

func requireCity(by actor.Actor) error {
	if !by.Can(actor.PermRoundsManage) {
		return apperr.New(apperr.Forbidden, "只有市人力社保局经办人员可以办理落户交接")
	}
	return nil
}

const rowColumns = `e.seq, e.application_id, e.public_no, e.rank_no, e.total, e.birth_ym, e.person_id, p.name, emp.name, emp.credit_code,
	COALESCE(st.status, 'pending'), COALESCE(st.note, ''), COALESCE(st.decided_at, 0), COALESCE(st.version, 0)`

const rowFrom = ` FROM ranking_entries e JOIN rankings k ON k.id = e.ranking_id
	JOIN persons p ON p.id = e.person_id JOIN employers emp ON emp.id = e.employer_id
	LEFT JOIN settlements st ON st.application_id = e.application_id
	WHERE k.round_id = $1 AND ` + ranking.CurrentCommitted + ` AND e.qualified`

func scanRow(sc interface{ Scan(...any) error }) (Row, error) {
	var r Row
	var total, decided int64
	if err := sc.Scan(&r.Seq, &r.ApplicationID, &r.PublicNo, &r.Rank, &total, &r.BirthYM, &r.personID, &r.Name, &r.EmployerName,
		&r.CreditCode, &r.Status, &r.Note, &decided, &r.Version); err != nil {
		return r, err
	}
	r.Total, r.DecidedAt, r.StatusName = rules.Points(total), db.FromMicros(decided), r.Status.Name()
	return r, nil
}

// Page is one page of the list.
type Page struct {
	Rows []Row `json:"rows"`
	// Next is the seq to pass as after for the next page; 0 on the last.
	Next   int            `json:"next"`
	Counts map[Status]int `json:"counts"`
	Total  int            `json:"total"`
}

// List returns up to limit qualified applicants of round roundID after
// seq after (keyset: 公示编号 order), only those of status when it is set,
// with the count of each status.
func (s *Service) List(ctx context.Context, by actor.Actor, roundID int64, status Status, after, limit int) (*Page, error) {
	if err := requireCity(by); err != nil {
		return nil, err
	}
	if status != "" && !status.Valid() {
		return nil, apperr.Field("status", "落户办理状态不正确")
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, `SELECT `+rowColumns+rowFrom+` AND e.seq > $2 AND ($3 = '' OR COALESCE(st.status, 'pending') = $3)
		ORDER BY e.seq LIMIT $4`, roundID, after, string(status), limit+1)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	pg := &Page{Counts: map[Status]int{}}
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		pg.Rows = append(pg.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	if len(pg.Rows) > limit {
		pg.Rows = pg.Rows[:limit]
		pg.Next = pg.Rows[limit-1].Seq
	}
	counts, err := s.db.Query(ctx, `SELECT COALESCE(st.status, 'pending'), count(*)`+rowFrom+` GROUP BY COALESCE(st.status, 'pending')`, roundID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer counts.Close()
	for counts.Next() {
		var st Status
		var n int
		if err := counts.Scan(&st, &n); err != nil {
			return nil, apperr.Wrap(err)
		}
		pg.Counts[st] = n
		pg.Total += n
	}
	if err := counts.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return pg, nil
}

const maxNote = 500

// Record sets the settlement status of application appID of round roundID,
// which must be qualified in the round's committed ranking, once the
// round's settlement window has opened. version is the version the officer
// saw (0 when nothing was recorded): of two officers recording at once,
// exactly one wins. The applicant and the employer see it on the timeline
// and by e-mail once their application is published; before that it is
// recorded and audited only, so that nothing of the list leaves the office.
func (s *Service) Record(ctx context.Context, by actor.Actor, roundID, appID int64, status Status, note string, version int) (*Row, error) {
	if err := requireCity(by); err != nil {
		return nil, err
	}
	if !status.Valid() {
		return nil, apperr.Field("status", "请选择落户办理状态")
	}
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > maxNote {
		return nil, apperr.Field("note", fmt.Sprintf("备注不能超过%d字", maxNote))
	}
	if (status == Declined || status == Expired) && note == "" {
		return nil, apperr.Field("note", "请填写说明（如放弃的书面声明、逾期的日期）")
	}
	rd, err := s.rounds.Get(ctx, roundID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if w, ok := rd.Window(round.Settlement); !ok || now.Before(w.OpensAt) {
		when := "未设置"
		if ok {
			when = round.BeijingTime(w.OpensAt) + " 开始"
		}
		return nil, apperr.New(apperr.Conflict, "落户办理阶段尚未开始（"+when+"），此前不能记录办理情况")
	}
	var out Row
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		cur, err := scanRow(s.db.QueryRow(ctx, `SELECT `+rowColumns+rowFrom+` AND e.application_id = $2`, roundID, appID))
		if err != nil {
			if db.IsNoRows(err) {
				return apperr.New(apperr.NotFound, "该申请不在本年度取得落户资格的名单中")
			}
			return apperr.Wrap(err)
		}
		if cur.Version != version {
			return errMoved
		}
		if cur.Status == status && cur.Note == note {
			out = cur
			return nil
		}
		at := db.Micros(now)
		var n int64
		if version == 0 {
			res, err := s.db.Exec(ctx, `INSERT INTO settlements (application_id, round_id, status, note, decided_by, decided_at)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (application_id) DO NOTHING`, appID, roundID, string(status), note, by.UserID, at)
			if err != nil {
				return apperr.Wrap(err)
			}
			n, _ = res.RowsAffected()
		} else {
			res, err := s.db.Exec(ctx, `UPDATE settlements SET status = $1, note = $2, decided_by = $3, decided_at = $4, version = version + 1
				WHERE application_id = $5 AND version = $6`, string(status), note, by.UserID, at, appID, version)
			if err != nil {
				return apperr.Wrap(err)
			}
			n, _ = res.RowsAffected()
		}
		if n != 1 {
			return errMoved
		}
		text := "落户办理情况：" + status.Name()
		if note != "" {
			text += "（" + note + "）"
		}
		if err := s.audit.Record(ctx, audit.Entry{Action: "settlement.record", ObjectType: "application",
			ObjectID: strconv.FormatInt(appID, 10), Reason: text}); err != nil {
			return err
		}
		// The applicant and the employer hear of it only once the list is
		// published (the application is published): before that, that the
		// person qualified is not to leave the office.
		var appStatus string
		if err := s.db.QueryRow(ctx, `SELECT status FROM applications WHERE id = $1`, appID).Scan(&appStatus); err != nil {
			return apperr.Wrap(err)
		}
		if appStatus == "published" {
			if err := s.apps.NoteAndMail(ctx, by, appID, text, fmt.Sprintf("settlement:v%d", version+1), true); err != nil {
				return err
			}
		}
		if out, err = scanRow(s.db.QueryRow(ctx, `SELECT `+rowColumns+rowFrom+` AND e.application_id = $2`, roundID, appID)); err != nil {
			return apperr.Wrap(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

var errMoved = apperr.New(apperr.Conflict, "办理情况已被他人更新，请刷新页面后重试")

// all reads the whole qualified list with the full ID numbers, for the
// exports; the reveal of the numbers is audited once, with the purpose.
func (s *Service) all(ctx context.Context, by actor.Actor, roundID int64) ([]Row, map[int64]string, error) {
	if err := requireCity(by); err != nil {
		return nil, nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+rowColumns+rowFrom+` ORDER BY e.seq`, roundID)
	if err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, nil, apperr.Wrap(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	if len(out) == 0 {
		return nil, nil, apperr.New(apperr.Conflict, "该年度尚未确认排名，没有取得落户资格的名单")
	}
	ids := make([]int64, len(out))
	for i, r := range out {
		ids[i] = r.personID
	}
	numbers, err := s.persons.FullIDNumbers(ctx, by, ids, "落户办理名单导出")
	if err != nil {
		return nil, nil, err
	}
	if err := s.audit.Record(ctx, audit.Entry{Action: "settlement.export", ObjectType: "round", ObjectID: strconv.FormatInt(roundID, 10),
		Reason: fmt.Sprintf("导出取得落户资格名单 %d 人", len(out))}); err != nil {
		return nil, nil, err
	}
	return out, numbers, nil
}

// Header is the exports' column line.
var Header = []string{"公示编号", "排名", "姓名", "公民身份号码", "出生年月", "用人单位", "统一社会信用代码", "积分", "落户办理状态", "备注"}

func record(r Row, id string) []string {
	return []string{r.PublicNo, strconv.Itoa(r.Rank), r.Name, id, fmt.Sprintf("%04d-%02d", r.BirthYM/100, r.BirthYM%100),
		r.EmployerName, r.CreditCode, r.Total.String(), r.StatusName, r.Note}
}

// ExportCSV writes the qualified list as UTF-8 CSV with a byte order mark
// (so that Excel reads the Chinese), every text cell neutralized against
// formula injection (internal/platform/sheet).
func (s *Service) ExportCSV(ctx context.Context, by actor.Actor, roundID int64, w io.Writer) error {
	rows, ids, err := s.all(ctx, by, roundID)
	if err != nil {
		return err
	}
	recs := make([][]string, len(rows))
	for i, r := range rows {
		recs[i] = record(r, ids[r.personID])
	}
	return sheet.WriteCSV(w, Header, recs)
}

// ExportExcel writes the qualified list as an Excel workbook (.xlsx): text
// cells as strings (neutralized), rank and score as numbers.
func (s *Service) ExportExcel(ctx context.Context, by actor.Actor, roundID int64, w io.Writer) error {
	rows, ids, err := s.all(ctx, by, roundID)
	if err != nil {
		return err
	}
	recs := make([][]any, len(rows))
	for i, r := range rows {
		rec := record(r, ids[r.personID])
		cells := make([]any, len(rec))
		for j, v := range rec {
			cells[j] = v
		}
		cells[1] = r.Rank
		cells[7] = float64(r.Total) / 100
		recs[i] = cells
	}
	return sheet.WriteExcel(w, "落户名单", Header, recs)
}
