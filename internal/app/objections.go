package app

import (
	"path/filepath"

	"jifen/internal/objection"
	"jifen/internal/platform/blob"
)

// buildObjections makes the objections service (异议/举报) with its own
// blob store: the applications' sweep removes every file no attachment row
// names, so objections' files live apart. What is published comes from the
// public board; an upheld objection's case goes back through
// objectionCases (publicity.go). buildPublicity runs first.
func (a *App) buildObjections() error {
	store, err := blob.NewDir(filepath.Join(a.Cfg.DataDir, "objections"))
	if err != nil {
		return err
	}
	a.Objections = objection.New(a.DB, a.Audit, a.Clock, a.Keys, store, a.Board, objectionCases{a})
	return nil
}
