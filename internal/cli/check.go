package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"jifen/internal/agency"
	"jifen/internal/agencyops"
	"jifen/internal/app"
	"jifen/internal/check"
)

const checkUsage = `Usage:
  jifen check connect --base-url URL --agency-key KEY [--rate N] [--batch N]
  jifen check start   --as LOGIN [--year Y] [--item CODE] [--application ID] [--rulebook V] [--reason R] [--batch-apps N]
  jifen check work    [--run ID] [--workers N]
  jifen check status  --run ID
Run 'jifen check ACTION -h' for the flags of one action.`

// checkAction is one action of jifen check. Its flags are registered on the
// action's own flag set; valid checks them before anything is opened; run
// does the work on the opened application.
type checkAction struct {
	valid func() error
	run   func(ctx context.Context, a *app.App) error
}

// runCheck drives the cross-check from the command line: point the
// connectors at the agencies, start a run, work the queue, show progress.
func runCheck(ctx context.Context, env Env, args []string) error {
	name, err := actionOf(env, args, checkUsage, "connect", "start", "work", "status")
	if err != nil {
		return err
	}
	fs := flags("check "+name, env, operatorConfig)
	act := map[string]func(*flag.FlagSet, Env) checkAction{
		"connect": checkConnect, "start": checkStart, "work": checkWork, "status": checkStatus,
	}[name](fs, env)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if act.valid != nil {
		if err := act.valid(); err != nil {
			return err
		}
	}
	return withApp(ctx, env, fs, act.run)
}

// checkConnect points every agency's connector at one base URL with one key.
func checkConnect(fs *flag.FlagSet, env Env) checkAction {
	baseURL := fs.String("base-url", "", "the agencies' base URL, e.g. http://127.0.0.1:9300")
	key := fs.String("agency-key", "", "the shared signing key (env JIFEN_AGENCY_KEY)")
	rate := fs.Int("rate", 0, "calls per second allowed per agency (0: keep)")
	batch := fs.Int("batch", 0, "subjects per call, 1–500 (0: keep)")
	return checkAction{
		valid: func() error {
			if *key == "" {
				*key = env.Getenv("JIFEN_AGENCY_KEY")
			}
			if *baseURL == "" || len(*key) < 16 {
				return errors.New("--base-url and --agency-key (16+ characters) are required")
			}
			if *batch < 0 || *batch > agency.MaxBatch || *rate < 0 {
				return errors.New("--batch 1–500, --rate > 0")
			}
			return nil
		},
		run: func(ctx context.Context, a *app.App) error {
			if err := agencyops.NewStore(a.DB).PointAll(ctx, a.Keys, *baseURL, *key, *rate, *batch, a.Clock.Now()); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "every agency's connector now points at %s\n", *baseURL)
			return nil
		},
	}
}

// checkStart starts a run: the whole round, one application or one item.
func checkStart(fs *flag.FlagSet, env Env) checkAction {
	year := fs.Int("year", 0, "the round's year (default: the current round)")
	item := fs.String("item", "", "only this check item")
	appID := fs.Int64("application", 0, "only this application")
	rulebook := fs.String("rulebook", "", "score under this rulebook version")
	reason := fs.String("reason", "", "why")
	batchApps := fs.Int("batch-apps", 250, "applications per job")
	as := fs.String("as", "", "login of the staff account starting the run; it needs the right to run checks (a city officer)")
	valid := func() error {
		if *as == "" {
			return errors.New("--as LOGIN is required: the run is started, and audited, as that staff account")
		}
		return nil
	}
	return checkAction{valid: valid, run: func(ctx context.Context, a *app.App) error {
		u, err := a.Accounts.UserByLogin(ctx, *as)
		if err != nil {
			return fmt.Errorf("--as %s: %w", *as, err)
		}
		r, err := a.EnsureRound(ctx, *year, false)
		if err != nil {
			return err
		}
		a.Check.BatchSize = *batchApps
		run, err := a.Check.StartRun(ctx, u.ActorAt("local", ""), check.RunInput{RoundID: r.ID, ApplicationID: *appID,
			Item: *item, Rulebook: *rulebook, Reason: *reason})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "run %d: %s, %d applications in %d batches, %s\n", run.ID, run.ScopeName(), run.Total, run.Batches, run.Mode)
		return nil
	}}
}

// checkWork works the queue until interrupted, or until the run given is
// done, printing its progress every five seconds.
func checkWork(fs *flag.FlagSet, env Env) checkAction {
	runID := fs.Int64("run", 0, "the run; work exits when it is done")
	workers := fs.Int("workers", 8, "queries to each agency worked on at once, and batches scored at once")
	return checkAction{run: func(ctx context.Context, a *app.App) error {
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		a.Check.SetWorkers(*workers)
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan struct{})
		go func() { a.Check.Work(wctx); close(done) }()
		start := time.Now()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				cancel()
				<-done
				return nil
			case <-t.C:
			}
			if *runID == 0 {
				continue
			}
			p, err := printWorkProgress(ctx, env.Stdout, a.Check, *runID, start)
			if err != nil {
				return err
			}
			if s := p.Run.Status; s == "applied" || s == "ready" || s == "discarded" {
				cancel()
				<-done
				fmt.Fprintf(env.Stdout, "run %d %s in %s\n", p.Run.ID, s, time.Since(start).Truncate(time.Second))
				return nil
			}
		}
	}}
}

// printWorkProgress reads a run's progress and prints it on one line, with
// the time since start and the time the reading took.
func printWorkProgress(ctx context.Context, w io.Writer, e *check.Engine, runID int64, start time.Time) (*check.Progress, error) {
	t0 := time.Now()
	p, err := e.Progress(ctx, runID)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "%6.0fs run %d %s: %d/%d checked, %d waiting for an agency, %d failed (progress read in %s)\n", time.Since(start).Seconds(), p.Run.ID,
		p.Run.Status, p.Checked, p.Run.Total, p.Waiting, p.Failed, time.Since(t0).Round(100*time.Microsecond))
	return p, nil
}

// checkStatus prints a run's progress per agency and, once it is ready, the
// impact of applying it.
func checkStatus(fs *flag.FlagSet, env Env) checkAction {
	runID := fs.Int64("run", 0, "the run")
	return checkAction{run: func(ctx context.Context, a *app.App) error {
		p, err := a.Check.Progress(ctx, *runID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "run %d %s: %d/%d checked, %d pending, %d waiting for an agency, %d failed\n", p.Run.ID, p.Run.Status, p.Checked, p.Run.Total, p.Pending, p.Waiting, p.Failed)
		for _, ag := range p.Agencies {
			fmt.Fprintf(env.Stdout, "  %-22s done %d pending %d waiting %d failed %d %s\n", ag.Agency, ag.Done, ag.Pending, ag.Waiting, ag.Failed, ag.LastError)
		}
		if p.Run.Status != "ready" {
			return nil
		}
		t0 := time.Now()
		im, err := a.Check.Impact(ctx, *runID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "impact if applied: %d of %d scores change (%d up, %d down), %d eligibility changes (computed in %s)\n",
			im.Changed, im.Scored, im.Up, im.Down, im.Eligibility, time.Since(t0).Round(time.Millisecond))
		return nil
	}}
}
