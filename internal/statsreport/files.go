package statsreport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
)

// File is a produced report in the download area. Content is read only by
// Download.
type File struct {
	ID              int64
	SavedID         int64
	OwnerID         int64
	Name            string
	DueAt           time.Time
	ProducedAt      time.Time
	ExpiresAt       time.Time
	Format          string
	Size            int64
	SHA256          string
	Rows            int
	SuppressedBelow int
	Error           string // a failed run: why; no content
	Content         []byte
}

// Failed reports whether the run produced no data.
func (f *File) Failed() bool { return f.Error != "" }

// FileName is the name a download is saved under.
func (f *File) FileName() string {
	return fmt.Sprintf("report-%d-%s.%s", f.ID, f.ProducedAt.Format("20060102-1504"), f.Format)
}

const fileColumns = `id, saved_id, owner_id, name, due_at, produced_at, expires_at, format, size, sha256, rows,
	suppressed_below, error`

func scanFile(row interface{ Scan(...any) error }, extra ...any) (*File, error) {
	var f File
	var due, produced, expires int64
	dest := append([]any{&f.ID, &f.SavedID, &f.OwnerID, &f.Name, &due, &produced, &expires, &f.Format, &f.Size,
		&f.SHA256, &f.Rows, &f.SuppressedBelow, &f.Error}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	f.DueAt, f.ProducedAt, f.ExpiresAt = db.FromMicros(due), db.FromMicros(produced), db.FromMicros(expires)
	return &f, nil
}

// filesLimit bounds the download area's list.
const filesLimit = 500

// Files lists the download area of by, newest first: the files of the
// queries by owns or subscribes to; a city officer sees every file.
func (s *Service) Files(ctx context.Context, by actor.Actor) ([]*File, error) {
	if err := requireUse(by); err != nil {
		return nil, err
	}
	var w db.Where
	if !by.Can(actor.PermCasesCity) {
		w.And("(owner_id = ? OR saved_id IN (SELECT saved_id FROM stats_subscribers WHERE user_id = ?))", by.UserID, by.UserID)
	}
	rows, err := s.db.Query(ctx, `SELECT `+fileColumns+` FROM stats_report_files`+w.SQL()+
		` ORDER BY produced_at DESC, id DESC LIMIT `+w.Arg(filesLimit), w.Args()...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*File
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

var errFileNotFound = &apperr.Error{Code: apperr.NotFound, Message: "该报表文件不存在或已过保存期限", Err: db.ErrNotFound}

// mayRead reports whether by may download f.
func (s *Service) mayRead(ctx context.Context, by actor.Actor, f *File) (bool, error) {
	if by.Can(actor.PermCasesCity) || f.OwnerID == by.UserID {
		return true, nil
	}
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM stats_subscribers WHERE saved_id = $1 AND user_id = $2`,
		f.SavedID, by.UserID).Scan(&n)
	return n > 0, err
}

// Download returns a file with its content and records the export in the
// audit trail (the figures leave the office with it). A failed run has no
// file: its error is a conflict naming why.
func (s *Service) Download(ctx context.Context, by actor.Actor, id int64) (*File, error) {
	if err := requireUse(by); err != nil {
		return nil, err
	}
	var content []byte
	f, err := scanFile(s.db.QueryRow(ctx, `SELECT `+fileColumns+`, content FROM stats_report_files WHERE id = $1`, id), &content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errFileNotFound
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.mayRead(ctx, by, f)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errFileNotFound // not revealed to exist
	}
	if f.Failed() {
		return nil, apperr.New(apperr.Conflict, "该次运行没有生成文件。"+f.Error)
	}
	f.Content = content
	err = s.audit.Record(ctx, audit.Entry{Action: "stats.report.export", ObjectType: "stats_report_file",
		ObjectID: fmt.Sprint(f.ID), Reason: fmt.Sprintf("name=%s rows=%d suppressed_below=%d sha256=%s",
			f.Name, f.Rows, f.SuppressedBelow, f.SHA256)})
	if err != nil {
		return nil, err
	}
	return f, nil
}
