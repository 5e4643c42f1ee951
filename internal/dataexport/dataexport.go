// Package dataexport prepares an applicant's whole file for download (PIPL
// art. 45, the right to access and copy one's personal information): one zip
// with a machine-readable data.json (schema: docs/data-export.schema.json,
// described in docs/api.md) and a readable summary.html. It owns the table
// data_exports. An archive is made by a durable job, kept 7 days and then
// purged; only the person may download it, with a fresh login, and every
// download is audited.
package dataexport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
)

// Keep is how long a ready archive stays downloadable.
const Keep = 7 * 24 * time.Hour

// FreshLogin is how old a login may be for a download: a stolen, long-lived
// session must not carry away the whole file.
const FreshLogin = 15 * time.Minute

// MaxArchive bounds an archive (attachments are at most 10 MB each).
const MaxArchive = 2 << 30

// Statuses of an export.
const (
	Queued = "queued"
	Ready  = "ready"
	Failed = "failed"
)

// Export is one request for the whole file.
type Export struct {
	ID          int64     `json:"id"`
	PersonID    int64     `json:"-"`
	UserID      int64     `json:"-"`
	Status      string    `json:"status"`      // queued, ready, failed — or expired (computed)
	StatusName  string    `json:"status_name"` // 准备中, 可下载, 已过期, 失败
	RequestedAt time.Time `json:"requested_at"`
	ReadyAt     time.Time `json:"ready_at,omitzero"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Size        int64     `json:"size_bytes"`
	SHA256      string    `json:"sha256,omitempty"`
	Error       string    `json:"-"`
	blobKey     string
}

// Source is what the archive is built from: the reads of the other packages
// (wired by the application), each limited to one person.
type Source struct {
	// Attachments opens an attachment's stored file.
	Attachments blob.Store
	// Statement returns an application's scoring statement (nil: none).
	Statement func(ctx context.Context, applicationID int64) (any, error)
	// Phone decrypts the user's phone number (their own data); nil or an
	// error leaves it out.
	Phone func(ctx context.Context, userID int64) (string, error)
	// IDNumber returns the person's ID number, masked (the full number is
	// shown only on the person's pages after a second check).
	IDNumber func(ctx context.Context, personID int64) (string, error)
}

// Service keeps the exports.
type Service struct {
	db    *db.DB
	audit *audit.Log
	clock clock.Clock
	jobs  *jobs.Jobs
	store blob.Store
	src   Source
}

// New returns the service; store keeps the archives.
func New(d *db.DB, a *audit.Log, c clock.Clock, j *jobs.Jobs, store blob.Store, src Source) *Service {
	s := &Service{db: d, audit: a, clock: c, jobs: j, store: store, src: src}
	jobs.Register(j, &buildWorker{s: s})
	j.Queue(Queue, 2)
	return s
}

// Queue is the queue of the archives' jobs: their own, so a long archive
// never holds up mail or the cross-check.
const Queue = "data_export"

type buildArgs struct {
	ID int64 `json:"id"`
}

func (buildArgs) Kind() string { return "data_export" }

type buildWorker struct {
	river.WorkerDefaults[buildArgs]
	s *Service
}

func (w *buildWorker) Work(ctx context.Context, job *river.Job[buildArgs]) error {
	err := w.s.Build(ctx, job.Args.ID)
	if err != nil && job.Attempt >= job.MaxAttempts {
		w.s.fail(ctx, job.Args.ID, err)
	}
	return err
}

const cols = `id, person_id, user_id, status, requested_at, ready_at, expires_at, size_bytes, sha256, blob_key, error`

func scan(row interface{ Scan(...any) error }) (*Export, error) {
	var e Export
	var req, ready, exp int64
	if err := row.Scan(&e.ID, &e.PersonID, &e.UserID, &e.Status, &req, &ready, &exp, &e.Size, &e.SHA256, &e.blobKey, &e.Error); err != nil {
		return nil, err
	}
	e.RequestedAt = db.FromMicros(req)
	if ready != 0 {
		e.ReadyAt, e.ExpiresAt = db.FromMicros(ready), db.FromMicros(exp)
	}
	return &e, nil
}

func (s *Service) named(e *Export) *Export {
	switch {
	case e.Status == Ready && !s.clock.Now().Before(e.ExpiresAt):
		e.Status, e.StatusName = "expired", "已过期"
	case e.Status == Ready:
		e.StatusName = "可下载"
	case e.Status == Queued:
		e.StatusName = "准备中"
	default:
		e.StatusName = "准备失败，请重新申请"
	}
	return e
}

// Latest returns the person's newest export, or nil.
func (s *Service) Latest(ctx context.Context, personID int64) (*Export, error) {
	e, err := scan(s.db.QueryRow(ctx, `SELECT `+cols+` FROM data_exports WHERE person_id = $1 ORDER BY id DESC LIMIT 1`, personID))
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.named(e), nil
}

// Request asks for the person's whole file. While a request is being
// prepared, or a ready archive is still downloadable, it returns that one;
// otherwise it queues a new one and its job in the same transaction.
func (s *Service) Request(ctx context.Context, by actor.Actor, personID int64) (*Export, error) {
	if by.PersonID != personID || by.UserID == 0 {
		return nil, apperr.New(apperr.Forbidden, "只能申请下载本人的资料")
	}
	var id int64
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		e, err := s.Latest(ctx, personID)
		if err != nil {
			return err
		}
		if e != nil && (e.Status == Queued || e.Status == Ready) {
			id = e.ID
			return nil
		}
		now := s.clock.Now()
		if err := s.db.QueryRow(ctx, `INSERT INTO data_exports (person_id, user_id, status, requested_at)
			VALUES ($1, $2, 'queued', $3) RETURNING id`, personID, by.UserID, db.Micros(now)).Scan(&id); err != nil {
			if db.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "您的资料正在准备中，请稍后刷新")
			}
			return err
		}
		if _, err := s.jobs.Insert(ctx, buildArgs{ID: id}, &river.InsertOpts{Queue: Queue, MaxAttempts: 5,
			UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
				rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}); err != nil {
			return err
		}
		return s.audit.Record(ctx, audit.Entry{Action: "person.data_export_request", ObjectType: "person",
			ObjectID: fmt.Sprint(personID), Outcome: audit.Success})
	})
	if err != nil {
		return nil, err
	}
	return s.get(ctx, id)
}

func (s *Service) get(ctx context.Context, id int64) (*Export, error) {
	e, err := scan(s.db.QueryRow(ctx, `SELECT `+cols+` FROM data_exports WHERE id = $1`, id))
	if err != nil {
		return nil, err
	}
	return s.named(e), nil
}

// Build makes the archive of a queued export (the job's work). Repeating it
// after a crash makes it again; an export no longer queued is left alone.
func (s *Service) Build(ctx context.Context, id int64) error {
	e, err := s.get(ctx, id)
	if err != nil {
		if db.IsNoRows(err) {
			return nil // purged
		}
		return err
	}
	if e.Status != Queued {
		return nil
	}
	// The archive goes through a temporary file: with 40 attachments of
	// 10 MB a round it is too large to hold in memory.
	tmp, err := os.CreateTemp("", "jifen-export-*.zip")
	if err != nil {
		return err
	}
	defer func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }()
	if err := s.archive(ctx, e, tmp); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	info, err := s.store.Put(ctx, tmp, MaxArchive)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	_, err = s.db.Exec(ctx, `UPDATE data_exports SET status = 'ready', ready_at = $1, expires_at = $2, size_bytes = $3,
		sha256 = $4, blob_key = $5, version = version + 1 WHERE id = $6 AND status = 'queued'`,
		db.Micros(now), db.Micros(now.Add(Keep)), info.Size, info.Key, info.Key, id)
	return err
}

func (s *Service) fail(ctx context.Context, id int64, cause error) {
	_, _ = s.db.Exec(context.WithoutCancel(ctx), `UPDATE data_exports SET status = 'failed', error = $1, version = version + 1
		WHERE id = $2 AND status = 'queued'`, cause.Error(), id)
}

// ErrStaleLogin refuses a download with a login older than FreshLogin.
var ErrStaleLogin = apperr.New(apperr.Forbidden, "为保护您的个人信息，下载前请重新登录（登录后15分钟内可下载）")

// Open returns the ready archive for its person, with a login made at
// loginAt, and records the download. Anyone else, a stale login or an
// expired archive is refused.
func (s *Service) Open(ctx context.Context, by actor.Actor, personID int64, loginAt time.Time) (*Export, io.ReadCloser, error) {
	e, err := s.Latest(ctx, personID)
	if err != nil {
		return nil, nil, err
	}
	deny := func(err error, why string) (*Export, io.ReadCloser, error) {
		_ = s.audit.Record(ctx, audit.Entry{Action: "person.data_export_download", ObjectType: "person",
			ObjectID: fmt.Sprint(personID), Outcome: audit.Denied, Reason: why})
		return nil, nil, err
	}
	if by.PersonID != personID || e == nil || e.PersonID != personID {
		return deny(apperr.New(apperr.NotFound, "没有可下载的资料"), "no export of this person")
	}
	if s.clock.Now().Sub(loginAt) > FreshLogin {
		return deny(ErrStaleLogin, "login older than 15 minutes")
	}
	switch e.Status {
	case Ready:
	case "expired":
		return deny(apperr.New(apperr.NotFound, "资料下载已过期，请重新申请"), "expired")
	default:
		return deny(apperr.New(apperr.Conflict, "资料尚未准备好"), "not ready")
	}
	rc, err := s.store.Open(ctx, e.blobKey)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil, apperr.New(apperr.NotFound, "资料下载已过期，请重新申请")
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.audit.Record(ctx, audit.Entry{Action: "person.data_export_download", ObjectType: "person",
		ObjectID: fmt.Sprint(personID), Outcome: audit.Success, Reason: fmt.Sprintf("export %d", e.ID)}); err != nil {
		_ = rc.Close()
		return nil, nil, err
	}
	return e, rc, nil
}

// Purge deletes the exports whose archive expired (and failed requests as
// old), then the files no export names.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	now := s.clock.Now()
	res, err := s.db.Exec(ctx, `DELETE FROM data_exports WHERE (status = 'ready' AND expires_at <= $1)
		OR (status <> 'ready' AND requested_at <= $2)`, db.Micros(now), db.Micros(now.Add(-Keep)))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	_, err = s.store.Sweep(ctx, now.Add(-time.Hour), func(ctx context.Context, keys []string) (map[string]bool, error) {
		used := map[string]bool{}
		for _, k := range keys {
			var one int
			err := s.db.QueryRow(ctx, `SELECT 1 FROM data_exports WHERE blob_key = $1 LIMIT 1`, k).Scan(&one)
			if err == nil {
				used[k] = true
			} else if !db.IsNoRows(err) {
				return nil, err
			}
		}
		return used, nil
	})
	return n, err
}
