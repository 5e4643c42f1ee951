package statsreport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	"jifen/internal/platform/mail"
	"jifen/internal/stats"
)

// Queue is the job queue of the reports.
const Queue = "stats_reports"

// ProduceArgs is the job that produces one run of a saved query: the one
// due at DueAt (UTC microseconds). The file's unique key is the same pair,
// so a job that runs twice writes one file.
type ProduceArgs struct {
	SavedID int64 `json:"saved_id"`
	DueAt   int64 `json:"due_at"`
}

func (ProduceArgs) Kind() string { return "stats_report_produce" }

// InsertOpts makes a run's job unique while it is live — running included,
// or a sweep during a long run would insert a second one.
func (ProduceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
			rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

type sweepArgs struct{}

func (sweepArgs) Kind() string { return "stats_report_sweep" }

type purgeArgs struct{}

func (purgeArgs) Kind() string { return "stats_report_purge" }

// SweepEvery is how often due schedules are looked for; PurgeEvery how
// often expired files are deleted.
const (
	SweepEvery = time.Minute
	PurgeEvery = 6 * time.Hour
)

// Register adds the report jobs to j: the produce worker, the periodic
// sweep of due schedules and the purge of expired files.
func (s *Service) Register(j *jobs.Jobs) {
	jobs.Register(j, river.Worker[ProduceArgs](&produceWorker{s: s}))
	jobs.Register(j, river.Worker[sweepArgs](&sweepWorker{s: s}))
	jobs.Register(j, river.Worker[purgeArgs](&purgeWorker{s: s}))
	j.Queue(Queue, 2)
	j.Every(SweepEvery, sweepArgs{}, &river.InsertOpts{Queue: Queue, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByPeriod: SweepEvery}})
	j.Every(PurgeEvery, purgeArgs{}, &river.InsertOpts{Queue: Queue, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByPeriod: PurgeEvery}})
}

type produceWorker struct {
	river.WorkerDefaults[ProduceArgs]
	s *Service
}

func (w *produceWorker) Work(ctx context.Context, job *river.Job[ProduceArgs]) error {
	return w.s.Produce(ctx, job.Args, job.Attempt >= job.MaxAttempts, func(ctx context.Context) error {
		return jobs.Complete(ctx, w.s.jobs, job)
	})
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	_, err := w.s.Sweep(ctx)
	return err
}

type purgeWorker struct {
	river.WorkerDefaults[purgeArgs]
	s *Service
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[purgeArgs]) error {
	_, err := w.s.Purge(ctx)
	return err
}

// sweepPage bounds one sweep; the next minute's takes the rest.
const sweepPage = 200

// Sweep claims the schedules that are due and inserts a produce job for
// each. A claim moves next_run_at to the next run after now with a
// conditional update, in the transaction that inserts the job: of two
// sweeps at once one claims, and a crash leaves neither. A schedule missed
// for several periods (the worker was down) runs once, not once per
// period. It returns how many runs it claimed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.clock.Now()
	dues, err := s.dueRuns(ctx, now)
	if err != nil {
		return 0, err
	}
	claimed := 0
	for _, d := range dues {
		next := NextRun(d.sched, d.weekday, d.hour, now)
		err := s.db.WithTx(ctx, func(ctx context.Context) error {
			res, err := s.db.Exec(ctx, `UPDATE stats_saved SET next_run_at = $1 WHERE id = $2 AND next_run_at = $3`,
				micros(next), d.id, d.at)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return err // another sweep claimed it, or the owner changed the schedule
			}
			claimed++
			_, err = s.jobs.Insert(ctx, ProduceArgs{SavedID: d.id, DueAt: d.at}, nil)
			return err
		})
		if err != nil {
			return claimed, fmt.Errorf("claim saved query %d: %w", d.id, err)
		}
	}
	return claimed, nil
}

// due is a schedule whose run is due.
type due struct {
	id, at        int64
	sched         string
	weekday, hour int
}

func (s *Service) dueRuns(ctx context.Context, now time.Time) ([]due, error) {
	rows, err := s.db.Query(ctx, `SELECT id, schedule, weekday, hour, next_run_at FROM stats_saved
		WHERE schedule <> '' AND next_run_at <> 0 AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2`,
		db.Micros(now), sweepPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var dues []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.sched, &d.weekday, &d.hour, &d.at); err != nil {
			return nil, err
		}
		dues = append(dues, d)
	}
	return dues, rows.Err()
}

// RunNow produces a file of a saved query at once (in the background) and
// returns the due time of that run. The owner may run it, and the city.
func (s *Service) RunNow(ctx context.Context, by actor.Actor, id int64) (time.Time, error) {
	if _, err := s.Get(ctx, by, id); err != nil {
		return time.Time{}, err
	}
	now := s.clock.Now().Truncate(time.Microsecond)
	_, err := s.jobs.Insert(ctx, ProduceArgs{SavedID: id, DueAt: db.Micros(now)}, nil)
	return now, err
}

// Produce makes one run's file: the saved query run as its owner with the
// owner's current roles and district, small cells suppressed, written as
// Excel; or, when the run fails for a reason retrying will not change (the
// owner lost the permission, the query is no longer valid) or on the last
// attempt, a file row with the error and no data. The row, the mail to the
// subscribers and complete (the job's completion) commit together. A run
// whose file exists already does nothing.
func (s *Service) Produce(ctx context.Context, args ProduceArgs, lastAttempt bool, complete func(context.Context) error) error {
	var exists int
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM stats_report_files WHERE saved_id = $1 AND due_at = $2`,
		args.SavedID, args.DueAt).Scan(&exists); err != nil {
		return err
	}
	if exists > 0 {
		return nil
	}
	v, err := s.load(ctx, args.SavedID)
	if errors.Is(err, db.ErrNotFound) {
		return nil // deleted since the run was claimed
	}
	if err != nil {
		return err
	}
	f := fileRow{savedID: v.ID, ownerID: v.OwnerID, name: v.Name, dueAt: args.DueAt, format: "xlsx",
		suppressedBelow: s.SuppressBelow}
	res, runErr := s.run(ctx, v)
	switch {
	case runErr == nil:
		sup := stats.Suppress(res, s.SuppressBelow)
		var buf bytes.Buffer
		if err := stats.WriteExcel(&buf, sup); err != nil {
			return err
		}
		f.content, f.rows = buf.Bytes(), len(sup.Rows)
	case apperr.CodeOf(runErr) == apperr.Internal && !lastAttempt && ctx.Err() == nil:
		return runErr // River tries again after its backoff
	default:
		f.errText = userMessage(runErr)
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		id, err := s.insertFile(ctx, f)
		if errors.Is(err, sql.ErrNoRows) {
			return complete(ctx) // another run of the same job wrote it meanwhile
		}
		if err != nil {
			return err
		}
		if err := s.announce(ctx, v, id, f); err != nil {
			return err
		}
		return complete(ctx)
	})
}

// run answers the saved query as its owner.
func (s *Service) run(ctx context.Context, v *Saved) (*stats.Result, error) {
	u, err := s.users.UserByID(ctx, v.OwnerID)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) || db.IsNoRows(err) {
			return nil, apperr.New(apperr.Forbidden, "创建人账号已不存在，未生成报表")
		}
		return nil, err
	}
	by := u.Actor()
	by.ClientAddr = "job"
	if !mayUse(by) {
		return nil, apperr.New(apperr.Forbidden, "创建人已没有统计权限（账号停用或不再是经办人员），未生成报表")
	}
	if s.runner == nil {
		return nil, apperr.New(apperr.Invalid, "统计功能尚未启用")
	}
	res, err := s.runner.Run(actor.With(ctx, by), by, v.Kind, v.Spec)
	if err == nil && res == nil {
		err = errors.New("runner returned no result")
	}
	return res, err
}

// userMessage is what the download area shows of a failed run: the user-
// safe message and its fields, never an internal detail.
func userMessage(err error) string {
	e := apperr.As(err)
	msg := e.Message
	for _, f := range e.Fields {
		msg += "；" + f.Message
	}
	return "生成失败：" + msg
}

type fileRow struct {
	savedID, ownerID int64
	name             string
	dueAt            int64
	format           string
	content          []byte
	rows             int
	suppressedBelow  int
	errText          string
}

// insertFile writes the row unless the run has one (sql.ErrNoRows then).
func (s *Service) insertFile(ctx context.Context, f fileRow) (int64, error) {
	now := s.clock.Now()
	sum := sha256.Sum256(f.content)
	if f.content == nil {
		f.content = []byte{}
	}
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO stats_report_files (saved_id, owner_id, name, due_at, produced_at, expires_at,
		format, content, size, sha256, rows, suppressed_below, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (saved_id, due_at) DO NOTHING RETURNING id`,
		f.savedID, f.ownerID, f.name, f.dueAt, db.Micros(now), db.Micros(ExpiresAt(now)), f.format, f.content,
		len(f.content), hex.EncodeToString(sum[:]), f.rows, f.suppressedBelow, f.errText).Scan(&id)
	return id, err
}

// ExpiresAt is when a file produced at t is deleted: 12 months later.
func ExpiresAt(t time.Time) time.Time { return t.AddDate(0, Retention, 0) }

// FileLink is the download area's address of a file.
func (s *Service) FileLink(id int64) string {
	return fmt.Sprintf("%s/office/reports/files/%d", s.OfficeURL, id)
}

// announce queues the mail of a produced file, in ctx's transaction: to
// each subscriber who may still see the figures, the name, the time and
// the link to the download area — never the data, which stays in the
// office. A failed run is told to the owner instead.
func (s *Service) announce(ctx context.Context, v *Saved, fileID int64, f fileRow) error {
	if s.outbox == nil {
		return nil
	}
	when := s.clock.Now().In(clock.Beijing).Format("2006-01-02 15:04")
	if f.errText != "" {
		u, err := s.users.UserByID(ctx, v.OwnerID)
		if err != nil || strings.TrimSpace(u.Email) == "" {
			return nil //nolint:nilerr // an owner without an account or a mailbox sees the error in the download area
		}
		body := fmt.Sprintf("您保存的统计报表“%s”在 %s（北京时间）未能生成。\n%s\n\n详情请登录业务系统查看报表下载区：\n%s\n",
			v.Name, when, f.errText, s.FileLink(fileID))
		return s.mail(ctx, u.Email, u.DisplayName, "统计报表未能生成："+v.Name, body, fileID, u.ID)
	}
	ids, err := s.subscriberIDs(ctx, v.ID)
	if err != nil {
		return err
	}
	for _, uid := range ids {
		u, err := s.users.UserByID(ctx, uid)
		if err != nil {
			if apperr.Is(err, apperr.NotFound) || db.IsNoRows(err) {
				continue
			}
			return err
		}
		if strings.TrimSpace(u.Email) == "" || !seesScope(u.Actor(), v.Scope) {
			continue // lost the right to these figures since subscribing
		}
		body := fmt.Sprintf("您订阅的统计报表“%s”已于 %s（北京时间）生成（%s）。\n\n"+
			"请登录业务系统（政务外网）在报表下载区下载：\n%s\n\n"+
			"为保护数据安全，本邮件不附带报表内容；文件在下载区保留12个月。\n",
			v.Name, when, v.ScheduleName(), s.FileLink(fileID))
		if err := s.mail(ctx, u.Email, u.DisplayName, "统计报表已生成："+v.Name, body, fileID, u.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) mail(ctx context.Context, to, name, subject, body string, fileID, userID int64) error {
	text := fmt.Sprintf("%s，您好：\n\n%s\n本邮件由系统自动发送，请勿回复。\n", name, body)
	_, err := s.outbox.Enqueue(ctx, mail.Message{To: to, ToName: name, Subject: "【北京市积分落户】" + subject, Text: text,
		Category: "stats.report", Ref: fmt.Sprintf("stats_report_file:%d", fileID),
		IdempotencyKey: fmt.Sprintf("stats-report:%d:%d", fileID, userID)})
	return err
}

// Purge deletes the files past their 12 months.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM stats_report_files WHERE expires_at <= $1`, db.Micros(s.clock.Now()))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
