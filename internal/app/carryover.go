package app

import (
	"net/http"
	"strconv"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/surface/shell"
)

// Carry-over between rounds (issue 17, item 2; internal/application
// carryover.go). The trigger is an office action of the city officers who
// manage rounds, on the rounds page ("从上一年度带入申请"): it inserts the
// durable job, once per round at a time. It is not started automatically
// when the application window opens, so that the office decides when the
// earlier rounds are final enough to carry.

// buildCarryOver registers the carry-over job.
func (a *App) buildCarryOver() {
	a.Cases.Applications.RegisterCarryOver(a.Jobs)
}

// carryOverRoutes adds the office action to mux.
func (a *App) carryOverRoutes(sh *shell.Shell, mux *web.Mux) {
	mux.Handle("POST /office/rounds/{id}/carry-over", sh.RequireUser(account.PermRoundsManage, func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			web.WriteError(w, r, apperr.New(apperr.NotFound, "申请年度不存在"))
			return
		}
		if _, err := a.Rounds.Get(r.Context(), id); err != nil {
			web.WriteError(w, r, err)
			return
		}
		if _, err := a.Cases.Applications.StartCarryOver(r.Context(), shell.Actor(r.Context()), id); err != nil {
			web.WriteError(w, r, err)
			return
		}
		sh.Flash(w, r, "/office/rounds", "carry_over")
	}))
}
