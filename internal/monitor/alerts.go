package monitor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"jifen/internal/actor"
	"jifen/internal/audit"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/platform/mail"
)

// Rule is an alert rule.
type Rule struct {
	ID         int64   `json:"id"`
	Metric     string  `json:"metric"`
	Op         string  `json:"op"`
	Threshold  float64 `json:"threshold"`
	ForMinutes int     `json:"for_minutes"`
	Severity   string  `json:"severity"`
	Name       string  `json:"name"`
	Enabled    bool    `json:"enabled"`
	Version    int     `json:"version"`
}

// Alert is a rule that fired.
type Alert struct {
	ID         int64     `json:"id"`
	RuleID     int64     `json:"rule_id"`
	Name       string    `json:"name"`
	Severity   string    `json:"severity"`
	State      string    `json:"state"`
	Value      float64   `json:"value"`
	StartedAt  time.Time `json:"started_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	FaultID    int64     `json:"fault_id"`
}

// SeverityNames are the severities in Chinese.
var SeverityNames = map[string]string{"warning": "警告", "critical": "严重"}

// Rules lists the alert rules.
func (s *Service) Rules(ctx context.Context) ([]Rule, error) {
	rows, err := s.db.Query(ctx, `SELECT id, metric, op, threshold, for_minutes, severity, name, enabled, version FROM alert_rules ORDER BY id`)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r Rule
		if err := rows.Scan(&r.ID, &r.Metric, &r.Op, &r.Threshold, &r.ForMinutes, &r.Severity, &r.Name, &r.Enabled, &r.Version); err != nil {
			return nil, apperr.Wrap(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// SetRule changes a rule's threshold, duration, severity and whether it is
// on, if its version is still expected.
func (s *Service) SetRule(ctx context.Context, by actor.Actor, r Rule) error {
	if err := by.Require(actor.PermConfigManage); err != nil {
		return err
	}
	var fe []apperr.FieldError
	if r.ForMinutes < 1 || r.ForMinutes > 1440 {
		fe = append(fe, apperr.FieldError{Field: "for_minutes", Message: "持续时间应为1到1440分钟"})
	}
	if r.Severity != "warning" && r.Severity != "critical" {
		fe = append(fe, apperr.FieldError{Field: "severity", Message: "请选择级别：警告或严重"})
	}
	if r.Threshold != r.Threshold {
		fe = append(fe, apperr.FieldError{Field: "threshold", Message: "请填写阈值"})
	}
	if err := apperr.Fields(fe); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `UPDATE alert_rules SET threshold = $1, for_minutes = $2, severity = $3, enabled = $4,
			version = version + 1, updated_at = $5, updated_by = $6 WHERE id = $7 AND version = $8`,
			r.Threshold, r.ForMinutes, r.Severity, r.Enabled, db.Micros(s.clock.Now()), by.UserID, r.ID, r.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该告警规则已被他人修改，请刷新后重试")
		}
		return s.audit.Record(ctx, audit.Entry{ActorID: by.UserID, ActorLogin: by.Login, ActorRole: string(by.Role()),
			Action: "monitor.rule", ObjectType: "alert_rule", ObjectID: strconv.FormatInt(r.ID, 10),
			Reason: fmt.Sprintf("阈值 %v，持续 %d 分钟，级别 %s，启用 %v", r.Threshold, r.ForMinutes, r.Severity, r.Enabled)})
	})
}

// breaches reports whether v is beyond the rule's threshold.
func (r Rule) breaches(v float64) bool {
	if r.Op == "<" {
		return v < r.Threshold
	}
	return v > r.Threshold
}

// Evaluate checks every enabled rule at now: a rule whose metric has been
// beyond its threshold for its last ForMinutes minutes (the worst of the
// sources each minute, every minute present) fires — an alert, a fault
// record, a mail to the on-call list, the office banner; a firing rule
// whose newest minute is back within the threshold resolves. The durable
// job runs it once a minute; a second run in the same minute changes
// nothing (one firing alert per rule, by a unique index).
func (s *Service) Evaluate(ctx context.Context) error {
	rules, err := s.Rules(ctx)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		agg := "MAX"
		if r.Op == "<" {
			agg = "MIN"
		}
		// Minutes since now−(for+2): a sample lands a few seconds after its
		// minute ends.
		since := minuteOf(now.Add(-time.Duration(r.ForMinutes+2) * time.Minute))
		q := `SELECT minute, MAX(value) FROM monitor_samples WHERE metric = $1 AND minute >= $2 GROUP BY minute ORDER BY minute DESC`
		if agg == "MIN" {
			q = `SELECT minute, MIN(value) FROM monitor_samples WHERE metric = $1 AND minute >= $2 GROUP BY minute ORDER BY minute DESC`
		}
		vals, err := s.minuteValues(ctx, q, r.Metric, since)
		if err != nil {
			return err
		}
		firing, err := s.firing(ctx, r.ID)
		if err != nil {
			return err
		}
		breach := len(vals) >= r.ForMinutes
		for i := 0; breach && i < r.ForMinutes; i++ {
			breach = r.breaches(vals[i])
		}
		switch {
		case breach && firing == nil:
			if err := s.fire(ctx, r, vals[0], now); err != nil {
				return err
			}
		case firing != nil && len(vals) > 0 && !r.breaches(vals[0]):
			if err := s.resolve(ctx, r, firing, vals[0], now); err != nil {
				return err
			}
		}
	}
	s.bannerMu.Lock()
	s.bannerRead = time.Time{} // the banner reads again
	s.bannerMu.Unlock()
	return nil
}

// minuteValues runs q (metric, since) and returns its values, newest
// first.
func (s *Service) minuteValues(ctx context.Context, q, metric string, since int64) ([]float64, error) {
	rows, err := s.db.Query(ctx, q, metric, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vals []float64
	for rows.Next() {
		var m int64
		var v float64
		if err := rows.Scan(&m, &v); err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, rows.Err()
}

func (s *Service) firing(ctx context.Context, ruleID int64) (*Alert, error) {
	a := &Alert{}
	var started int64
	err := s.db.QueryRow(ctx, `SELECT id, value, started_at, fault_id FROM alerts WHERE rule_id = $1 AND state = 'firing'`, ruleID).
		Scan(&a.ID, &a.Value, &started, &a.FaultID)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.StartedAt = db.FromMicros(started)
	return a, nil
}

func (s *Service) fire(ctx context.Context, r Rule, v float64, now time.Time) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		at := db.Micros(now)
		var alertID int64
		err := s.db.QueryRow(ctx, `INSERT INTO alerts (rule_id, state, value, started_at) VALUES ($1, 'firing', $2, $3) RETURNING id`,
			r.ID, v, at).Scan(&alertID)
		if db.IsUniqueViolation(err) {
			return nil // another evaluation fired it this minute
		}
		if err != nil {
			return err
		}
		faultID, err := s.openFault(ctx, actor.Actor{}, r.Name, r.Severity, alertID, now,
			fmt.Sprintf("告警触发：%s（%s %s %v，当前值 %v，持续 %d 分钟）", r.Name, r.Metric, r.Op, r.Threshold, v, r.ForMinutes))
		if err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, `UPDATE alerts SET fault_id = $1 WHERE id = $2`, faultID, alertID); err != nil {
			return err
		}
		if err := s.audit.Record(ctx, audit.Entry{ActorLogin: "system", ActorRole: "system", Action: "monitor.alert",
			ObjectType: "alert", ObjectID: strconv.FormatInt(alertID, 10), Reason: fmt.Sprintf("%s：当前值 %v", r.Name, v)}); err != nil {
			return err
		}
		return s.mailOnCall(ctx, fmt.Sprintf("【%s告警】%s", SeverityNames[r.Severity], r.Name),
			fmt.Sprintf("北京市积分落户管理信息系统告警。\n\n告警：%s\n级别：%s\n指标：%s %s %v（持续 %d 分钟）\n当前值：%v\n开始时间：%s\n故障记录：%s/office/ops/faults/%d\n",
				r.Name, SeverityNames[r.Severity], r.Metric, r.Op, r.Threshold, r.ForMinutes, v,
				now.In(clock.Beijing).Format("2006-01-02 15:04"), s.OfficeURL, faultID),
			fmt.Sprintf("alert:%d", alertID))
	})
}

func (s *Service) resolve(ctx context.Context, r Rule, a *Alert, v float64, now time.Time) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := s.db.Exec(ctx, `UPDATE alerts SET state = 'resolved', resolved_at = $1 WHERE id = $2 AND state = 'firing'`, db.Micros(now), a.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		if a.FaultID != 0 {
			if err := s.addEvent(ctx, a.FaultID, actor.Actor{}, "resolved", fmt.Sprintf("告警恢复：当前值 %v", v), now); err != nil {
				return err
			}
			if _, err := s.db.Exec(ctx, `UPDATE faults SET ended_at = $1, updated_at = $1 WHERE id = $2 AND ended_at = 0`, db.Micros(now), a.FaultID); err != nil {
				return err
			}
		}
		return s.mailOnCall(ctx, "【告警恢复】"+r.Name,
			fmt.Sprintf("告警已恢复：%s\n当前值：%v\n恢复时间：%s\n请在故障记录中填写影响、原因和处理措施：%s/office/ops/faults/%d\n",
				r.Name, v, now.In(clock.Beijing).Format("2006-01-02 15:04"), s.OfficeURL, a.FaultID),
			fmt.Sprintf("alert-resolved:%d", a.ID))
	})
}

func (s *Service) mailOnCall(ctx context.Context, subject, text, key string) error {
	if s.outbox == nil {
		return nil
	}
	for _, to := range s.OnCall {
		if _, err := s.outbox.Enqueue(ctx, mail.Message{To: to, Subject: subject, Text: text, Category: "ops.alert",
			Ref: key, IdempotencyKey: key + ":" + to}); err != nil {
			return err
		}
	}
	return nil
}

// Alerts lists the firing alerts and the newest resolved ones.
func (s *Service) Alerts(ctx context.Context, limit int) ([]Alert, error) {
	rows, err := s.db.Query(ctx, `SELECT a.id, a.rule_id, r.name, r.severity, a.state, a.value, a.started_at, a.resolved_at, a.fault_id
		FROM alerts a JOIN alert_rules r ON r.id = a.rule_id ORDER BY CASE WHEN a.state = 'firing' THEN 0 ELSE 1 END, a.started_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var st, rs int64
		if err := rows.Scan(&a.ID, &a.RuleID, &a.Name, &a.Severity, &a.State, &a.Value, &st, &rs, &a.FaultID); err != nil {
			return nil, apperr.Wrap(err)
		}
		a.StartedAt = db.FromMicros(st)
		if rs != 0 {
			a.ResolvedAt = db.FromMicros(rs)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Wrap(err)
	}
	return out, nil
}

// Banner is what the office shows at the top of every page while alerts
// fire: their names, read at most every 15 seconds. A database that cannot
// be read gives no banner (the pages say so themselves).
func (s *Service) Banner(ctx context.Context) []string {
	s.bannerMu.Lock()
	defer s.bannerMu.Unlock()
	now := time.Now()
	if now.Sub(s.bannerRead) < 15*time.Second {
		return s.banner
	}
	s.bannerRead = now
	rows, err := s.db.Query(ctx, `SELECT r.name, r.severity FROM alerts a JOIN alert_rules r ON r.id = a.rule_id WHERE a.state = 'firing' ORDER BY a.started_at`)
	if err != nil {
		return s.banner
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, sev string
		if rows.Scan(&name, &sev) == nil {
			out = append(out, SeverityNames[sev]+"："+name)
		}
	}
	if rows.Err() != nil {
		return s.banner
	}
	s.banner = out
	return out
}
