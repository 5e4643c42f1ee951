package app

import (
	"context"
	"fmt"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/web"
	"jifen/internal/publicity"
	"jifen/internal/ranking"
	"jifen/internal/review"
	"jifen/internal/rules"
)

// boardReloadInterval is how often every process reloads the public board
// (the in-memory lists of internal/publicity): another process may have
// published or imported a list. A reload that finds nothing new costs two
// counts.
const boardReloadInterval = 30 * time.Second

// buildPublicity builds the public board and the publisher.
func (a *App) buildPublicity() {
	a.Board = publicity.NewBoard(a.DB, a.Clock)
	a.PastLists.WithBoard(a.Board)
	if a.Cfg.PublicRate > 0 {
		a.publicLimiter = web.NewLimiter(a.Cfg.PublicRate, max(1, int(2*a.Cfg.PublicRate)))
	}
	a.Publisher = publicity.NewPublisher(a.DB, a.Audit, a.Clock, a.Rounds, a.Ranking, a.breakdown, a.Board)
}

// publicNumber is the 公示编号 of a person's application in year's current
// committed ranking.
func (a *App) publicNumber(ctx context.Context, personID int64, year int) (string, error) {
	r, err := a.Rounds.ByYear(ctx, year)
	if err != nil {
		return "", err
	}
	app, err := a.Cases.Applications.ForPerson(ctx, personID, r.ID)
	if err != nil {
		return "", err
	}
	st, err := a.standing(ctx, app.ID)
	if err != nil {
		return "", err
	}
	if st == nil || st.PublicityNo == "" {
		return "", apperr.New(apperr.NotFound, "您不在该年度公示名单中，没有回执")
	}
	return st.PublicityNo, nil
}

// standing is a published application's place in the ranking its round
// published last; nil before the list's notice period begins.
func (a *App) standing(ctx context.Context, appID int64) (*ranking.Standing, error) {
	var roundID int64
	if err := a.DB.QueryRow(ctx, `SELECT round_id FROM applications WHERE id = $1`, appID).Scan(&roundID); err != nil {
		return nil, apperr.Wrap(err)
	}
	pubs, err := a.Publisher.Publications(ctx, roundID)
	if err != nil || len(pubs) == 0 {
		return nil, err
	}
	// The version the public sees now: a correction counts from its start.
	s, ok := a.Board.Current(pubs[0].Year)
	if !ok || !s.Published {
		return nil, nil // the notice period has not begun
	}
	for _, p := range pubs {
		if p.Version == s.Version {
			return a.Ranking.StandingIn(ctx, p.RankingID, appID)
		}
	}
	return nil, nil
}

// breakdown is the ten indicator values of an application's final score:
// those of an approved 复查 score change, else those of the cross-check's
// statement; nil when neither exists (a published row with its total only).
func (a *App) breakdown(ctx context.Context, id int64) ([]rules.Points, error) {
	if vals, ok, err := a.Cases.Review.ApprovedBreakdown(ctx, id); err != nil || ok {
		return vals, err
	}
	st, err := a.Check.StatementOf(ctx, id)
	if err != nil || st == nil {
		return nil, err
	}
	return review.Values(st.Result), nil
}

// runBoardReloader loads the board at start and every boardReloadInterval
// until ctx ends. Like runAccessFlusher it is the process's own state (the
// lists it serves from memory), not durable work. A failed reload — the
// database down — keeps the lists served and is logged once per failure.
func (a *App) runBoardReloader(ctx context.Context) {
	t := time.NewTicker(boardReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Board.Reload(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("public board: reload failed; serving the lists already loaded", "err", err)
			}
		}
	}
}

// objectionCases returns the case of an upheld objection to case handling
// (objection.Cases): the application holding the 公示编号 in the round's
// current committed ranking goes back to the district's 复查 queue, and the
// round's freeze is asked to be lifted through the formal reopening (a
// second city officer approves it; until then no score can change). A
// reopening already pending, or a round already reopened, serves.
type objectionCases struct{ a *App }

func (c objectionCases) ReturnForObjection(ctx context.Context, by actor.Actor, year int, number, receipt, reason string) error {
	a := c.a
	r, err := a.Rounds.ByYear(ctx, year)
	if err != nil {
		return err
	}
	appID, ok, err := a.Ranking.ApplicationOf(ctx, r.ID, number)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.New(apperr.Conflict, fmt.Sprintf("公示编号 %s 不在%d年度当前确认的排名中", number, year))
	}
	text := fmt.Sprintf("公示异议（回执 %s）成立：%s", receipt, reason)
	if err := a.Cases.Applications.ReturnForObjection(ctx, by, appID, text); err != nil {
		return err
	}
	if err := a.Cases.Review.ReopenForObjection(ctx, by, appID, text); err != nil {
		return err
	}
	cur, err := a.Rounds.Lock(ctx, r.ID)
	if err != nil {
		return err
	}
	if !cur.Frozen() {
		return nil // already reopened: the case joins the correction under way
	}
	ros, err := a.Rounds.Reopenings(ctx, r.ID)
	if err != nil {
		return err
	}
	for _, ro := range ros {
		if ro.Status == "pending" {
			return nil // one request serves every upheld objection
		}
	}
	// Asked here, not left to the officer, so an upheld objection never
	// waits on someone remembering; a failure rolls the answer back.
	_, err = a.Rounds.RequestReopening(ctx, by, r.ID, text)
	return err
}
