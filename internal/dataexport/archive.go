package dataexport

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"path"
	"strings"
	"time"

	"jifen/internal/audit"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// SchemaVersion is the version of data.json's structure
// (docs/data-export.schema.json); it changes when a field changes meaning
// or goes away.
const SchemaVersion = 1

// Document is data.json: everything the system holds about one person.
// Officers' identities are never in it (their office and role are).
type Document struct {
	SchemaVersion int           `json:"schema_version"`
	GeneratedAt   time.Time     `json:"generated_at"`
	Account       Account       `json:"account"`
	Person        PersonInfo    `json:"person"`
	Applications  []Application `json:"applications"`
	Messages      []Message     `json:"messages"`
	Views         []audit.View  `json:"views"`
}

// Account is the login account.
type Account struct {
	Login       string    `json:"login"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Phone       string    `json:"phone"`
	CreatedAt   time.Time `json:"created_at"`
}

// PersonInfo is the applicant's identity.
type PersonInfo struct {
	Name      string `json:"name"`
	BirthDate string `json:"birth_date"`
	Sex       string `json:"sex"`
	IDNumber  string `json:"id_number"`
	IDNote    string `json:"id_number_note"`
}

// Application is one round's application with everything about it.
type Application struct {
	ID             int64           `json:"id"`
	RoundYear      int             `json:"round_year"`
	Employer       string          `json:"employer"`
	Status         string          `json:"status"`
	Declaration    json.RawMessage `json:"declaration"`
	Estimate       int64           `json:"estimate"`
	Score          int64           `json:"score"`
	ScoreEligible  bool            `json:"score_eligible"`
	ReturnReason   string          `json:"return_reason"`
	CreatedAt      time.Time       `json:"created_at"`
	SubmittedAt    *time.Time      `json:"submitted_at"`
	Timeline       []Event         `json:"timeline"`
	Attachments    []Attachment    `json:"attachments"`
	Checks         []CheckResult   `json:"check_results"`
	Prechecks      []Precheck      `json:"prechecks"`
	ReviewRequests []ReviewRequest `json:"review_requests"`
	Statement      any             `json:"statement"`
}

// Event is one step of the application's timeline.
type Event struct {
	At     time.Time `json:"at"`
	From   string    `json:"from_status"`
	To     string    `json:"to_status"`
	Role   string    `json:"actor_role"`
	Reason string    `json:"reason"`
}

// Attachment is an uploaded file; File is its path in the archive.
type Attachment struct {
	ID          int64     `json:"id"`
	Indicator   string    `json:"indicator"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size_bytes"`
	UploadedAt  time.Time `json:"uploaded_at"`
	File        string    `json:"file"`
}

// CheckResult is a cross-check run's verified facts and outcomes.
type CheckResult struct {
	RunID    int64           `json:"run_id"`
	Total    int64           `json:"total"`
	Eligible bool            `json:"eligible"`
	Verified json.RawMessage `json:"verified"`
	Outcomes json.RawMessage `json:"outcomes"`
	ScoredAt time.Time       `json:"scored_at"`
}

// Precheck is a pre-check (预核验) the applicant asked for before
// submitting: what each agency held then and each item's outcome.
type Precheck struct {
	Status      string          `json:"status"`
	RequestedAt time.Time       `json:"requested_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	Verified    json.RawMessage `json:"verified"`
	Outcomes    json.RawMessage `json:"outcomes"`
	Agencies    json.RawMessage `json:"agencies"`
}

// ReviewRequest is a request for review of the scores.
type ReviewRequest struct {
	Indicators   []string  `json:"indicators"`
	Reason       string    `json:"reason"`
	EmployerNote string    `json:"employer_note"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
}

// Message is an email sent to the person.
type Message struct {
	At      time.Time  `json:"at"`
	Subject string     `json:"subject"`
	Body    string     `json:"body"`
	Status  string     `json:"status"`
	SentAt  *time.Time `json:"sent_at"`
}

func when(us int64) *time.Time {
	if us == 0 {
		return nil
	}
	t := db.FromMicros(us)
	return &t
}

func rawJSON(s string) json.RawMessage {
	if !json.Valid([]byte(s)) {
		b, _ := json.Marshal(s)
		return b
	}
	return json.RawMessage(s)
}

// Collect reads the person's whole file. Every query is limited to the
// person: their user, their applications and the rows of those.
func (s *Service) Collect(ctx context.Context, personID, userID int64) (*Document, error) {
	d := &Document{SchemaVersion: SchemaVersion, GeneratedAt: s.clock.Now(), Applications: []Application{}, Messages: []Message{}}
	var created int64
	if err := s.db.QueryRow(ctx, `SELECT login, display_name, email, created_at FROM users WHERE id = $1`, userID).
		Scan(&d.Account.Login, &d.Account.DisplayName, &d.Account.Email, &created); err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	d.Account.CreatedAt = db.FromMicros(created)
	if s.src.Phone != nil {
		d.Account.Phone, _ = s.src.Phone(ctx, userID)
	}
	if err := s.db.QueryRow(ctx, `SELECT name, birth_date, sex FROM persons WHERE id = $1 AND user_id = $2`, personID, userID).
		Scan(&d.Person.Name, &d.Person.BirthDate, &d.Person.Sex); err != nil {
		return nil, fmt.Errorf("person: %w", err)
	}
	if s.src.IDNumber != nil {
		d.Person.IDNumber, _ = s.src.IDNumber(ctx, personID)
	}
	d.Person.IDNote = "您本人的完整身份证号码（系统中加密保存）"
	if err := s.collectApplications(ctx, d, personID); err != nil {
		return nil, err
	}
	if d.Account.Email != "" {
		rows, err := s.db.Query(ctx, `SELECT created_at, subject, body_text, status, sent_at FROM mail_outbox
			WHERE to_addr = $1 ORDER BY id`, d.Account.Email)
		if err != nil {
			return nil, err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var m Message
			var at, sent int64
			if err := rows.Scan(&at, &m.Subject, &m.Body, &m.Status, &sent); err != nil {
				return nil, err
			}
			// One-time secrets (reset passwords, invitation links) masked
			// as in the office's mail log: a copy of the file must not be a
			// way into the account.
			mm := mail.Masked(mail.Message{Subject: m.Subject, Text: m.Body})
			m.Subject, m.Body = mm.Subject, mm.Text
			m.At, m.SentAt = db.FromMicros(at), when(sent)
			d.Messages = append(d.Messages, m)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	views, err := s.audit.ViewsOf(ctx, personID)
	if err != nil {
		return nil, err
	}
	d.Views = append([]audit.View{}, views...)
	return d, nil
}

func (s *Service) collectApplications(ctx context.Context, d *Document, personID int64) error {
	rows, err := s.db.Query(ctx, `SELECT a.id, r.year, COALESCE(e.name, ''), a.status, a.declaration, a.estimate, a.score,
			a.score_eligible, a.return_reason, a.created_at, a.submitted_at
		FROM applications a JOIN rounds r ON r.id = a.round_id LEFT JOIN employers e ON e.id = a.employer_id
		WHERE a.person_id = $1 ORDER BY r.year, a.id`, personID)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var a Application
		var decl string
		var created, submitted int64
		if err := rows.Scan(&a.ID, &a.RoundYear, &a.Employer, &a.Status, &decl, &a.Estimate, &a.Score, &a.ScoreEligible,
			&a.ReturnReason, &created, &submitted); err != nil {
			return err
		}
		a.Declaration, a.CreatedAt, a.SubmittedAt = rawJSON(decl), db.FromMicros(created), when(submitted)
		d.Applications = append(d.Applications, a)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range d.Applications {
		if err := s.collectApplication(ctx, &d.Applications[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) collectApplication(ctx context.Context, a *Application) error {
	a.Timeline, a.Attachments, a.Checks, a.ReviewRequests = []Event{}, []Attachment{}, []CheckResult{}, []ReviewRequest{}
	a.Prechecks = []Precheck{}
	each := func(q string, scan func(r interface{ Scan(...any) error }) error) error {
		rows, err := s.db.Query(ctx, q, a.ID)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	if err := each(`SELECT at, from_status, to_status, actor_role, reason FROM application_events WHERE application_id = $1 ORDER BY id`,
		func(r interface{ Scan(...any) error }) error {
			var e Event
			var at int64
			if err := r.Scan(&at, &e.From, &e.To, &e.Role, &e.Reason); err != nil {
				return err
			}
			e.At = db.FromMicros(at)
			a.Timeline = append(a.Timeline, e)
			return nil
		}); err != nil {
		return err
	}
	if err := each(`SELECT id, indicator, filename, content_type, size_bytes, created_at FROM attachments
		WHERE application_id = $1 AND deleted_at = 0 ORDER BY id`, func(r interface{ Scan(...any) error }) error {
		var t Attachment
		var at int64
		if err := r.Scan(&t.ID, &t.Indicator, &t.Filename, &t.ContentType, &t.Size, &at); err != nil {
			return err
		}
		t.UploadedAt = db.FromMicros(at)
		t.File = fmt.Sprintf("attachments/%d-%s", t.ID, safeName(t.Filename))
		a.Attachments = append(a.Attachments, t)
		return nil
	}); err != nil {
		return err
	}
	if err := each(`SELECT run_id, total, eligible, verified, outcomes, scored_at FROM check_scores
		WHERE application_id = $1 ORDER BY run_id`, func(r interface{ Scan(...any) error }) error {
		var c CheckResult
		var ver, out string
		var at int64
		if err := r.Scan(&c.RunID, &c.Total, &c.Eligible, &ver, &out, &at); err != nil {
			return err
		}
		c.Verified, c.Outcomes, c.ScoredAt = rawJSON(ver), rawJSON(out), db.FromMicros(at)
		a.Checks = append(a.Checks, c)
		return nil
	}); err != nil {
		return err
	}
	if err := each(`SELECT status, requested_at, finished_at, verified, outcomes, agencies FROM prechecks
		WHERE application_id = $1 ORDER BY id`, func(r interface{ Scan(...any) error }) error {
		var p Precheck
		var ver, out, ags string
		var req, fin int64
		if err := r.Scan(&p.Status, &req, &fin, &ver, &out, &ags); err != nil {
			return err
		}
		p.RequestedAt, p.FinishedAt = db.FromMicros(req), when(fin)
		// A pre-check not finished (or cancelled) has no answers yet: null.
		orNull := func(s string) json.RawMessage {
			if s == "" {
				return json.RawMessage("null")
			}
			return rawJSON(s)
		}
		p.Verified, p.Outcomes, p.Agencies = orNull(ver), orNull(out), orNull(ags)
		a.Prechecks = append(a.Prechecks, p)
		return nil
	}); err != nil {
		return err
	}
	if err := each(`SELECT indicators, reason, employer_note, status, created_at FROM review_requests
		WHERE application_id = $1 ORDER BY id`, func(r interface{ Scan(...any) error }) error {
		var v ReviewRequest
		var ind string
		var at int64
		if err := r.Scan(&ind, &v.Reason, &v.EmployerNote, &v.Status, &at); err != nil {
			return err
		}
		// Stored comma-separated (application.RequestReview).
		v.Indicators, v.CreatedAt = strings.Split(ind, ","), db.FromMicros(at)
		a.ReviewRequests = append(a.ReviewRequests, v)
		return nil
	}); err != nil {
		return err
	}
	if s.src.Statement != nil {
		st, err := s.src.Statement(ctx, a.ID)
		if err == nil {
			a.Statement = st
		}
	}
	return nil
}

// safeName keeps a stored filename usable as a path inside the zip.
func safeName(n string) string {
	n = path.Base(strings.ReplaceAll(n, "\\", "/"))
	if n == "." || n == "/" || n == ".." || n == "" {
		return "file"
	}
	return n
}

// archive writes the zip to out: data.json, summary.html and the
// attachments.
func (s *Service) archive(ctx context.Context, e *Export, out io.Writer) error {
	d, err := s.Collect(ctx, e.PersonID, e.UserID)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	add := func(name string, method uint16, body func(io.Writer) error) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: d.GeneratedAt})
		if err != nil {
			return err
		}
		return body(w)
	}
	if err := add("data.json", zip.Deflate, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}); err != nil {
		return err
	}
	if err := add("summary.html", zip.Deflate, func(w io.Writer) error { return summary.Execute(w, d) }); err != nil {
		return err
	}
	for _, a := range d.Applications {
		for _, t := range a.Attachments {
			var key string
			if err := s.db.QueryRow(ctx, `SELECT blob_key FROM attachments WHERE id = $1 AND application_id = $2`, t.ID, a.ID).Scan(&key); err != nil {
				return err
			}
			rc, err := s.src.Attachments.Open(ctx, key)
			if err != nil {
				return fmt.Errorf("attachment %d: %w", t.ID, err)
			}
			// Stored as they are: PDF, JPEG and PNG are compressed already.
			err = add(t.File, zip.Store, func(w io.Writer) error { _, err := io.Copy(w, rc); return err })
			_ = rc.Close()
			if err != nil {
				return err
			}
		}
	}
	return zw.Close()
}

func bj(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.In(clock.Beijing).Format("2006-01-02 15:04")
	case *time.Time:
		if v == nil {
			return ""
		}
		return v.In(clock.Beijing).Format("2006-01-02 15:04")
	}
	return ""
}

// summary is the readable copy of data.json: self-contained, no external
// assets.
var summary = template.Must(template.New("summary").Funcs(template.FuncMap{"bj": bj}).Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>个人资料副本 — {{.Person.Name}}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.5}table{border-collapse:collapse;width:100%;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}h2{border-bottom:2px solid #333}</style></head><body>
<h1>个人资料副本</h1>
<p>生成时间：{{bj .GeneratedAt}}。本文件依据《个人信息保护法》第四十五条提供，包含本系统保存的您本人的全部信息；机器可读版本见同一压缩包中的 data.json。</p>
<h2>账号</h2>
<table><tr><th>登录名</th><td>{{.Account.Login}}</td></tr><tr><th>姓名</th><td>{{.Account.DisplayName}}</td></tr>
<tr><th>电子邮箱</th><td>{{.Account.Email}}</td></tr><tr><th>手机号码</th><td>{{.Account.Phone}}</td></tr>
<tr><th>注册时间</th><td>{{bj .Account.CreatedAt}}</td></tr></table>
<h2>个人信息</h2>
<table><tr><th>姓名</th><td>{{.Person.Name}}</td></tr><tr><th>出生日期</th><td>{{.Person.BirthDate}}</td></tr>
<tr><th>性别</th><td>{{if eq .Person.Sex "M"}}男{{else}}女{{end}}</td></tr><tr><th>身份证号码</th><td>{{.Person.IDNumber}}（{{.Person.IDNote}}）</td></tr></table>
<h2>申报记录</h2>
{{range .Applications}}<h3>{{.RoundYear}} 年度申报（编号 {{.ID}}）</h3>
<table><tr><th>单位</th><td>{{.Employer}}</td></tr><tr><th>状态</th><td>{{.Status}}</td></tr>
<tr><th>预估积分</th><td>{{.Estimate}}</td></tr><tr><th>核定积分</th><td>{{.Score}}</td></tr>
<tr><th>提交时间</th><td>{{bj .SubmittedAt}}</td></tr>{{if .ReturnReason}}<tr><th>退回原因</th><td>{{.ReturnReason}}</td></tr>{{end}}</table>
<h4>办理过程</h4><table><tr><th>时间</th><th>由</th><th>至</th><th>角色</th><th>说明</th></tr>
{{range .Timeline}}<tr><td>{{bj .At}}</td><td>{{.From}}</td><td>{{.To}}</td><td>{{.Role}}</td><td>{{.Reason}}</td></tr>{{end}}</table>
<h4>申请材料（{{len .Attachments}} 个）</h4><table><tr><th>指标</th><th>文件名</th><th>大小（字节）</th><th>上传时间</th><th>压缩包内路径</th></tr>
{{range .Attachments}}<tr><td>{{.Indicator}}</td><td>{{.Filename}}</td><td>{{.Size}}</td><td>{{bj .UploadedAt}}</td><td>{{.File}}</td></tr>{{end}}</table>
<h4>比对核验结果</h4><table><tr><th>批次</th><th>积分</th><th>核验时间</th></tr>
{{range .Checks}}<tr><td>{{.RunID}}</td><td>{{.Total}}</td><td>{{bj .ScoredAt}}</td></tr>{{end}}</table>
{{if .ReviewRequests}}<h4>复核申请</h4><table>{{range .ReviewRequests}}<tr><td>{{bj .CreatedAt}}</td><td>{{.Reason}}</td><td>{{.Status}}</td></tr>{{end}}</table>{{end}}
{{else}}<p>暂无申报记录。</p>{{end}}
<h2>发给您的邮件</h2><table><tr><th>时间</th><th>主题</th><th>状态</th></tr>
{{range .Messages}}<tr><td>{{bj .At}}</td><td>{{.Subject}}</td><td>{{.Status}}</td></tr>{{else}}<tr><td colspan="3">暂无</td></tr>{{end}}</table>
<h2>查阅记录</h2><table><tr><th>时间</th><th>单位</th><th>角色</th><th>目的</th></tr>
{{range .Views}}<tr><td>{{bj .At}}</td><td>{{.Office}}</td><td>{{.Role}}</td><td>{{.Purpose}}</td></tr>{{else}}<tr><td colspan="4">暂无</td></tr>{{end}}</table>
</body></html>
`))
