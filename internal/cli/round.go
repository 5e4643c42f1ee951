package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"

	"jifen/internal/actor"
	"jifen/internal/app"
	"jifen/internal/ranking"
	"jifen/internal/round"
)

const roundUsage = `Usage:
  jifen round list
  jifen round freeze --year Y [--as LOGIN]
  jifen round rank   --year Y [--quota N] [--what-if] [--commit] [--as LOGIN]
rank prints JSON: the cutoff, the number qualified and ranked, and the score
distribution. --what-if (the default) stores nothing and works on a frozen or
a not-yet-frozen round; --commit ranks the frozen round and commits the
ranking, which can then never change.`

// runRound lists, freezes and ranks annual rounds from the console. Without
// --as the console operator acts (audited as cli:<os user>); with it, the
// named city officer does, with the officer's rights.
func runRound(ctx context.Context, env Env, args []string) error {
	name, err := actionOf(env, args, roundUsage, "list", "freeze", "rank")
	if err != nil {
		return err
	}
	fs := flags("round "+name, env, operatorConfig)
	year := fs.Int("year", 0, "the round's year")
	as := fs.String("as", "", "login of the city officer acting (default: the console operator)")
	quota := fs.Int("quota", 0, "rank: the quota (default: the round's)")
	whatIf := fs.Bool("what-if", false, "rank: compute only, store nothing (the default)")
	commit := fs.Bool("commit", false, "rank: rank the frozen round and commit the ranking")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if name != "list" && *year == 0 {
		return errors.New("--year is required")
	}
	if *whatIf && *commit {
		return errors.New("--what-if and --commit exclude each other")
	}
	if *quota < 0 {
		return errors.New("--quota must be a positive number")
	}
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		by, err := roundActor(ctx, a, *as)
		if err != nil {
			return err
		}
		ctx = actor.With(ctx, by)
		if name == "list" {
			return roundList(ctx, env, a)
		}
		r, err := a.Rounds.ByYear(ctx, *year)
		if err != nil {
			return err
		}
		switch name {
		case "freeze":
			r, err = a.Rounds.Freeze(ctx, by, r.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%d: frozen at %s\n", r.Year, round.BeijingTime(r.FrozenAt))
			return nil
		}
		out := json.NewEncoder(env.Stdout)
		out.SetIndent("", "  ")
		if !*commit {
			o, err := a.Ranking.WhatIf(ctx, by, r.ID, *quota)
			if err != nil {
				return err
			}
			return out.Encode(o)
		}
		if _, err := a.Ranking.Prepare(ctx, by, r.ID, *quota); err != nil {
			return err
		}
		s, err := a.Ranking.Commit(ctx, by, r.ID)
		if err != nil {
			return err
		}
		o, err := a.Ranking.WhatIf(ctx, by, r.ID, s.Quota)
		if err != nil {
			return err
		}
		return out.Encode(struct {
			*ranking.Outcome
			Committed *ranking.Summary `json:"committed"`
		}{o, s})
	})
}

// roundActor is who acts: the named staff account, or the console.
func roundActor(ctx context.Context, a *app.App, login string) (actor.Actor, error) {
	if login == "" {
		name := "unknown"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		by := actor.SystemActor("cli")
		by.Login = "cli:" + name
		return by, nil
	}
	u, err := a.Accounts.UserByLogin(ctx, login)
	if err != nil {
		return actor.Actor{}, fmt.Errorf("--as %s: %w", login, err)
	}
	return u.ActorAt("local", ""), nil
}

func roundList(ctx context.Context, env Env, a *app.App) error {
	rs, err := a.Rounds.List(ctx)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		fmt.Fprintln(env.Stdout, "no rounds")
		return nil
	}
	for _, r := range rs {
		status := "open"
		now := a.Clock.Now()
		switch {
		case r.Frozen():
			status = "frozen " + round.BeijingTime(r.FrozenAt)
		case !r.Started(now):
			status = "scheduled"
		}
		if done, err := a.Ranking.HasCommitted(ctx, r.ID); err != nil {
			return err
		} else if done {
			status = "ranked"
		}
		fmt.Fprintf(env.Stdout, "%d  quota %-6d rulebook %-5s %s\n", r.Year, r.Quota, r.Rulebook, status)
	}
	return nil
}
