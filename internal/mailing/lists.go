// Package mailing is the mass-mail system's lists, suppression list,
// templates and unsubscribe links (邮件群发, docs/mailing.md). It owns
// mail_lists, mail_list_members, mail_suppressions and mail_templates;
// campaigns (campaign*.go) send to a list's recipients through the
// transactional outbox of platform/mail.
package mailing

import (
	"context"
	"encoding/json"
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
)

// Recipient is one addressee of a campaign. Vars are the template
// variables of this person — never an ID number or a phone number.
type Recipient struct {
	Email string            // lower-cased, valid
	Name  string            // display name, may be ""
	Vars  map[string]string // e.g. "name", "employer", "year", "district", "role", "status"
}

// Kind is how a list gets its members.
type Kind string

// The kinds of list.
const (
	Static  Kind = "static"  // members uploaded from a CSV
	Dynamic Kind = "dynamic" // a saved query over the system's people
)

// List is a mailing list.
type List struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Kind        Kind      `json:"kind"`
	Query       *Query    `json:"query,omitempty"` // dynamic lists only
	Description string    `json:"description"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int       `json:"version"`
	// Members is the number of stored members of a static list (filled by
	// All; a dynamic list's count is known only by resolving it).
	Members int `json:"members"`
}

// KindName is the list kind in Chinese.
func (l *List) KindName() string {
	if l.Kind == Dynamic {
		return "动态名单"
	}
	return "静态名单"
}

// Lists holds mailing lists, the suppression list and the templates.
type Lists struct {
	db    *db.DB
	audit *audit.Log
	clock clock.Clock
}

// NewLists returns the mailing service.
func NewLists(d *db.DB, a *audit.Log, c clock.Clock) *Lists {
	return &Lists{db: d, audit: a, clock: c}
}

// Limits of what clerks type.
const (
	maxListName    = 100
	maxDescription = 500
)

func checkName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxListName || strings.ContainsAny(name, "\r\n\t") {
		return "", apperr.Field(field, fmt.Sprintf("请填写名称（1到%d个字，不含换行）", maxListName))
	}
	return name, nil
}

const listCols = `id, name, kind, query, description, created_by, created_at, updated_at, version`

func scanList(sc interface{ Scan(...any) error }) (*List, error) {
	var l List
	var q string
	var at, up int64
	if err := sc.Scan(&l.ID, &l.Name, &l.Kind, &q, &l.Description, &l.CreatedBy, &at, &up, &l.Version); err != nil {
		return nil, err
	}
	l.CreatedAt, l.UpdatedAt = db.FromMicros(at), db.FromMicros(up)
	if q != "" {
		l.Query = &Query{}
		if err := json.Unmarshal([]byte(q), l.Query); err != nil {
			return nil, fmt.Errorf("list %d query: %w", l.ID, err)
		}
	}
	return &l, nil
}

// Get returns the list id, or NotFound.
func (l *Lists) Get(ctx context.Context, id int64) (*List, error) {
	li, err := scanList(l.db.QueryRow(ctx, `SELECT `+listCols+` FROM mail_lists WHERE id = $1`, id))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.NotFound, "邮件名单不存在")
	}
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("mail list %d: %w", id, err))
	}
	return li, nil
}

// ByName returns the list called name, or NotFound.
func (l *Lists) ByName(ctx context.Context, name string) (*List, error) {
	li, err := scanList(l.db.QueryRow(ctx, `SELECT `+listCols+` FROM mail_lists WHERE name = $1`, strings.TrimSpace(name)))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.NotFound, fmt.Sprintf("没有名为“%s”的邮件名单", name))
	}
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("mail list %q: %w", name, err))
	}
	return li, nil
}

// All returns every list, by name, with the member count of static lists.
func (l *Lists) All(ctx context.Context, by actor.Actor) ([]*List, error) {
	if err := by.Require(actor.PermMailSend); err != nil {
		return nil, err
	}
	rows, err := l.db.Query(ctx, `SELECT `+listCols+`, (SELECT COUNT(*) FROM mail_list_members m WHERE m.list_id = mail_lists.id)
		FROM mail_lists ORDER BY name`)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("mail lists: %w", err))
	}
	defer rows.Close()
	out := []*List{}
	for rows.Next() {
		var n int
		li, err := scanList(scanPlus{rows, &n})
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		li.Members = n
		out = append(out, li)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// scanPlus scans a row of listCols followed by extra columns.
type scanPlus struct {
	sc    interface{ Scan(...any) error }
	extra any
}

func (s scanPlus) Scan(dest ...any) error { return s.sc.Scan(append(dest, s.extra)...) }

// createList inserts a list; a taken name is a conflict naming the field.
func (l *Lists) createList(ctx context.Context, by actor.Actor, name string, kind Kind, q *Query, desc string) (*List, error) {
	desc = strings.TrimSpace(desc)
	if !utf8.ValidString(desc) || utf8.RuneCountInString(desc) > maxDescription {
		return nil, apperr.Field("description", fmt.Sprintf("说明不能超过%d个字", maxDescription))
	}
	qs := ""
	if q != nil {
		b, err := json.Marshal(q)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		qs = string(b)
	}
	now := db.Micros(l.clock.Now())
	var id int64
	err := l.db.WithTx(ctx, func(ctx context.Context) error {
		if err := l.db.QueryRow(ctx, `INSERT INTO mail_lists (name, kind, query, description, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, name, string(kind), qs, desc, by.Login, now).Scan(&id); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.Field("name", fmt.Sprintf("已有名为“%s”的邮件名单，请换一个名称", name))
			}
			return apperr.Wrap(fmt.Errorf("insert mail list: %w", err))
		}
		return l.record(ctx, by, audit.Entry{Action: "mailing.list.create", ObjectType: "mail_list",
			ObjectID: strconv.FormatInt(id, 10), Reason: string(kind) + " " + name + " " + qs})
	})
	if err != nil {
		return nil, err
	}
	return l.Get(ctx, id)
}

// CreateDynamic saves a dynamic list: its query is validated now and
// evaluated at each send.
func (l *Lists) CreateDynamic(ctx context.Context, by actor.Actor, name, description string, q Query) (*List, error) {
	if err := by.Require(actor.PermMailSend); err != nil {
		return nil, err
	}
	name, err := checkName("name", name)
	if err != nil {
		return nil, err
	}
	if q, err = q.Validate(); err != nil {
		return nil, err
	}
	return l.createList(ctx, by, name, Dynamic, &q, description)
}

// Delete removes a list and its members, if it is still at version.
func (l *Lists) Delete(ctx context.Context, by actor.Actor, id int64, version int) error {
	if err := by.Require(actor.PermMailSend); err != nil {
		return err
	}
	return l.db.WithTx(ctx, func(ctx context.Context) error {
		li, err := l.Get(ctx, id)
		if err != nil {
			return err
		}
		if _, err := l.db.Exec(ctx, `DELETE FROM mail_list_members WHERE list_id = $1`, id); err != nil {
			return apperr.Wrap(fmt.Errorf("delete mail list members: %w", err))
		}
		res, err := l.db.Exec(ctx, `DELETE FROM mail_lists WHERE id = $1 AND version = $2`, id, version)
		if err != nil {
			return apperr.Wrap(fmt.Errorf("delete mail list: %w", err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该名单已被他人修改，请刷新页面后重试")
		}
		return l.record(ctx, by, audit.Entry{Action: "mailing.list.delete", ObjectType: "mail_list",
			ObjectID: strconv.FormatInt(id, 10), Reason: li.Name})
	})
}

// Resolve returns the list's recipients now: the members of a static list,
// the result of a dynamic list's saved query evaluated at this moment;
// deduplicated by address, in a stable order (by address).
func (l *Lists) Resolve(ctx context.Context, listID int64) ([]Recipient, error) {
	li, err := l.Get(ctx, listID)
	if err != nil {
		return nil, err
	}
	if li.Kind == Dynamic {
		return l.resolveQuery(ctx, *li.Query)
	}
	rows, err := l.db.Query(ctx, `SELECT email, name, vars FROM mail_list_members WHERE list_id = $1 ORDER BY email`, listID)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("mail list members: %w", err))
	}
	defer rows.Close()
	out := []Recipient{}
	for rows.Next() {
		var r Recipient
		var vars string
		if err := rows.Scan(&r.Email, &r.Name, &vars); err != nil {
			return nil, apperr.Wrap(err)
		}
		if err := json.Unmarshal([]byte(vars), &r.Vars); err != nil {
			return nil, apperr.Wrap(fmt.Errorf("member %s vars: %w", r.Email, err))
		}
		if r.Vars == nil {
			r.Vars = map[string]string{}
		}
		if r.Name != "" {
			r.Vars["name"] = r.Name
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	// The same order on both engines, whatever the database's collation.
	sortRecipients(out)
	// The same order on both engines, whatever the database's collation.
	sortRecipients(out)
	return out, nil
}

// record writes the audit entry of a change by by, in the transaction of
// ctx if any.
func (l *Lists) record(ctx context.Context, by actor.Actor, e audit.Entry) error {
	e.ActorID, e.ActorLogin, e.ActorRole = by.UserID, by.Login, string(by.Role())
	if e.ActorRole == "" && by.UserID == 0 {
		e.ActorRole = "public"
	}
	e.ClientAddr, e.RequestID = by.ClientAddr, by.RequestID
	return l.audit.Record(ctx, e)
}
