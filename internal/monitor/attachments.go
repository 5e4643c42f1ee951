package monitor

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
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/db"
)

// MaxAttachment is the largest file a fault record takes.
const MaxAttachment = 10 << 20

// Attachment is a file attached to a fault record.
type Attachment struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	AddedAt     time.Time `json:"added_at"`
}

// SetStore gives the service the store of fault attachments.
func (s *Service) SetStore(st blob.Store) { s.store = st }

// Attach stores a file on a fault record that is not closed, with a line
// on its timeline.
func (s *Service) Attach(ctx context.Context, by actor.Actor, faultID int64, name string, r io.Reader) error {
	if err := requireOps(by); err != nil {
		return err
	}
	if s.store == nil {
		return apperr.Wrap(errors.New("monitor: no attachment store"))
	}
	name = strings.TrimSpace(filepath.Base(strings.ReplaceAll(name, "\\", "/")))
	if name == "" || name == "." || name == "/" || utf8.RuneCountInString(name) > 200 || !utf8.ValidString(name) {
		return apperr.Field("file", "请选择要上传的文件（文件名不超过200个字）")
	}
	f, err := s.Fault(ctx, by, faultID)
	if err != nil {
		return err
	}
	if f.Status == "closed" {
		return apperr.New(apperr.Conflict, "故障记录已关闭，不能再添加附件")
	}
	info, err := s.store.Put(ctx, r, MaxAttachment)
	if errors.Is(err, blob.ErrTooLarge) {
		return apperr.Field("file", fmt.Sprintf("附件不能超过 %d MB", MaxAttachment>>20))
	}
	if err != nil {
		return apperr.Wrap(err)
	}
	// The file is stored before the row: a failed insert leaves a file no
	// row names (harmless; a sweep could remove it), never a row without its
	// file.
	return apperrOf(s.db.WithTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, `INSERT INTO fault_attachments (fault_id, name, blob_key, size, content_type, added_by, added_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, faultID, name, info.Key, info.Size, info.ContentType, by.UserID,
			db.Micros(s.clock.Now())); err != nil {
			return err
		}
		return s.addEvent(ctx, faultID, by, "attachment", "添加附件："+name, s.clock.Now())
	}))
}

// Attachments lists a fault record's files.
func (s *Service) Attachments(ctx context.Context, by actor.Actor, faultID int64) ([]Attachment, error) {
	if err := requireOps(by); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT id, name, size, content_type, added_at FROM fault_attachments WHERE fault_id = $1 ORDER BY id`, faultID)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Attachment
	for rows.Next() {
		var a Attachment
		var at int64
		if err := rows.Scan(&a.ID, &a.Name, &a.Size, &a.ContentType, &at); err != nil {
			return nil, apperr.Wrap(err)
		}
		a.AddedAt = db.FromMicros(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// OpenAttachment returns a file of a fault record.
func (s *Service) OpenAttachment(ctx context.Context, by actor.Actor, faultID, id int64) (*Attachment, io.ReadCloser, error) {
	if err := requireOps(by); err != nil {
		return nil, nil, err
	}
	var a Attachment
	var key string
	var at int64
	err := s.db.QueryRow(ctx, `SELECT id, name, size, content_type, added_at, blob_key FROM fault_attachments WHERE id = $1 AND fault_id = $2`,
		id, faultID).Scan(&a.ID, &a.Name, &a.Size, &a.ContentType, &at, &key)
	if db.IsNoRows(err) {
		return nil, nil, apperr.New(apperr.NotFound, "没有这个附件")
	}
	if err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	a.AddedAt = db.FromMicros(at)
	rc, err := s.store.Open(ctx, key)
	if err != nil {
		return nil, nil, apperr.Wrap(err)
	}
	return &a, rc, nil
}
