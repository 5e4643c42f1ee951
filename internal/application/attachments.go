package application

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Attachment limits.
const (
	MaxAttachmentBytes         = 10 << 20 // 10 MB each
	MaxAttachmentsPerIndicator = 10
	MaxAttachments             = 40
)

// Attachment is a file that supports one indicator of a declaration.
type Attachment struct {
	ID          int64
	Indicator   string
	Filename    string
	ContentType string
	Size        int64
	CreatedAt   time.Time
	key         string
}

// Attachments manages the files of applications in a blob store.
type Attachments struct {
	svc   *Service
	blobs blob.Store
}

// NewAttachments returns the attachment manager.
func NewAttachments(svc *Service, store blob.Store) *Attachments {
	return &Attachments{svc: svc, blobs: store}
}

// Add stores a file for an indicator of an editable application. The type
// is sniffed from the content: a file that is not really a PDF, JPEG or PNG
// is refused whatever its name says.
func (m *Attachments) Add(ctx context.Context, c actor.Actor, id int64, indicator, filename string, r io.Reader) (*Attachment, error) {
	a, err := m.svc.Get(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if c.PersonID == 0 {
		return nil, ErrNotFound
	}
	if !a.Status.Editable() {
		return nil, apperr.New(apperr.Conflict, "申请已提交，不能再上传材料")
	}
	if !knownIndicator(indicator) {
		return nil, apperr.Field("indicator", "请选择材料对应的指标")
	}
	filename = cleanName(filename)
	var perInd, total int
	if err := m.svc.db.QueryRow(ctx, `SELECT count(*), COALESCE(SUM(CASE WHEN indicator = $1 THEN 1 ELSE 0 END), 0)
		FROM attachments WHERE application_id = $2 AND deleted_at = 0`, indicator, id).Scan(&total, &perInd); err != nil {
		return nil, apperr.Wrap(err)
	}
	if perInd >= MaxAttachmentsPerIndicator || total >= MaxAttachments {
		return nil, apperr.Field("file", fmt.Sprintf("每项指标最多上传%d个文件，全部最多%d个", MaxAttachmentsPerIndicator, MaxAttachments))
	}
	info, err := m.blobs.Put(ctx, r, MaxAttachmentBytes)
	if errors.Is(err, blob.ErrTooLarge) {
		return nil, &apperr.Error{Code: apperr.TooLarge, Message: "文件不能超过10MB",
			Fields: []apperr.FieldError{{Field: "file", Message: "文件不能超过10MB，请压缩后再上传"}}}
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	if info.Size == 0 {
		return nil, apperr.Field("file", "文件是空的，请重新选择")
	}
	if info.ContentType == "" {
		return nil, apperr.Field("file", "只能上传 PDF、JPEG 或 PNG 文件（以文件内容为准，不看文件名）")
	}
	var out *Attachment
	err = m.svc.db.WithTx(ctx, func(ctx context.Context) error {
		now := m.svc.clock.Now()
		var aid int64
		if err := m.svc.db.QueryRow(ctx, `INSERT INTO attachments (application_id, indicator, blob_key, filename, content_type,
			size_bytes, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, id, indicator, info.Key,
			filename, info.ContentType, info.Size, c.UserID, db.Micros(now)).Scan(&aid); err != nil {
			return err
		}
		out = &Attachment{ID: aid, Indicator: indicator, Filename: filename, ContentType: info.ContentType, Size: info.Size,
			CreatedAt: now, key: info.Key}
		return m.svc.audit.Record(ctx, auditEntry("attachment.add", id, fmt.Sprintf("%s %s %d bytes", indicator, filename, info.Size)))
	})
	return out, err
}

// List returns the live attachments of an application the caller may see.
func (m *Attachments) List(ctx context.Context, c actor.Actor, id int64) ([]Attachment, error) {
	a, err := m.svc.Get(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return m.ListOf(ctx, c, a)
}

// ListOf is List of an application the caller has just read (with Get or
// ForPerson): the access check runs on a as read, without reading it again.
func (m *Attachments) ListOf(ctx context.Context, c actor.Actor, a *Application) ([]Attachment, error) {
	if err := m.svc.mayRead(ctx, c, a); err != nil {
		return nil, err
	}
	rows, err := m.svc.db.Query(ctx, `SELECT id, indicator, filename, content_type, size_bytes, created_at, blob_key
		FROM attachments WHERE application_id = $1 AND deleted_at = 0 ORDER BY id`, a.ID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Attachment
	for rows.Next() {
		var at Attachment
		var ca int64
		if err := rows.Scan(&at.ID, &at.Indicator, &at.Filename, &at.ContentType, &at.Size, &ca, &at.key); err != nil {
			return nil, apperr.Wrap(err)
		}
		at.CreatedAt = db.FromMicros(ca)
		out = append(out, at)
	}
	return out, rows.Err()
}

// Open returns the content of an attachment the caller may see.
// The read is audited as the attachment's, not as the application's.
func (m *Attachments) Open(ctx context.Context, c actor.Actor, id, attID int64) (*Attachment, io.ReadCloser, error) {
	a, err := m.svc.getFor(ctx, c, id)
	if err = m.svc.denied(ctx, id, err); err != nil {
		return nil, nil, err
	}
	list, err := m.ListOf(ctx, c, a)
	if err != nil {
		return nil, nil, err
	}
	for i := range list {
		if list[i].ID == attID {
			r, err := m.blobs.Open(ctx, list[i].key)
			if err != nil {
				return nil, nil, apperr.Wrap(err)
			}
			m.svc.auditRead(ctx, c, a, audit.ReadAttachment, attachmentRead(a, &list[i]))
			return &list[i], r, nil
		}
	}
	return nil, nil, apperr.New(apperr.NotFound, "材料不存在")
}

// Remove withdraws an attachment while the application is editable. The
// row is kept (soft delete) for the audit; the blob may serve others.
func (m *Attachments) Remove(ctx context.Context, c actor.Actor, id, attID int64) error {
	return m.svc.denied(ctx, id, m.svc.db.WithTx(ctx, func(ctx context.Context) error {
		a, err := m.svc.getFor(ctx, c, id)
		if err != nil {
			return err
		}
		if c.PersonID == 0 {
			return ErrNotFound
		}
		if !a.Status.Editable() {
			return apperr.New(apperr.Conflict, "申请已提交，不能再删除材料")
		}
		res, err := m.svc.db.Exec(ctx, `UPDATE attachments SET deleted_at = $1 WHERE id = $2 AND application_id = $3 AND deleted_at = 0`,
			db.Micros(m.svc.clock.Now()), attID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.New(apperr.NotFound, "材料不存在")
		}
		return m.svc.audit.Record(ctx, auditEntry("attachment.remove", id, fmt.Sprint(attID)))
	}))
}

func knownIndicator(code string) bool {
	for _, c := range rules.IndicatorCodes() {
		if c == code {
			return true
		}
	}
	return code == "eligibility"
}

// cleanName keeps a display name only: no path, no control characters,
// at most 100 characters.
func cleanName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 32 || r == 127 {
			return -1
		}
		return r
	}, name)
	if name == "." || name == "/" || name == "" {
		name = "附件"
	}
	for utf8.RuneCountInString(name) > 100 {
		r := []rune(name)
		name = string(r[len(r)-100:])
	}
	return name
}
