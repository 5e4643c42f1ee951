package app

import (
	"context"
	"errors"

	"jifen/internal/check"
)

func (a *App) buildCheck() {
	a.Connectors = check.NewConnectors(a.DB, func(ctx context.Context, agency string) ([]byte, error) {
		key, err := a.AgencyOps.Key(ctx, agency)
		if err == nil && key == "" {
			err = errors.New("no signing key configured for " + agency)
		}
		return []byte(key), err
	})
	a.Check = check.New(a.DB, a.Keys, a.Connectors, a.Clock, a.Audit, a.Log, check.Owners{
		Applications: a.Cases.Applications, Discrepancies: a.Cases.Discrepancies, Employers: a.Cases.Employers}, a.Jobs)
	a.Check.PrecheckPerDay = a.Cfg.PrecheckPerDay
}
