package app

import (
	"context"
	"time"

	"jifen/internal/stats"
)

// statsRefreshInterval is how often a process brings its statistics cube
// up to date when nobody asks: the first query after a quiet spell then
// finds it fresh.
const statsRefreshInterval = time.Minute

// buildStats builds the statistics over the database.
func (a *App) buildStats() {
	a.Stats = stats.New(a.DB, a.Audit, a.Clock)
}

// runStatsRefresher keeps the cube fresh in the background of an office
// listener; like runBoardReloader it is the process's own memory, not
// durable work. A failed refresh is logged; queries then try again.
func (a *App) runStatsRefresher(ctx context.Context) {
	// The first load of a large population takes seconds: done here, the
	// first officer to ask does not wait for it.
	if err := a.Stats.Cube.Refresh(ctx, false); err != nil && ctx.Err() == nil {
		a.Log.Warn("statistics: first load failed; queries try again", "err", err)
	}
	t := time.NewTicker(statsRefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Stats.Cube.Refresh(ctx, false); err != nil && ctx.Err() == nil {
				a.Log.Warn("statistics: refresh failed", "err", err)
			}
		}
	}
}
