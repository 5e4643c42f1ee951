package stats

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
)

// CasePage is one page of the applications behind a cell (a drill-down).
type CasePage struct {
	Cell    []Level `json:"cell"` // the cell's dimension values
	Total   int     `json:"total"`
	Page    int     `json:"page"`
	PerPage int     `json:"per_page"`
	Cases   []Case  `json:"cases"`
}

// Case is one application as a drill-down lists it.
type Case struct {
	ApplicationID int64   `json:"application_id"`
	Name          string  `json:"name"`
	Employer      string  `json:"employer"`
	District      string  `json:"district"`
	Status        string  `json:"status"`
	Total         float64 `json:"total"`
}

// casesPerPage is a drill-down page's length.
const casesPerPage = 50

// Cases lists the applications of the cell of q whose dimension codes are
// keys (one per q.Dims), page from 1. It reads personal data, so every
// applicant listed is an audited read, like a case view; a cell outside
// the asker's district is refused and the refusal audited.
func (s *Service) Cases(ctx context.Context, by actor.Actor, q Query, keys []string, page int) (*CasePage, error) {
	if page < 1 {
		page = 1
	}
	if len(keys) != len(q.Dims) {
		return nil, apperr.Field("cell", fmt.Sprintf("请指定%d个维度的取值", len(q.Dims)))
	}
	out := &CasePage{Page: page, PerPage: casesPerPage}
	var ids []int64
	var denied string
	err := s.Cube.read(ctx, func(snap *snapshot) error {
		p, err := s.check(q, snap, by)
		if err != nil {
			return err
		}
		want := make([]int, len(p.dims))
		for j, d := range p.dims {
			lv := levelOf(d, snap, keys[j])
			if lv < 0 {
				return apperr.Field("cell", fmt.Sprintf("“%s”不是维度“%s”的取值", keys[j], d.label))
			}
			want[j] = lv
			out.Cell = append(out.Cell, d.levels(snap)[lv])
			if d.district && p.scope != "" && keys[j] != p.scope {
				denied = keys[j]
				return nil
			}
		}
		for i := range snap.rows {
			r := &snap.rows[i]
			if !p.keep(snap, r) {
				continue
			}
			match := true
			for j, d := range p.dims {
				if d.level(snap, r) != want[j] {
					match = false
					break
				}
			}
			if match {
				out.Total++
				if out.Total > (page-1)*casesPerPage && len(ids) < casesPerPage {
					ids = append(ids, r.id)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap(err)
	}
	if denied != "" {
		_ = s.audit.Record(ctx, audit.Entry{ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()),
			Action: "stats.drilldown", ObjectType: "district", ObjectID: denied, Outcome: audit.Denied,
			Reason: "查看本区以外的统计明细"})
		return nil, apperr.New(apperr.Forbidden, "您只能查看本区（"+by.District+"）的统计明细")
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.Query(ctx, `SELECT a.id, a.person_id, p.name, e.name, COALESCE(NULLIF(a.district, ''), e.district), a.status,
		CASE WHEN a.score_run <> 0 THEN a.score ELSE a.estimate END
		FROM applications a JOIN persons p ON p.id = a.person_id JOIN employers e ON e.id = a.employer_id
		WHERE a.id IN (SELECT id FROM `+s.db.JSONIDs("$1")+` x) ORDER BY a.id`, idList(ids))
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	cell := make([]string, len(out.Cell))
	for i, l := range out.Cell {
		cell[i] = l.Label
	}
	what := "统计明细：" + strings.Join(cell, "／")
	for rows.Next() {
		var c Case
		var person, total int64
		var status string
		if err := rows.Scan(&c.ApplicationID, &person, &c.Name, &c.Employer, &c.District, &status, &total); err != nil {
			return nil, apperr.Wrap(err)
		}
		c.Status = statusLevels[indexOf(statusLevels, status)].Label
		c.Total = float64(total) / hundredth
		out.Cases = append(out.Cases, c)
		s.audit.RecordRead(ctx, by, audit.Read{Action: audit.ReadStatsCell, PersonID: person,
			What: "申请 " + strconv.FormatInt(c.ApplicationID, 10) + "，" + what})
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

func idList(ids []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte(']')
	return b.String()
}
