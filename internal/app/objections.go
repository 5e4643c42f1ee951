package app

import (
	"context"
	"path/filepath"
	"time"

	"jifen/internal/actor"
	"jifen/internal/objection"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
)

// buildObjections makes the objections service (异议/举报) with its own
// blob store: the applications' sweep removes every file no attachment row
// names, so objections' files live apart.
func (a *App) buildObjections() error {
	store, err := blob.NewDir(filepath.Join(a.Cfg.DataDir, "objections"))
	if err != nil {
		return err
	}
	a.Objections = objection.New(a.DB, a.Audit, a.Clock, a.Keys, store, noLists{}, noCases{})
	return nil
}

// noLists and noCases stand in for the publicity snapshot store and the
// case reopening until they are merged: replaced by the publicity store
// when merged. No list is published, so every objection is refused, and no
// case can be sent back.
type noLists struct{}

func (noLists) Notice(int) (time.Time, time.Time, bool) { return time.Time{}, time.Time{}, false }
func (noLists) Has(int, string) bool                    { return false }

type noCases struct{}

func (noCases) ReturnForObjection(context.Context, actor.Actor, int, string, string, string) error {
	return apperr.New(apperr.Conflict, "公示系统尚未接入")
}
