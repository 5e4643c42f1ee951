package mailing

// Campaigns (群发活动, docs/mailing.md): a list, a template and a sender
// identity, taken from draft through an optional second officer's approval
// to queuing (one outbox row per recipient, written before anything is
// sent), running (the sender job), paused and finished or cancelled.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/jobs"
	pmail "jifen/internal/platform/mail"
)

// Status is where a campaign is.
type Status string

// The statuses of a campaign.
const (
	Draft     Status = "draft"
	Approval  Status = "approval"  // waiting for a second officer
	Scheduled Status = "scheduled" // approved, to start at ScheduledAt
	Queuing   Status = "queuing"   // its recipients being written to the outbox
	Running   Status = "running"
	Paused    Status = "paused"
	Finished  Status = "finished"
	Cancelled Status = "cancelled"
)

var statusNames = map[Status]string{Draft: "草稿", Approval: "待审批", Scheduled: "已排期", Queuing: "正在生成收件人",
	Running: "发送中", Paused: "已暂停", Finished: "已完成", Cancelled: "已取消"}

// StatusName is the Chinese name of a status.
func StatusName(s Status) string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return string(s)
}

// Config is what the campaigns take from the configuration.
type Config struct {
	// ApprovalOver is the number of recipients above which a campaign
	// started in the office waits for a second officer; default 1,000.
	ApprovalOver int
	From         string // the default sender address
	FromName     string // the default sender name
	// BounceDomain and VERPKey make each message's return path a signed
	// VERP address of the bounce listener; without a domain the return
	// path is the sender address.
	BounceDomain string
	VERPKey      []byte
	// UnsubscribeURL is the public page of the unsubscribe links (e.g.
	// https://jifen.example/mail/unsubscribe); UnsubscribeKey signs them.
	UnsubscribeURL string
	UnsubscribeKey []byte
	MessageIDHost  string // the host part of Message-IDs; default "jifen.local"
	Workers        int    // messages in flight at once per process; default 8
	// ClaimLease is how long a sender holds a claimed batch, and the
	// campaign; after a crash its unsent messages wait this long before
	// another sender takes them. Default 60 s; a batch is at most two
	// seconds of sending.
	ClaimLease  time.Duration
	BounceAlert float64
	// PauseAfter, Rate and Hourly are the defaults of a new campaign.
	PauseAfter int
	Rate       int
	Hourly     int
}

func (c Config) withDefaults() Config {
	if c.ApprovalOver == 0 {
		c.ApprovalOver = 1000
	}
	if c.FromName == "" {
		c.FromName = pmail.DefaultFromName
	}
	if c.MessageIDHost == "" {
		c.MessageIDHost = "jifen.local"
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.ClaimLease == 0 {
		c.ClaimLease = time.Minute
	}
	if c.BounceAlert == 0 {
		c.BounceAlert = 0.05
	}
	if c.PauseAfter == 0 {
		c.PauseAfter = 20
	}
	if c.Rate == 0 {
		c.Rate = 50
	}
	if c.Hourly == 0 {
		c.Hourly = 100000
	}
	return c
}

// Transport sends one rendered message (platform/mail.Pool).
type Transport interface {
	Send(ctx context.Context, env pmail.Envelope, m pmail.Message) error
}

// Campaigns runs the mass-mail campaigns.
type Campaigns struct {
	db        *db.DB
	audit     *audit.Log
	clock     clock.Clock
	outbox    *pmail.Outbox
	lists     *Lists
	jobs      *jobs.Jobs
	transport Transport
	cfg       Config
	log       *slog.Logger
	sender    *sender
}

// NewCampaigns builds the campaigns and registers their jobs on j. A nil
// transport (no SMTP server) leaves running campaigns waiting.
func NewCampaigns(d *db.DB, a *audit.Log, c clock.Clock, out *pmail.Outbox, lists *Lists, j *jobs.Jobs, t Transport,
	cfg Config, log *slog.Logger) *Campaigns {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Campaigns{db: d, audit: a, clock: c, outbox: out, lists: lists, jobs: j, transport: t, cfg: cfg.withDefaults(), log: log}
	s.sender = newSender(s)
	jobs.Register(j, river.Worker[QueueArgs](&queueWorker{s: s}))
	jobs.Register(j, river.Worker[SendArgs](&sendWorker{s: s}))
	j.Queue(Queue, 2)
	return s
}

// Queue is the River queue of the campaigns' jobs.
const Queue = "campaign"

// Campaign is one mass mailing.
type Campaign struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	ListID       int64     `json:"list_id"`
	TemplateID   int64     `json:"template_id"`
	Subject      string    `json:"subject"`
	HTML         string    `json:"-"`
	Text         string    `json:"-"`
	Mandatory    bool      `json:"mandatory"`
	From         string    `json:"from"`
	FromName     string    `json:"from_name"`
	Status       Status    `json:"status"`
	StatusName   string    `json:"status_name"`
	Rate         int       `json:"rate"`
	Hourly       int       `json:"hourly"`
	PauseAfter   int       `json:"pause_after"`
	ScheduledAt  time.Time `json:"scheduled_at,omitzero"`
	Recipients   int       `json:"recipients"`
	Suppressed   int       `json:"suppressed"`
	PausedReason string    `json:"paused_reason,omitempty"`
	CreatedBy    int64     `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	StartedBy    int64     `json:"started_by,omitempty"`
	ApprovedBy   int64     `json:"approved_by,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	BounceAlert  bool      `json:"bounce_alert"`
	Version      int       `json:"version"`
}

const campaignColumns = `id, name, list_id, template_id, subject, body_html, body_text, mandatory, from_addr, from_name, status, rate,
	hourly, pause_after, scheduled_at, recipients, suppressed, paused_reason, created_by, created_at, started_by, approved_by,
	started_at, finished_at, bounce_alert, version`

func scanCampaign(sc interface{ Scan(...any) error }) (*Campaign, error) {
	var c Campaign
	var st string
	var sched, created, started, finished int64
	if err := sc.Scan(&c.ID, &c.Name, &c.ListID, &c.TemplateID, &c.Subject, &c.HTML, &c.Text, &c.Mandatory, &c.From, &c.FromName,
		&st, &c.Rate, &c.Hourly, &c.PauseAfter, &sched, &c.Recipients, &c.Suppressed, &c.PausedReason, &c.CreatedBy, &created,
		&c.StartedBy, &c.ApprovedBy, &started, &finished, &c.BounceAlert, &c.Version); err != nil {
		return nil, err
	}
	c.Status, c.StatusName = Status(st), StatusName(Status(st))
	c.ScheduledAt, c.CreatedAt, c.StartedAt, c.FinishedAt = db.FromMicros(sched), db.FromMicros(created), db.FromMicros(started),
		db.FromMicros(finished)
	return &c, nil
}

// ErrNotFound is the answer for an unknown campaign.
var ErrNotFound = apperr.New(apperr.NotFound, "没有这个群发活动")

// Get returns campaign id.
func (s *Campaigns) Get(ctx context.Context, id int64) (*Campaign, error) {
	c, err := scanCampaign(s.db.QueryRow(ctx, `SELECT `+campaignColumns+` FROM mail_campaigns WHERE id = $1`, id))
	if db.IsNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	return c, nil
}

// List returns the campaigns, newest first.
func (s *Campaigns) List(ctx context.Context, limit int) ([]*Campaign, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, `SELECT `+campaignColumns+` FROM mail_campaigns ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []*Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// Input is a new campaign.
type Input struct {
	Name        string
	ListID      int64
	TemplateID  int64
	From        string // "" for the configured sender
	FromName    string
	Rate        int // messages a second; 0 for the default
	Hourly      int // messages an hour; 0 for the default
	PauseAfter  int // consecutive errors that pause it; 0 for the default
	ScheduledAt time.Time
}

func requireSender(by actor.Actor) error {
	if !by.Can(actor.PermMailSend) {
		return apperr.New(apperr.Forbidden, "只有邮件群发操作员可以管理群发活动")
	}
	return nil
}

// Limits of a campaign's settings.
const (
	MaxRate   = 2000
	MaxHourly = 10_000_000
)

// Create saves a draft campaign: the template's current version is copied
// into it, so later edits of the template do not change it.
func (s *Campaigns) Create(ctx context.Context, by actor.Actor, in Input) (*Campaign, error) {
	if err := requireSender(by); err != nil {
		return nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	var fe []apperr.FieldError
	if n := utf8.RuneCountInString(in.Name); n == 0 || n > 100 {
		fe = append(fe, apperr.FieldError{Field: "name", Message: "请填写活动名称（不超过100字）"})
	}
	if in.From == "" {
		in.From = s.cfg.From
	}
	if in.FromName == "" {
		in.FromName = s.cfg.FromName
	}
	if a, err := mail.ParseAddress(in.From); err != nil || a.Address != in.From {
		fe = append(fe, apperr.FieldError{Field: "from", Message: "发件地址无效"})
	}
	if strings.ContainsAny(in.FromName, "\r\n") || utf8.RuneCountInString(in.FromName) > 100 {
		fe = append(fe, apperr.FieldError{Field: "from_name", Message: "发件人名称无效（不超过100字，不能换行）"})
	}
	if in.Rate == 0 {
		in.Rate = s.cfg.Rate
	}
	if in.Hourly == 0 {
		in.Hourly = s.cfg.Hourly
	}
	if in.PauseAfter == 0 {
		in.PauseAfter = s.cfg.PauseAfter
	}
	if in.Rate < 1 || in.Rate > MaxRate {
		fe = append(fe, apperr.FieldError{Field: "rate", Message: fmt.Sprintf("每秒发送量须在 1 到 %d 之间", MaxRate)})
	}
	if in.Hourly < 1 || in.Hourly > MaxHourly {
		fe = append(fe, apperr.FieldError{Field: "hourly", Message: fmt.Sprintf("每小时发送量须在 1 到 %d 之间", MaxHourly)})
	}
	if in.PauseAfter < 1 || in.PauseAfter > 10000 {
		fe = append(fe, apperr.FieldError{Field: "pause_after", Message: "连续失败暂停阈值须在 1 到 10000 之间"})
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}
	t, err := s.lists.Template(ctx, in.TemplateID)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, apperr.Field("template", "请选择邮件模板")
	}
	if _, err := Compile(*t); err != nil {
		return nil, err
	}
	var id int64
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		now := db.Micros(s.clock.Now())
		if err := s.db.QueryRow(ctx, `INSERT INTO mail_campaigns (name, list_id, template_id, subject, body_html, body_text, mandatory,
			from_addr, from_name, status, rate, hourly, pause_after, scheduled_at, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', $10, $11, $12, $13, $14, $15) RETURNING id`,
			in.Name, in.ListID, t.ID, t.Subject, t.HTML, t.Text, t.Mandatory, in.From, in.FromName, in.Rate, in.Hourly, in.PauseAfter,
			db.Micros(in.ScheduledAt), by.UserID, now).Scan(&id); err != nil {
			return apperr.Wrap(err)
		}
		return s.event(ctx, by, id, "create", in.Name)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// event appends a campaign's timeline line and its audit record.
func (s *Campaigns) event(ctx context.Context, by actor.Actor, id int64, kind, detail string) error {
	if _, err := s.db.Exec(ctx, `INSERT INTO mail_campaign_events (campaign_id, at, actor_id, kind, detail) VALUES ($1, $2, $3, $4, $5)`,
		id, db.Micros(s.clock.Now()), by.UserID, kind, detail); err != nil {
		return apperr.Wrap(err)
	}
	if s.audit == nil {
		return nil
	}
	return s.audit.Record(ctx, audit.Entry{Action: "mail.campaign." + kind, ObjectType: "mail_campaign", ObjectID: strconv.FormatInt(id, 10),
		Reason: detail})
}

// Event is one line of a campaign's timeline.
type Event struct {
	At     time.Time `json:"at"`
	Actor  int64     `json:"actor_id"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail"`
}

var eventNames = map[string]string{"create": "创建", "request": "申请发送", "start": "开始发送", "approve": "批准发送", "reject": "驳回",
	"queued": "生成收件人", "pause": "暂停", "autopause": "自动暂停", "resume": "恢复发送", "cancel": "取消", "finish": "发送完成",
	"alert": "退信告警"}

// KindName is the event's kind in Chinese.
func (e Event) KindName() string {
	if n, ok := eventNames[e.Kind]; ok {
		return n
	}
	return e.Kind
}

// Events returns a campaign's timeline, oldest first.
func (s *Campaigns) Events(ctx context.Context, id int64) ([]Event, error) {
	rows, err := s.db.Query(ctx, `SELECT at, actor_id, kind, detail FROM mail_campaign_events WHERE campaign_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Kind, &e.Detail); err != nil {
			return nil, apperr.Wrap(err)
		}
		e.At = db.FromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

var errMoved = apperr.New(apperr.Conflict, "群发活动已被他人修改，请刷新页面后重试")

// move changes a campaign's status from one of from to to at the version
// the officer saw (0: any), with set adding columns; it runs in ctx's
// transaction.
func (s *Campaigns) move(ctx context.Context, id int64, version int, from []Status, to Status, set string, args ...any) error {
	q := `UPDATE mail_campaigns SET status = $1, version = version + 1` + set + ` WHERE id = $2 AND status IN (`
	all := append([]any{string(to), id}, args...)
	for i, f := range from {
		if i > 0 {
			q += ", "
		}
		all = append(all, string(f))
		q += "$" + strconv.Itoa(len(all))
	}
	q += ")"
	if version > 0 {
		all = append(all, version)
		q += " AND version = $" + strconv.Itoa(len(all))
	}
	res, err := s.db.Exec(ctx, q, all...)
	if err != nil {
		return apperr.Wrap(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errMoved
	}
	return nil
}

// Start asks to send a draft campaign. Started in the office (approval
// true), a campaign to more than Config.ApprovalOver recipients waits for a
// second officer; the server's own operator (the command line) needs none.
// It returns the campaign as it now stands.
func (s *Campaigns) Start(ctx context.Context, by actor.Actor, id int64, version int, approval bool) (*Campaign, error) {
	if err := requireSender(by); err != nil {
		return nil, err
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status != Draft {
		return nil, apperr.New(apperr.Conflict, "只有草稿状态的活动可以开始发送（当前："+c.StatusName+"）")
	}
	rs, err := s.lists.Resolve(ctx, c.ListID)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, apperr.New(apperr.Conflict, "收件人列表为空，无法发送")
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		now := db.Micros(s.clock.Now())
		if approval && len(rs) > s.cfg.ApprovalOver {
			if err := s.move(ctx, id, version, []Status{Draft}, Approval, `, started_by = $3, recipients = $4`, by.UserID, len(rs)); err != nil {
				return err
			}
			return s.event(ctx, by, id, "request", fmt.Sprintf("收件人约 %d 人，超过 %d 人，须由另一名操作员审批", len(rs), s.cfg.ApprovalOver))
		}
		if err := s.move(ctx, id, version, []Status{Draft}, Scheduled, `, started_by = $3, approved_by = $3, recipients = $4, started_at = $5`,
			by.UserID, len(rs), now); err != nil {
			return err
		}
		if err := s.event(ctx, by, id, "start", fmt.Sprintf("收件人约 %d 人", len(rs))); err != nil {
			return err
		}
		return s.startDue(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Approve lets a campaign waiting for approval go; the approver is never
// the officer who started it.
func (s *Campaigns) Approve(ctx context.Context, by actor.Actor, id int64, version int, approve bool, note string) (*Campaign, error) {
	if err := requireSender(by); err != nil {
		return nil, err
	}
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status != Approval {
		return nil, apperr.New(apperr.Conflict, "该活动不在待审批状态（当前："+c.StatusName+"）")
	}
	if c.StartedBy == by.UserID {
		return nil, apperr.New(apperr.Forbidden, "不能审批本人发起的群发活动，须由另一名操作员审批")
	}
	note = strings.TrimSpace(note)
	if !approve && note == "" {
		return nil, apperr.Field("note", "请填写驳回理由")
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if !approve {
			if err := s.move(ctx, id, version, []Status{Approval}, Draft, `, started_by = 0`); err != nil {
				return err
			}
			return s.event(ctx, by, id, "reject", note)
		}
		if err := s.move(ctx, id, version, []Status{Approval}, Scheduled, `, approved_by = $3, started_at = $4`, by.UserID,
			db.Micros(s.clock.Now())); err != nil {
			return err
		}
		if err := s.event(ctx, by, id, "approve", note); err != nil {
			return err
		}
		return s.startDue(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// startDue moves a scheduled campaign whose time has come to queuing and
// inserts its queuing job, in ctx's transaction; one still in the future
// waits for the minute schedule (Tick).
func (s *Campaigns) startDue(ctx context.Context, id int64) error {
	res, err := s.db.Exec(ctx, `UPDATE mail_campaigns SET status = 'queuing', version = version + 1
		WHERE id = $1 AND status = 'scheduled' AND scheduled_at <= $2`, id, db.Micros(s.clock.Now()))
	if err != nil {
		return apperr.Wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	_, err = s.jobs.Insert(ctx, QueueArgs{CampaignID: id}, nil)
	return err
}

// Pause stops a running campaign's sending; messages in flight finish.
func (s *Campaigns) Pause(ctx context.Context, by actor.Actor, id int64, version int, reason string) (*Campaign, error) {
	if err := requireSender(by); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "操作员暂停"
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.move(ctx, id, version, []Status{Running, Queuing}, Paused, `, paused_reason = $3`, reason); err != nil {
			return err
		}
		return s.event(ctx, by, id, "pause", reason)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Resume sends a paused campaign on; the error count starts again.
func (s *Campaigns) Resume(ctx context.Context, by actor.Actor, id int64, version int) (*Campaign, error) {
	if err := requireSender(by); err != nil {
		return nil, err
	}
	counts, err := s.outbox.CampaignCounts(ctx, id)
	if err != nil {
		return nil, err
	}
	written := 0
	for _, n := range counts {
		written += n
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		// A campaign paused before its recipients were written goes back
		// to queuing (the queuing job is idempotent); else to running.
		to, job := Running, river.JobArgs(SendArgs{CampaignID: id})
		if written == 0 {
			to, job = Queuing, QueueArgs{CampaignID: id}
		}
		if err := s.move(ctx, id, version, []Status{Paused}, to, `, paused_reason = ''`); err != nil {
			return err
		}
		if err := s.event(ctx, by, id, "resume", ""); err != nil {
			return err
		}
		_, err := s.jobs.Insert(ctx, job, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Cancel ends a campaign that has not finished: its queued messages are
// given up.
func (s *Campaigns) Cancel(ctx context.Context, by actor.Actor, id int64, version int, reason string) (*Campaign, error) {
	if err := requireSender(by); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Field("reason", "请填写取消原因")
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.move(ctx, id, version, []Status{Draft, Approval, Scheduled, Queuing, Running, Paused}, Cancelled,
			`, finished_at = $3`, db.Micros(s.clock.Now())); err != nil {
			return err
		}
		n, err := s.outbox.CancelCampaign(ctx, id, "活动已取消："+reason)
		if err != nil {
			return err
		}
		return s.event(ctx, by, id, "cancel", fmt.Sprintf("%s（%d 封未发送）", reason, n))
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Tick is the minute schedule: scheduled campaigns whose time has come
// start, and every running campaign has its sender job (a unique job per
// campaign, so this adds nothing while one lives).
func (s *Campaigns) Tick(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT id, status FROM mail_campaigns WHERE status IN ('scheduled', 'queuing', 'running')`)
	if err != nil {
		return apperr.Wrap(err)
	}
	type row struct {
		id int64
		st Status
	}
	var rs []row
	for rows.Next() {
		var r row
		var st string
		if err := rows.Scan(&r.id, &st); err != nil {
			rows.Close()
			return apperr.Wrap(err)
		}
		r.st = Status(st)
		rs = append(rs, r)
	}
	rows.Close()
	for _, r := range rs {
		var err error
		switch r.st {
		case Scheduled:
			err = s.db.WithTx(ctx, func(ctx context.Context) error { return s.startDue(ctx, r.id) })
		case Queuing:
			_, err = s.jobs.Insert(ctx, QueueArgs{CampaignID: r.id}, nil)
		case Running:
			_, err = s.jobs.Insert(ctx, SendArgs{CampaignID: r.id}, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// QueueArgs is the job that writes a campaign's recipients to the outbox.
type QueueArgs struct {
	CampaignID int64 `json:"campaign_id"`
}

func (QueueArgs) Kind() string { return "mail_campaign_queue" }

// InsertOpts: one live job per campaign.
func (QueueArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: liveStates}}
}

type queueWorker struct {
	river.WorkerDefaults[QueueArgs]
	s *Campaigns
}

// Work resolves the list now (a dynamic list's query is evaluated at send
// time), leaves out the suppressed addresses, and writes one outbox row per
// recipient with the key campaign:<id>:<address>, then starts the sender.
// Run again after a crash it writes only the rows that are missing.
func (w *queueWorker) Work(ctx context.Context, job *river.Job[QueueArgs]) error {
	s := w.s
	c, err := s.Get(ctx, job.Args.CampaignID)
	if err != nil {
		return river.JobCancel(err)
	}
	if c.Status != Queuing {
		return nil
	}
	rs, err := s.lists.Resolve(ctx, c.ListID)
	if err != nil {
		return err
	}
	emails := make([]string, len(rs))
	for i, r := range rs {
		emails[i] = r.Email
	}
	sup, err := s.lists.Suppressed(ctx, emails)
	if err != nil {
		return err
	}
	rows := make([]pmail.CampaignRow, 0, len(rs))
	for _, r := range rs {
		if _, no := sup[r.Email]; no && !c.Mandatory {
			continue
		}
		vars, _ := json.Marshal(r.Vars)
		rows = append(rows, pmail.CampaignRow{To: r.Email, ToName: r.Name, Vars: string(vars),
			Key: fmt.Sprintf("campaign:%d:%s", c.ID, r.Email)})
	}
	suppressed := len(rs) - len(rows)
	if _, err := s.outbox.EnqueueCampaign(ctx, c.ID, "[群发] "+c.Name, rows); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `UPDATE mail_campaigns SET status = 'running', recipients = $1, suppressed = $2, version = version + 1
			WHERE id = $3 AND status = 'queuing'`, len(rows), suppressed, c.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return jobs.Complete(ctx, s.jobs, job) // paused or cancelled meanwhile: the rows wait
		}
		if err := s.event(ctx, actor.Actor{}, c.ID, "queued", fmt.Sprintf("已生成 %d 封邮件（抑制名单排除 %d 人）", len(rows), suppressed)); err != nil {
			return err
		}
		if _, err := s.jobs.Insert(ctx, SendArgs{CampaignID: c.ID}, nil); err != nil {
			return err
		}
		return jobs.Complete(ctx, s.jobs, job)
	})
}
