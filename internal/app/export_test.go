package app

import (
	"context"
	"fmt"
)

// RunSchedule runs one of the worker's schedules once, for tests.
func (a *App) RunSchedule(ctx context.Context, name string) error {
	for _, s := range a.schedules() {
		if s.name == name {
			return s.run(ctx)
		}
	}
	return fmt.Errorf("no schedule %q", name)
}
