package app

import (
	"context"
	"io"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/clock"
	"jifen/internal/round"
	"jifen/internal/rules"
	"jifen/internal/synth"
)

// Synth generates a population into the round r, hashing the shared
// synthetic password once.
func (a *App) Synth(ctx context.Context, r *round.Round, people, employers int, seed uint64, disc float64, progress io.Writer) (synth.Result, error) {
	return a.SynthWith(ctx, r, synth.Config{People: people, Employers: employers, Seed: seed, Discrepancy: disc, Progress: progress})
}

// SynthWith generates the population cfg describes into round r (cfg's
// round, year, password hash and time are set here).
func (a *App) SynthWith(ctx context.Context, r *round.Round, cfg synth.Config) (synth.Result, error) {
	hash, err := a.Accounts.Hasher().Hash(ctx, synth.Password)
	if err != nil {
		return synth.Result{}, err
	}
	cfg.RoundID, cfg.Year, cfg.PasswordHash, cfg.Now = r.ID, r.Year, hash, a.Clock.Now()
	return synth.New(a.DB, a.Keys, cfg).Run(ctx)
}

// EnsureRound returns the round of year, creating it with the default
// calendar when it does not exist. With year 0 it takes the current round,
// or this year's. With openNow (the demo) a new round's first three windows
// are open now, so the demo can be used at once.
func (a *App) EnsureRound(ctx context.Context, year int, openNow bool) (*round.Round, error) {
	now := a.Clock.Now()
	if year == 0 {
		if r, err := a.Rounds.Current(ctx); err == nil {
			return r, nil
		}
		year = now.In(clock.Beijing).Year()
	}
	if r, err := a.Rounds.ByYear(ctx, year); err == nil {
		return r, nil
	} else if !round.IsNotFound(err) {
		return nil, err
	}
	in, err := a.Rounds.Draft(ctx)
	if err != nil {
		return nil, err
	}
	book, err := rules.ForYear(year)
	if err != nil {
		return nil, err
	}
	in.Year, in.Rulebook, in.OtherRulebook = year, book.Version(), false
	in.Windows = round.DefaultWindows(year)
	if openNow {
		in.Windows = demoWindows(now)
	}
	return a.Rounds.Create(ctx, actor.SystemActor("setup"), in)
}

// demoWindows puts a round's procedure around now: registration, filling in
// and employer submission open, the later steps in the weeks after.
func demoWindows(now time.Time) []round.Window {
	day := 24 * time.Hour
	start := now.Add(-30 * day).Truncate(time.Hour)
	w := func(k round.Kind, from, to time.Duration) round.Window {
		return round.Window{Kind: k, OpensAt: start.Add(from), ClosesAt: start.Add(to)}
	}
	return []round.Window{
		w(round.EmployerRegistration, 0, 120*day), w(round.Application, 1*day, 120*day),
		w(round.EmployerSubmission, 1*day, 125*day), w(round.Crosscheck, 126*day, 160*day),
		w(round.ResultViewing, 161*day, 175*day), w(round.Review, 161*day, 175*day),
		w(round.Publication, 190*day, 300*day), w(round.PublicNotice, 190*day, 197*day), w(round.Settlement, 200*day, 300*day),
	}
}
