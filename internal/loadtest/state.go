// Package loadtest is jifen's load generator (jifen loadtest, docs/loadtest.md):
// an open-loop mixed workload of the internet and the government network's
// operations, built on vegeta (github.com/tsenart/vegeta) as a library,
// against running servers that hold a synthetic population. Every operation
// is its own stream at a fixed arrival rate — its weight times the scale —
// so a slow server cannot slow the test down and hide its latency.
//
// The accounts it acts as come from a state file that `jifen loadtest
// prepare` writes from the database: synthetic applicants and employer
// operators (synth gives them one password) and staff accounts it creates
// with their TOTP secret, for a load-test environment only.
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"jifen/internal/account"
	"jifen/internal/platform/db"
	"jifen/internal/synth"
)

// State is who the load test acts as and what it may ask about.
type State struct {
	Year     int    `json:"year"`
	Password string `json:"password"` // the synthetic accounts' password
	// Drafts are applicants whose application is a draft (edited, never
	// submitted by the test); Submitters drafts the test submits; Filed
	// applicants whose application reached the bureau (home, statement).
	Drafts     []string `json:"drafts"`
	Submitters []string `json:"submitters"`
	Filed      []string `json:"filed"`
	// Operators are employer operators, each with the applications of
	// their employer that wait for filing.
	Operators []Operator `json:"operators"`
	// Staff are office accounts with their TOTP secret; Cases are
	// applications each district's officers may open.
	Staff []Staff            `json:"staff"`
	Cases map[string][]int64 `json:"cases"` // district → application ids
	// PublicYear is a year with a public list (0: none).
	PublicYear int `json:"public_year"`
}

// Operator is an employer operator.
type Operator struct {
	Login   string  `json:"login"`
	Waiting []int64 `json:"waiting"` // applications with the employer
}

// Staff is an office account the load test logs in as.
type Staff struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	Secret   string `json:"totp_secret"`
	District string `json:"district"` // "" for a city officer
	Role     string `json:"role"`
}

// Load reads a state file.
func Load(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.Filed) == 0 || len(s.Staff) == 0 {
		return nil, fmt.Errorf("%s: no filed applicants or no staff: run jifen loadtest prepare on a database with a synthetic population", path)
	}
	return &s, nil
}

// Save writes a state file readable by its owner only (it holds passwords).
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Prepare reads the synthetic population of the current round of d and
// creates staff accounts for the load test (named lt-<tag>-d<district>-<n>, or
// lt-<tag>-city-<n>, with a random password and an enrolled TOTP secret), up to
// users of each kind.
func Prepare(ctx context.Context, d *db.DB, accounts *account.Service, year, users, staffPerDistrict int, tag string,
	pw func() (string, error)) (*State, error) {
	s := &State{Year: year, Password: synth.Password, Cases: map[string][]int64{}}
	var roundID int64
	if err := d.QueryRow(ctx, `SELECT id FROM rounds WHERE year = $1`, year).Scan(&roundID); err != nil {
		return nil, fmt.Errorf("round %d: %w", year, err)
	}
	logins := func(status string, limit, offset int) ([]string, error) {
		rows, err := d.Query(ctx, `SELECT u.login FROM applications a JOIN persons p ON p.id = a.person_id JOIN users u ON u.id = p.user_id
			WHERE a.round_id = $1 AND a.status = $2 AND u.login LIKE 'p%' ORDER BY a.id LIMIT $3 OFFSET $4`, roundID, status, limit, offset)
		if err != nil {
			return nil, err
		}
		defer func() { _ = rows.Close() }()
		var out []string
		for rows.Next() {
			var l string
			if err := rows.Scan(&l); err != nil {
				return nil, err
			}
			out = append(out, l)
		}
		return out, rows.Err()
	}
	var err error
	if s.Drafts, err = logins("draft", users, 0); err != nil {
		return nil, err
	}
	if s.Submitters, err = logins("draft", users, users); err != nil {
		return nil, err
	}
	if s.Filed, err = logins("first_result", users, 0); err != nil {
		return nil, err
	}
	// Filed: the first result stands in the mix; a population without
	// one (a round ready to rank, or ranked) gives what reached the bureau.
	for _, st := range []string{"submitted", "final", "published"} {
		if len(s.Filed) > 0 {
			break
		}
		if s.Filed, err = logins(st, users, 0); err != nil {
			return nil, err
		}
	}
	if err := s.operators(ctx, d, roundID, users); err != nil {
		return nil, err
	}
	if err := s.cases(ctx, d, roundID); err != nil {
		return nil, err
	}
	if err := d.QueryRow(ctx, `SELECT COALESCE(MAX(year), 0) FROM publicity_rounds`).Scan(&s.PublicYear); err != nil {
		return nil, err
	}
	if err := s.staff(ctx, accounts, staffPerDistrict, tag, pw); err != nil {
		return nil, err
	}
	if len(s.Filed) == 0 {
		return nil, errors.New("the current round has no filed applications: generate a population with jifen synth first")
	}
	return s, nil
}

func (s *State) operators(ctx context.Context, d *db.DB, roundID int64, limit int) error {
	rows, err := d.Query(ctx, `SELECT u.login, o.employer_id FROM employer_operators o JOIN users u ON u.id = o.user_id
		WHERE u.login LIKE 'e%' AND o.is_primary ORDER BY o.employer_id LIMIT $1`, limit)
	if err != nil {
		return err
	}
	type op struct {
		login string
		emp   int64
	}
	var ops []op
	err = func() error {
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var o op
			if err := rows.Scan(&o.login, &o.emp); err != nil {
				return err
			}
			ops = append(ops, o)
		}
		return rows.Err()
	}()
	if err != nil {
		return err
	}
	for _, o := range ops {
		w, err := ids(ctx, d, `SELECT id FROM applications WHERE round_id = $1 AND employer_id = $2 AND status = 'with_employer'
			ORDER BY id LIMIT 50`, roundID, o.emp)
		if err != nil {
			return err
		}
		s.Operators = append(s.Operators, Operator{Login: o.login, Waiting: w})
	}
	return nil
}

func (s *State) cases(ctx context.Context, d *db.DB, roundID int64) error {
	districts, err := strs(ctx, d, `SELECT DISTINCT district FROM employers ORDER BY district`)
	if err != nil {
		return err
	}
	for _, district := range districts {
		c, err := ids(ctx, d, `SELECT a.id FROM applications a JOIN employers e ON e.id = a.employer_id
			WHERE a.round_id = $1 AND e.district = $2 AND a.status IN ('first_result', 'review_requested', 'final')
			ORDER BY a.id LIMIT 500`, roundID, district)
		if err != nil {
			return err
		}
		if len(c) > 0 {
			s.Cases[district] = c
		}
	}
	return nil
}

func strs(ctx context.Context, d *db.DB, q string, args ...any) ([]string, error) {
	rows, err := d.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func ids(ctx context.Context, d *db.DB, q string, args ...any) ([]int64, error) {
	rows, err := d.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// staff creates the office accounts: perDistrict district officers in each
// district with cases and as many city officers, each with a TOTP secret
// ready to enrol at first login.
func (s *State) staff(ctx context.Context, accounts *account.Service, perDistrict int, tag string, pw func() (string, error)) error {
	mk := func(login, district string, role account.Role) error {
		p, err := pw()
		if err != nil {
			return err
		}
		u, err := accounts.CreateUser(ctx, account.NewUser{Login: login, DisplayName: "压测" + login, Zone: account.Office,
			Password: p, Roles: []account.Role{role}, District: district})
		if err != nil {
			return fmt.Errorf("staff %s: %w", login, err)
		}
		enr, err := accounts.BeginTOTP(ctx, u)
		if err != nil {
			return err
		}
		s.Staff = append(s.Staff, Staff{Login: login, Password: p, Secret: enr.Secret, District: district, Role: string(role)})
		return nil
	}
	n := 0
	for district := range s.Cases {
		n++
		for i := range perDistrict {
			if err := mk(fmt.Sprintf("lt-%s-d%02d-%d", tag, n, i), district, account.DistrictOfficer); err != nil {
				return err
			}
		}
	}
	for i := range perDistrict {
		if err := mk(fmt.Sprintf("lt-%s-city-%d", tag, i), "", account.CityOfficer); err != nil {
			return err
		}
	}
	return mk(fmt.Sprintf("lt-%s-sys", tag), "", account.SystemAdmin)
}
