package office

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"jifen/internal/account"
	"jifen/internal/logs"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
)

// LogPages are the system administrator's pages of the log files (日志巡检):
// the search over the application and security logs and the daily
// digests. The security log names users and addresses, so both need
// config.manage, not the wider check.monitor.
type LogPages struct {
	sh      *shell.Shell
	dir     string // "" when the files are off
	digests *logs.Digests
	health  func() (healthy bool, failures int64)
}

// NewLogPages returns the pages over the log files in dir.
func NewLogPages(sh *shell.Shell, dir string, d *logs.Digests, health func() (bool, int64)) *LogPages {
	return &LogPages{sh: sh, dir: dir, digests: d, health: health}
}

// Register adds the routes.
func (p *LogPages) Register(mux *web.Mux) {
	sh := p.sh
	mux.Handle("GET /office/ops/logs", sh.RequireUser(account.PermConfigManage, p.page))
	mux.Handle("GET /api/v1/office/ops/logs", sh.RequireUser(account.PermConfigManage, p.api))
	mux.Handle("GET /office/ops/logs/digests", sh.RequireUser(account.PermConfigManage, p.digestPage))
	mux.Handle("GET /api/v1/office/ops/logs/digests", sh.RequireUser(account.PermConfigManage, p.digestAPI))
}

type logForm struct {
	Log, From, To, Level, RequestID, User, Text, After string
}

// query reads the form: times are Beijing dates or date-times
// (2026-03-02, 2026-03-02T08:30); the default is the last 24 hours.
func (p *LogPages) query(r *http.Request) (logForm, logs.Query, error) {
	f := logForm{Log: r.FormValue("log"), From: r.FormValue("from"), To: r.FormValue("to"), Level: r.FormValue("level"),
		RequestID: strings.TrimSpace(r.FormValue("request_id")), User: strings.TrimSpace(r.FormValue("user")),
		Text: strings.TrimSpace(r.FormValue("q")), After: r.FormValue("after")}
	if f.Log == "" {
		f.Log = logs.App
	}
	q := logs.Query{Log: f.Log, RequestID: f.RequestID, User: f.User, Text: f.Text, After: f.After}
	if f.Log != logs.App && f.Log != logs.Security {
		return f, q, apperr.Field("log", "日志只能是应用日志（app）或安全日志（security）")
	}
	switch strings.ToUpper(f.Level) {
	case "", "DEBUG", "INFO", "WARN", "ERROR":
		q.Level = f.Level
	default:
		return f, q, apperr.Field("level", "级别只能是 debug、info、warn 或 error")
	}
	if len(f.Text) > 200 {
		return f, q, apperr.Field("q", "关键词不能超过200个字符")
	}
	now := p.sh.Clock.Now()
	q.From, q.To = now.Add(-24*time.Hour), now.Add(time.Minute)
	var err error
	if f.From != "" {
		if q.From, err = parseLogTime("from", f.From, false); err != nil {
			return f, q, err
		}
	} else {
		f.From = q.From.In(clock.Beijing).Format("2006-01-02T15:04")
	}
	if f.To != "" {
		if q.To, err = parseLogTime("to", f.To, true); err != nil {
			return f, q, err
		}
	}
	if !q.From.Before(q.To) {
		return f, q, apperr.Field("to", "结束时间必须晚于开始时间")
	}
	return f, q, nil
}

func parseLogTime(field, v string, end bool) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02T15:04", v, clock.Beijing); err == nil {
		return t, nil
	}
	return parseWhen(field, v, end)
}

func (p *LogPages) search(ctx context.Context, q logs.Query) (logs.Result, error) {
	if p.dir == "" {
		return logs.Result{}, nil
	}
	res, err := logs.Search(ctx, p.dir, q)
	if err == logs.ErrBadCursor {
		return res, apperr.Field("after", "翻页参数无效，请重新查询")
	}
	return res, err
}

func (p *LogPages) api(w http.ResponseWriter, r *http.Request) {
	_, q, err := p.query(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	res, err := p.search(r.Context(), q)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, res)
}

type logView struct {
	Form     logForm
	Off      bool
	Healthy  bool
	Failures int64
	Rows     []logRow
	More     bool
	NextURL  string
	Files    int
}

type logRow struct {
	Time, Day, Level, Msg, RequestID, User, Fields string
	Alert                                          bool
}

func (p *LogPages) page(w http.ResponseWriter, r *http.Request) {
	f, q, err := p.query(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	res, err := p.search(r.Context(), q)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	v := logView{Form: f, Off: p.dir == "", More: res.More, Files: res.Files}
	v.Healthy, v.Failures = p.health()
	for _, rec := range res.Records {
		b, _ := json.Marshal(rec.Fields)
		v.Rows = append(v.Rows, logRow{Time: rec.Time.In(clock.Beijing).Format("2006-01-02 15:04:05.000"),
			Day: rec.Time.In(clock.Beijing).Format("2006-01-02"), Level: rec.Level,
			Msg: rec.Msg, RequestID: rec.RequestID, User: rec.User, Fields: string(b), Alert: rec.Level == "WARN" || rec.Level == "ERROR"})
	}
	if res.More {
		u := r.URL.Query()
		u.Set("after", res.Next)
		u.Set("from", f.From)
		v.NextURL = "/office/ops/logs?" + u.Encode()
	}
	pg := p.sh.Page(r, "日志巡检")
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "office_logs", pg)
}

type digestView struct {
	Digests []digestItem
}

type digestItem struct {
	logs.Digest
	Kinds []logs.Count // keys in Chinese
}

func (p *LogPages) digestList(r *http.Request) ([]logs.Digest, error) {
	if p.digests == nil {
		return nil, nil
	}
	return p.digests.List(r.Context(), 31)
}

func (p *LogPages) digestAPI(w http.ResponseWriter, r *http.Request) {
	list, err := p.digestList(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	web.JSON(w, http.StatusOK, map[string]any{"digests": list})
}

func (p *LogPages) digestPage(w http.ResponseWriter, r *http.Request) {
	list, err := p.digestList(r)
	if err != nil {
		web.WriteError(w, r, err)
		return
	}
	var v digestView
	for _, d := range list {
		it := digestItem{Digest: d}
		for _, c := range d.Kinds {
			name := logs.KindNames[c.Key]
			if name == "" {
				name = c.Key
			}
			it.Kinds = append(it.Kinds, logs.Count{Key: name, N: c.N})
		}
		v.Digests = append(v.Digests, it)
	}
	pg := p.sh.Page(r, "日志日报")
	pg.Data = v
	p.sh.Render(w, r, http.StatusOK, "office_logs_digests", pg)
}
