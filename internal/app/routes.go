package app

import (
	"sync"

	"jifen/internal/platform/web"
)

// routeTable keeps the route patterns of each listener's mux as built.
type routeTable struct {
	mu sync.Mutex
	m  map[string][]string
}

func (a *App) rememberRoutes(surface string, mux *web.Mux) {
	a.routes.mu.Lock()
	defer a.routes.mu.Unlock()
	if a.routes.m == nil {
		a.routes.m = map[string][]string{}
	}
	a.routes.m[surface] = mux.Patterns()
}

// Routes returns the route patterns served on a listener ("internet" or
// "office") once its handler is built: the route table from which the
// authorization and bad-input tests derive their cases, so a new route
// without an entry there fails them.
func (a *App) Routes(surface string) []string {
	a.routes.mu.Lock()
	defer a.routes.mu.Unlock()
	return append([]string(nil), a.routes.m[surface]...)
}
