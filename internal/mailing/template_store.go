package mailing

import (
	"context"
	"fmt"
	"strconv"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

const templateCols = `id, name, subject, html, text, mandatory, version, created_by, created_at, updated_at`

func scanTemplate(sc interface{ Scan(...any) error }) (*Template, error) {
	var t Template
	var at, up int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Subject, &t.HTML, &t.Text, &t.Mandatory, &t.Version, &t.CreatedBy, &at, &up); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = db.FromMicros(at), db.FromMicros(up)
	return &t, nil
}

// Template returns the template id, or NotFound.
func (l *Lists) Template(ctx context.Context, id int64) (*Template, error) {
	t, err := scanTemplate(l.db.QueryRow(ctx, `SELECT `+templateCols+` FROM mail_templates WHERE id = $1`, id))
	if db.IsNoRows(err) {
		return nil, apperr.New(apperr.NotFound, "邮件模板不存在")
	}
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("mail template %d: %w", id, err))
	}
	return t, nil
}

// Templates lists every template by name.
func (l *Lists) Templates(ctx context.Context, by actor.Actor) ([]*Template, error) {
	if err := by.Require(actor.PermMailSend); err != nil {
		return nil, err
	}
	rows, err := l.db.Query(ctx, `SELECT `+templateCols+` FROM mail_templates ORDER BY name`)
	if err != nil {
		return nil, apperr.Wrap(fmt.Errorf("mail templates: %w", err))
	}
	defer rows.Close()
	out := []*Template{}
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// SaveTemplate creates t (ID 0) or updates it if it is still at t.Version.
// The template must compile: a parse error or an unknown variable is a
// field error naming subject, html or text and the line.
func (l *Lists) SaveTemplate(ctx context.Context, by actor.Actor, t Template) (*Template, error) {
	if err := by.Require(actor.PermMailSend); err != nil {
		return nil, err
	}
	name, err := checkName("name", t.Name)
	if err != nil {
		return nil, err
	}
	t.Name = name
	if _, err := Compile(t); err != nil {
		return nil, err
	}
	now := db.Micros(l.clock.Now())
	id := t.ID
	err = l.db.WithTx(ctx, func(ctx context.Context) error {
		action := "mailing.template.update"
		if id == 0 {
			action = "mailing.template.create"
			if err := l.db.QueryRow(ctx, `INSERT INTO mail_templates (name, subject, html, text, mandatory, created_by, created_at,
				updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`, t.Name, t.Subject, t.HTML, t.Text, t.Mandatory,
				by.Login, now).Scan(&id); err != nil {
				if db.IsUniqueViolation(err) {
					return apperr.Field("name", fmt.Sprintf("已有名为“%s”的模板，请换一个名称", t.Name))
				}
				return apperr.Wrap(fmt.Errorf("insert mail template: %w", err))
			}
		} else {
			res, err := l.db.Exec(ctx, `UPDATE mail_templates SET name = $1, subject = $2, html = $3, text = $4, mandatory = $5,
				version = version + 1, updated_at = $6 WHERE id = $7 AND version = $8`, t.Name, t.Subject, t.HTML, t.Text, t.Mandatory,
				now, id, t.Version)
			if err != nil {
				if db.IsUniqueViolation(err) {
					return apperr.Field("name", fmt.Sprintf("已有名为“%s”的模板，请换一个名称", t.Name))
				}
				return apperr.Wrap(fmt.Errorf("update mail template: %w", err))
			}
			if n, _ := res.RowsAffected(); n != 1 {
				if _, err := l.Template(ctx, id); err != nil {
					return err
				}
				return apperr.New(apperr.Conflict, "该模板已被他人修改，请刷新页面，核对后重新保存")
			}
		}
		mandatory := ""
		if t.Mandatory {
			mandatory = " (mandatory)"
		}
		return l.record(ctx, by, audit.Entry{Action: action, ObjectType: "mail_template", ObjectID: strconv.FormatInt(id, 10),
			Reason: t.Name + mandatory})
	})
	if err != nil {
		return nil, err
	}
	return l.Template(ctx, id)
}

// DeleteTemplate removes the template id if it is still at version.
func (l *Lists) DeleteTemplate(ctx context.Context, by actor.Actor, id int64, version int) error {
	if err := by.Require(actor.PermMailSend); err != nil {
		return err
	}
	return l.db.WithTx(ctx, func(ctx context.Context) error {
		t, err := l.Template(ctx, id)
		if err != nil {
			return err
		}
		res, err := l.db.Exec(ctx, `DELETE FROM mail_templates WHERE id = $1 AND version = $2`, id, version)
		if err != nil {
			return apperr.Wrap(fmt.Errorf("delete mail template: %w", err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该模板已被他人修改，请刷新页面后重试")
		}
		return l.record(ctx, by, audit.Entry{Action: "mailing.template.delete", ObjectType: "mail_template",
			ObjectID: strconv.FormatInt(id, 10), Reason: t.Name})
	})
}
