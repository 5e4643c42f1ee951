package fraud

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/platform/ident"
)

// PersonBan is why a person is barred from applying in year ("" when not):
// an entry in force whose ban years cover it. It implements
// application.Bans.
func (s *Service) PersonBan(ctx context.Context, personID int64, year int) (string, error) {
	return s.ban(ctx, Person, personID, year)
}

// EmployerBan is why an employer is barred from filing in year ("" when
// not). It implements application.Bans.
func (s *Service) EmployerBan(ctx context.Context, employerID int64, year int) (string, error) {
	return s.ban(ctx, Employer, employerID, year)
}

func (s *Service) ban(ctx context.Context, k Kind, id int64, year int) (string, error) {
	if id == 0 {
		return "", nil
	}
	col := "person_id"
	if k == Employer {
		col = "employer_id"
	}
	// Of several entries in force, the one that bars longest is named.
	var from, to int
	err := s.db.QueryRow(ctx, `SELECT ban_from_year, ban_to_year FROM fraud_entries WHERE kind = $1 AND `+col+` = $2
		AND status = 'in_force' AND ban_from_year <= $3 AND ban_to_year >= $3 ORDER BY ban_to_year DESC, id LIMIT 1`,
		string(k), id, year).Scan(&from, &to)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", apperr.Wrap(err)
	}
	return banReason(k, from, to), nil
}

// BannedPersons is every person barred in year, with the reason the
// ranking puts on their statement ("因提供虚假材料，2026年至2031年不得申
// 报"). The ranking leaves their applications out. An employer's ban is not
// here: it bars filing only, and what it filed before stays in the round.
func (s *Service) BannedPersons(ctx context.Context, year int) (map[int64]string, error) {
	rows, err := s.db.Query(ctx, `SELECT person_id, ban_from_year, ban_to_year FROM fraud_entries WHERE kind = 'person'
		AND status = 'in_force' AND ban_from_year <= $1 AND ban_to_year >= $1 ORDER BY ban_to_year, id`, year)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var from, to int
		if err := rows.Scan(&id, &from, &to); err != nil {
			return nil, apperr.Wrap(err)
		}
		out[id] = banReason(Person, from, to) // the longest ban last, so it stays
	}
	return out, rows.Err()
}

// ForApplication is the entries about an application's person or its
// employer that are waiting or in force (rejected ones are left out), for
// the case view; the caller has checked that the viewer may see the case.
func (s *Service) ForApplication(ctx context.Context, applicationID int64) ([]Entry, error) {
	rows, err := s.db.Query(ctx, selectEntry+` WHERE status IN ('pending', 'in_force') AND (
		(kind = 'person' AND person_id = (SELECT person_id FROM applications WHERE id = $1)) OR
		(kind = 'employer' AND employer_id = (SELECT employer_id FROM applications WHERE id = $1))) ORDER BY id`, applicationID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// Filter selects entries of the list.
type Filter struct {
	Status Status // "" for every status
	Kind   Kind   // "" for both kinds
	// Query is an ID number (found through the blind index), a credit code
	// (exact) or part of the subject's name.
	Query string
	Page  int // from 1
}

// PageSize is the number of entries per page of the list.
const PageSize = 50

// List is one page of the entries the viewer may see.
type List struct {
	Entries []*Entry
	Counts  map[Status]int // per status, under the other conditions
	Total   int
	Next    bool
}

// List returns the entries the viewer may see: a district officer those of
// the district, the city bureau all, newest first.
func (s *Service) List(ctx context.Context, viewer actor.Actor, f Filter) (*List, error) {
	district, ok := scope(viewer)
	if !ok {
		return nil, ErrNotFound
	}
	if f.Status != "" && StatusName(f.Status) == "" {
		return nil, apperr.Field("status", "没有这种状态")
	}
	if f.Kind != "" && KindName(f.Kind) == "" {
		return nil, apperr.Field("kind", "请选择申请人或用人单位")
	}
	var w db.Where
	if district != "" {
		w.And("district = ?", district)
	}
	if f.Kind != "" {
		w.And("kind = ?", string(f.Kind))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		if n, err := ident.ValidateIDNumber(q, s.clock.Now()); err == nil {
			var id int64
			if pe, err := s.persons.ByIDNumber(ctx, n); err == nil {
				id = pe.ID
			}
			w.And("kind = 'person' AND person_id = ?", id)
		} else if n, err := ident.ValidateCreditCode(q); err == nil {
			w.And("kind = 'employer' AND employer_id = (SELECT id FROM employers WHERE credit_code = ?)", n)
		} else {
			w.And("subject_name LIKE ?", "%"+q+"%")
		}
	}
	out := &List{Counts: map[Status]int{}}
	if err := func() error {
		rows, err := s.db.Query(ctx, `SELECT status, count(*) FROM fraud_entries`+w.SQL()+` GROUP BY status`, w.Args()...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var st string
			var n int
			if err := rows.Scan(&st, &n); err != nil {
				return err
			}
			out.Counts[Status(st)] = n
			out.Total += n
		}
		return rows.Err()
	}(); err != nil {
		return nil, apperr.Wrap(err)
	}
	if f.Status != "" {
		w.And("status = ?", string(f.Status))
	}
	page := min(max(f.Page, 1), 100000) // the offset stays far from overflowing
	q := selectEntry + w.SQL() + ` ORDER BY id DESC LIMIT ` + w.Arg(PageSize+1) + ` OFFSET ` + w.Arg((page-1)*PageSize)
	rows, err := s.db.Query(ctx, q, w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out.Entries = append(out.Entries, e)
	}
	if len(out.Entries) > PageSize {
		out.Entries, out.Next = out.Entries[:PageSize], true
	}
	return out, rows.Err()
}
