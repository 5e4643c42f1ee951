package check

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"jifen/internal/actor"
	"jifen/internal/agency"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Run is one check run.
type Run struct {
	ID            int64
	RoundID       int64
	Year          int
	Scope         string // round | application | indicator (one check item; the stored value)
	ApplicationID int64
	Item          string // the one check item of an indicator run
	Mode          string // apply | preview
	Rulebook      string
	Status        string // running | ready | applying | applied | discarded
	Total         int64
	Batches       int
	Reason        string
	CreatedBy     int64
	CreatedAt     time.Time
	FinishedAt    time.Time
	DecidedBy     int64
	DecidedAt     time.Time
}

// RunStatusNames are the run states in Chinese.
var RunStatusNames = map[string]string{"running": "比对中", "ready": "待确认", "applying": "应用中", "applied": "已生效", "discarded": "已放弃"}

// ScopeNames are the run scopes in Chinese.
var ScopeNames = map[string]string{"round": "整批次", "application": "单个申请", "indicator": "单个比对事项"}

// Agencies returns the agencies a run asks.
func (r *Run) Agencies() []string {
	if r.Item == "" {
		return agency.PersonAgencies()
	}
	return agency.ItemAgencies(r.Item)
}

// Items returns the check items a run verifies (nil: all).
func (r *Run) Items() []string {
	if r.Item == "" {
		return nil
	}
	return []string{r.Item}
}

// RunInput starts a run.
type RunInput struct {
	RoundID       int64
	ApplicationID int64  // a run of one application
	Item          string // with ApplicationID or alone: only this check item
	Rulebook      string // "" = the round's
	Reason        string
}

// StartRun creates a run with its batches and jobs in one transaction. The
// first whole-round run of a round applies its scores as they come; every
// later run is a preview whose impact an officer sees before applying it.
// Only an actor allowed to run checks (check.run) may start one.
func (e *Engine) StartRun(ctx context.Context, by actor.Actor, in RunInput) (*Run, error) {
	if err := by.Require(actor.PermCheckRun); err != nil {
		return nil, err
	}
	run, err := e.newRun(ctx, by, in)
	if err != nil {
		return nil, err
	}
	err = e.db.WithTx(ctx, func(ctx context.Context) error {
		if err := e.refuseOverlap(ctx, in); err != nil {
			return err
		}
		if run.Mode, err = e.runMode(ctx, in, run.Scope); err != nil {
			return err
		}
		apps, err := e.checkable(ctx, in)
		if err != nil {
			return err
		}
		run.CreatedAt = db.FromMicros(db.Micros(e.clock.Now()))
		run.Total, run.Batches = int64(len(apps)), (len(apps)+e.BatchSize-1)/e.BatchSize
		if err := e.insertRun(ctx, run); err != nil {
			return err
		}
		if err := e.queueBatches(ctx, run, apps); err != nil {
			return err
		}
		// The filed applications enter the check, with a line in each one's
		// timeline, written by their owner.
		if _, err := e.own.Applications.EnterCheck(ctx, in.RoundID, in.ApplicationID); err != nil {
			return err
		}
		return e.audited(ctx, by, "check.run.start", "check_run", strconv.FormatInt(run.ID, 10),
			joinNonEmpty(ScopeNames[run.Scope]+itemSuffix(in.Item), fmt.Sprintf("%d件", len(apps)), in.Reason))
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// newRun validates the input and returns the run it asks for, not yet
// stored: round, rulebook, scope.
func (e *Engine) newRun(ctx context.Context, by actor.Actor, in RunInput) (*Run, error) {
	var year int
	var rulebook string
	err := e.db.QueryRow(ctx, `SELECT year, rulebook FROM rounds WHERE id = $1`, in.RoundID).Scan(&year, &rulebook)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.Field("round_id", "年度批次不存在")
	}
	if err != nil {
		return nil, err
	}
	if in.Rulebook != "" {
		if !slices.Contains(rules.Versions(), in.Rulebook) {
			return nil, apperr.Field("rulebook", "积分规则版本不存在")
		}
		rulebook = in.Rulebook
	}
	if in.Item != "" && len(agency.ItemAgencies(in.Item)) == 0 {
		return nil, apperr.Field("item", "比对项目不存在")
	}
	scope := "round"
	switch {
	case in.ApplicationID != 0 && in.Item != "":
		scope = "indicator"
	case in.ApplicationID != 0:
		scope = "application"
	case in.Item != "":
		scope = "indicator"
	}
	if len([]rune(in.Reason)) > 500 {
		return nil, apperr.Field("reason", "原因不超过500字")
	}
	return &Run{RoundID: in.RoundID, Year: year, Scope: scope, ApplicationID: in.ApplicationID, Item: in.Item,
		Rulebook: rulebook, Status: "running", Reason: in.Reason, CreatedBy: by.UserID}, nil
}

// refuseOverlap refuses a run while another of the same scope is running.
func (e *Engine) refuseOverlap(ctx context.Context, in RunInput) error {
	if err := e.refuseFrozen(ctx, in.RoundID); err != nil {
		return err
	}
	var running int
	if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM check_runs WHERE round_id = $1 AND status IN ('running', 'applying')
		AND application_id = $2`, in.RoundID, in.ApplicationID).Scan(&running); err != nil {
		return err
	}
	if running > 0 {
		return apperr.New(apperr.Conflict, "该范围已有比对正在进行，请等待其完成")
	}
	return nil
}

// runMode is "apply" for the first whole-round run of a round, "preview"
// for every other.
func (e *Engine) runMode(ctx context.Context, in RunInput, scope string) (string, error) {
	if scope != "round" || in.Item != "" {
		return "preview", nil
	}
	var applied int
	if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM check_runs WHERE round_id = $1 AND scope = 'round'
		AND status <> 'discarded'`, in.RoundID).Scan(&applied); err != nil {
		return "", err
	}
	if applied == 0 {
		return "apply", nil
	}
	return "preview", nil
}

// checkApp is an application a run checks, with its employer's district.
type checkApp struct {
	id       int64
	district string
}

// checkable returns the applications the run checks: filed and not final.
func (e *Engine) checkable(ctx context.Context, in RunInput) ([]checkApp, error) {
	var apps []checkApp
	if err := e.each(ctx, `SELECT a.id, e.district FROM applications a JOIN employers e ON e.id = a.employer_id
		WHERE a.round_id = $1 AND a.status IN ('submitted', 'checking', 'first_result', 'review_requested')
		AND (CAST($2 AS BIGINT) = 0 OR a.id = $2) ORDER BY a.id`, []any{in.RoundID, in.ApplicationID}, func(rows *sql.Rows) error {
		var a checkApp
		if err := rows.Scan(&a.id, &a.district); err != nil {
			return err
		}
		apps = append(apps, a)
		return nil
	}); err != nil {
		return nil, err
	}
	if len(apps) == 0 {
		if in.ApplicationID != 0 {
			return nil, apperr.Field("application_id", "该申请不在可比对的状态（需单位已提交且未终审）")
		}
		return nil, apperr.New(apperr.Conflict, "本批次没有待比对的申请")
	}
	return apps, nil
}

func (e *Engine) insertRun(ctx context.Context, run *Run) error {
	return e.db.QueryRow(ctx, `INSERT INTO check_runs (round_id, scope, application_id, item, mode, rulebook, status,
		total, batches, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $10, $11) RETURNING id`,
		run.RoundID, run.Scope, run.ApplicationID, run.Item, run.Mode, run.Rulebook, run.Total, run.Batches, run.Reason,
		run.CreatedBy, db.Micros(run.CreatedAt)).Scan(&run.ID)
}

// queueBatches writes the run's batches, its ledger of queries, and one
// query job per batch and agency.
func (e *Engine) queueBatches(ctx context.Context, run *Run, apps []checkApp) error {
	now := db.Micros(run.CreatedAt)
	agencies := run.Agencies()
	params := make([]river.InsertManyParams, 0, run.Batches*len(agencies))
	for b := range run.Batches {
		part := apps[b*e.BatchSize : min((b+1)*e.BatchSize, len(apps))]
		ids := make([]int64, len(part))
		districts := map[string]int{}
		for i, a := range part {
			ids[i] = a.id
			districts[a.district]++
		}
		idj, _ := json.Marshal(ids)
		dj, _ := json.Marshal(districts)
		if _, err := e.db.Exec(ctx, `INSERT INTO check_batches (run_id, batch_no, app_ids, size, districts, pending)
			VALUES ($1, $2, $3, $4, $5, $6)`, run.ID, b, string(idj), len(part), string(dj), len(agencies)); err != nil {
			return err
		}
		for _, ag := range agencies {
			if _, err := e.db.Exec(ctx, `INSERT INTO check_queries (run_id, batch_no, agency, created_at) VALUES ($1, $2, $3, $4)`,
				run.ID, b, ag, now); err != nil {
				return err
			}
			params = append(params, river.InsertManyParams{Args: queryArgs{Run: run.ID, Batch: b, Agency: ag}})
		}
	}
	return e.jobs.InsertMany(ctx, params)
}

const selectRun = `SELECT c.id, c.round_id, r.year, c.scope, c.application_id, c.item, c.mode, c.rulebook, c.status, c.total,
	c.batches, c.reason, c.created_by, c.created_at, c.finished_at, c.decided_by, c.decided_at
	FROM check_runs c JOIN rounds r ON r.id = c.round_id`

func scanRun(row interface{ Scan(...any) error }) (*Run, error) {
	var r Run
	var created, finished, decided int64
	if err := row.Scan(&r.ID, &r.RoundID, &r.Year, &r.Scope, &r.ApplicationID, &r.Item, &r.Mode, &r.Rulebook, &r.Status, &r.Total,
		&r.Batches, &r.Reason, &r.CreatedBy, &created, &finished, &r.DecidedBy, &decided); err != nil {
		return nil, err
	}
	r.CreatedAt, r.FinishedAt, r.DecidedAt = db.FromMicros(created), db.FromMicros(finished), db.FromMicros(decided)
	return &r, nil
}

// GetRun returns a run.
func (e *Engine) GetRun(ctx context.Context, id int64) (*Run, error) {
	r, err := scanRun(e.db.QueryRow(ctx, selectRun+` WHERE c.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "比对任务不存在")
	}
	return r, err
}

// Runs lists the runs of a round, newest first.
func (e *Engine) Runs(ctx context.Context, roundID int64, limit int) ([]*Run, error) {
	rows, err := e.db.Query(ctx, selectRun+` WHERE c.round_id = $1 ORDER BY c.id DESC LIMIT $2`, roundID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Apply makes a finished preview run take effect: its scores replace the
// applications' first-round results, batch by batch through the queue.
func (e *Engine) Apply(ctx context.Context, by actor.Actor, runID int64) error {
	if err := by.Require(actor.PermCheckRun); err != nil {
		return err
	}
	return e.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := e.GetRun(ctx, runID)
		if err != nil {
			return err
		}
		if r.Status != "ready" {
			return apperr.New(apperr.Conflict, "只有比对完成、待确认的任务可以应用（当前："+RunStatusNames[r.Status]+"）")
		}
		if err := e.refuseFrozen(ctx, r.RoundID); err != nil {
			return err
		}
		now := db.Micros(e.clock.Now())
		res, err := e.db.Exec(ctx, `UPDATE check_runs SET status = 'applying', decided_by = $1, decided_at = $2 WHERE id = $3 AND status = 'ready'`,
			by.UserID, now, runID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该任务已被他人处理")
		}
		params := make([]river.InsertManyParams, r.Batches)
		for b := range r.Batches {
			params[b] = river.InsertManyParams{Args: applyArgs{Run: runID, Batch: b}}
		}
		if err := e.jobs.InsertMany(ctx, params); err != nil {
			return err
		}
		return e.audited(ctx, by, "check.run.apply", "check_run", strconv.FormatInt(runID, 10), "")
	})
}

// Discard drops a preview run: nothing of it takes effect.
func (e *Engine) Discard(ctx context.Context, by actor.Actor, runID int64, reason string) error {
	if err := by.Require(actor.PermCheckRun); err != nil {
		return err
	}
	return e.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := e.db.Exec(ctx, `UPDATE check_runs SET status = 'discarded', decided_by = $1, decided_at = $2
			WHERE id = $3 AND mode = 'preview' AND status IN ('running', 'ready')`, by.UserID, db.Micros(e.clock.Now()), runID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "该任务不能放弃（只能放弃未应用的预览任务）")
		}
		// Its remaining jobs find the run discarded and end without asking
		// or writing anything.
		return e.audited(ctx, by, "check.run.discard", "check_run", strconv.FormatInt(runID, 10), reason)
	})
}

// StatusName is the run's state in Chinese.
func (r *Run) StatusName() string { return RunStatusNames[r.Status] }

// ScopeName is the run's scope in Chinese.
func (r *Run) ScopeName() string { return ScopeNames[r.Scope] }

// ItemName is the Chinese name of the run's one check item ("" for all).
func (r *Run) ItemName() string { return rules.CheckItemName(r.Item) }

// Percent is how much of n is done, for progress bars.
func Percent(done, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return done * 100 / total
}

// joinNonEmpty joins the parts of a sentence with "，", leaving out the
// empty ones (no "整批次 ，1247件，").
func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "，")
}

func itemSuffix(item string) string {
	if item == "" {
		return ""
	}
	return "（" + rules.CheckItemName(item) + "）"
}

// refuseFrozen refuses a run, or applying one, on a frozen round: its
// scores may no longer change (the application package refuses the write
// too; this says so before any work is queued).
func (e *Engine) refuseFrozen(ctx context.Context, roundID int64) error {
	var frozen int64
	var year int
	if err := e.db.QueryRow(ctx, `SELECT frozen_at, year FROM rounds WHERE id = $1`, roundID).Scan(&frozen, &year); err != nil {
		if db.IsNoRows(err) {
			return nil // the run's own checks answer an unknown round
		}
		return err
	}
	if frozen != 0 {
		return apperr.New(apperr.Conflict, fmt.Sprintf("%d年度批次已冻结，不能再比对或应用比对结果", year))
	}
	return nil
}
