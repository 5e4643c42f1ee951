package application

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
	"unicode"
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
	MaxUploads                 = 100 // files ever added to one application, withdrawn ones included
)

// OrphanAge is how old a stored file no attachment names must be before
// SweepBlobs removes it: older than any upload still on its way to its row.
const OrphanAge = 24 * time.Hour

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
	if err := m.withinLimits(ctx, id, indicator); err != nil {
		return nil, err
	}
	// The type is checked on the first bytes before anything is stored:
	// a refused file never reaches the disk.
	head := make([]byte, 512)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, apperr.Wrap(err)
	}
	head = head[:n]
	if n == 0 {
		return nil, apperr.Field("file", "文件是空的，请重新选择")
	}
	if blob.Sniff(head) == "" {
		return nil, apperr.Field("file", "只能上传 PDF、JPEG 或 PNG 文件（以文件内容为准，不看文件名）")
	}
	info, err := m.blobs.Put(ctx, io.MultiReader(bytes.NewReader(head), r), MaxAttachmentBytes)
	if errors.Is(err, blob.ErrTooLarge) {
		return nil, &apperr.Error{Code: apperr.TooLarge, Message: "文件不能超过10MB",
			Fields: []apperr.FieldError{{Field: "file", Message: "文件不能超过10MB，请压缩后再上传"}}}
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	var out *Attachment
	err = m.svc.db.WithTx(ctx, func(ctx context.Context) error {
		// Counted again under the application's lock: two uploads at once
		// cannot both take the last place. A file refused here stays on
		// disk unnamed until the sweep takes it (SweepBlobs).
		var locked int64
		if err := m.svc.db.QueryRow(ctx, `SELECT id FROM applications WHERE id = $1`+m.svc.db.ForUpdate(), id).Scan(&locked); err != nil {
			return err
		}
		if err := m.withinLimits(ctx, id, indicator); err != nil {
			return err
		}
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

// withinLimits refuses a file past the limits: per indicator and in all
// among the live files, and MaxUploads among every file ever added to the
// application, withdrawn ones included (their rows, and so their blobs,
// are kept for the audit).
func (m *Attachments) withinLimits(ctx context.Context, id int64, indicator string) error {
	var perInd, live, all int
	if err := m.svc.db.QueryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN indicator = $1 AND deleted_at = 0 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN deleted_at = 0 THEN 1 ELSE 0 END), 0), count(*)
		FROM attachments WHERE application_id = $2`, indicator, id).Scan(&perInd, &live, &all); err != nil {
		return apperr.Wrap(err)
	}
	if perInd >= MaxAttachmentsPerIndicator || live >= MaxAttachments {
		return apperr.Field("file", fmt.Sprintf("每项指标最多上传%d个文件，全部最多%d个", MaxAttachmentsPerIndicator, MaxAttachments))
	}
	if all >= MaxUploads {
		return apperr.Field("file", fmt.Sprintf("本申请已上传%d次文件（含已删除的），已达上限，不能再上传", all))
	}
	return nil
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
		at.Filename = cleanName(at.Filename) // rows stored before the format characters were dropped
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

// cleanName keeps a display name only: no path, no control or format
// character (a right-to-left override would show "fdp.exe" as "exe.pdf"),
// at most 100 characters.
func cleanName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "." || name == "/" || name == "" {
		name = "附件"
	}
	for utf8.RuneCountInString(name) > 100 {
		r := []rune(name)
		name = string(r[len(r)-100:])
	}
	return name
}

// extensions name a file by its checked type.
var extensions = map[string]string{"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}

// DownloadName is the name a download is offered under: the uploader's
// name without its extension, cleaned, and the extension of the type its
// content was checked to be, so "poly.html" that is a PDF downloads as
// "poly.pdf".
func (a *Attachment) DownloadName() string {
	name := cleanName(a.Filename)
	name = strings.TrimSpace(strings.TrimSuffix(name, filepath.Ext(name)))
	if name == "" {
		name = "附件"
	}
	return name + extensions[a.ContentType]
}

// SweepBlobs removes the stored files no attachment names that are older
// than OrphanAge: those of uploads whose row was never written (a refused
// limit, a failed transaction). It runs as a periodic job. The age is by
// the wall clock, as the files' times are.
func (m *Attachments) SweepBlobs(ctx context.Context) (int, error) {
	return m.blobs.Sweep(ctx, time.Now().Add(-OrphanAge), m.named)
}

// named reports which of keys an attachment row (live or withdrawn) names.
func (m *Attachments) named(ctx context.Context, keys []string) (map[string]bool, error) {
	type key struct {
		K string `json:"k"`
	}
	in := make([]key, len(keys))
	for i, k := range keys {
		in[i] = key{k}
	}
	j, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	rows, err := m.svc.db.Query(ctx, `SELECT DISTINCT a.blob_key FROM attachments a JOIN `+m.svc.db.JSONRows("$1", "k TEXT")+
		` r ON a.blob_key = r.k`, string(j))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}
