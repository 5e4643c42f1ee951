package cli

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"jifen/internal/check"
	"jifen/internal/platform/db"
)

// runCheck drives the cross-check from the command line: point the
// connectors at the agencies, start a run, work the queue, show progress.
func runCheck(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: jifen check connect|start|work|status [flags]")
	}
	fs := flags("check "+args[0], env)
	baseURL := fs.String("base-url", "", "connect: the agencies' base URL, e.g. http://127.0.0.1:9300")
	key := fs.String("agency-key", "", "connect: the shared signing key (env JIFEN_AGENCY_KEY)")
	rate := fs.Int("rate", 0, "connect: calls per second allowed per agency (0: keep)")
	batch := fs.Int("batch", 0, "connect: subjects per call, 1–500 (0: keep)")
	year := fs.Int("year", 0, "start: the round's year (default: the current round)")
	item := fs.String("item", "", "start: only this check item")
	appID := fs.Int64("application", 0, "start: only this application")
	rulebook := fs.String("rulebook", "", "start: score under this rulebook version")
	reason := fs.String("reason", "", "start: why")
	runID := fs.Int64("run", 0, "work/status: the run; work exits when it is done")
	workers := fs.Int("workers", 16, "work: jobs worked on at once")
	batchApps := fs.Int("batch-apps", 250, "start: applications per job")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, env)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, env)
	if err != nil {
		return err
	}
	defer a.DB.Close()
	ctx = cliActor(ctx)
	switch args[0] {
	case "connect":
		if *key == "" {
			*key = env.Getenv("JIFEN_AGENCY_KEY")
		}
		if *baseURL == "" || len(*key) < 16 {
			return errors.New("--base-url and --agency-key (16+ characters) are required")
		}
		if *batch < 0 || *batch > 500 || *rate < 0 {
			return errors.New("--batch 1–500, --rate > 0")
		}
		if err := check.PointAll(ctx, a.DB, a.Keys, *baseURL, *key, *rate, *batch, db.Micros(a.Clock.Now())); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "every agency's connector now points at %s\n", *baseURL)
	case "start":
		r, err := a.EnsureRound(ctx, *year, false)
		if err != nil {
			return err
		}
		a.Check.BatchSize = *batchApps
		run, err := a.Check.StartRun(ctx, check.Actor{Login: "cli", Role: "system"}, check.RunInput{RoundID: r.ID, ApplicationID: *appID,
			Item: *item, Rulebook: *rulebook, Reason: *reason})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "run %d: %s, %d applications in %d batches, %s\n", run.ID, run.ScopeName(), run.Total, run.Batches, run.Mode)
	case "work":
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		a.Check.Workers = *workers
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
			t0 := time.Now()
			p, err := a.Check.Progress(ctx, *runID)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%6.0fs run %d %s: %d/%d checked, %d waiting for an agency, %d failed (progress read in %s)\n", time.Since(start).Seconds(), p.Run.ID,
				p.Run.Status, p.Checked, p.Run.Total, p.Waiting, p.Failed, time.Since(t0).Round(100*time.Microsecond))
			if p.Run.Status == "applied" || p.Run.Status == "ready" || p.Run.Status == "discarded" {
				cancel()
				<-done
				fmt.Fprintf(env.Stdout, "run %d %s in %s\n", p.Run.ID, p.Run.Status, time.Since(start).Truncate(time.Second))
				return nil
			}
		}
	case "status":
		p, err := a.Check.Progress(ctx, *runID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "run %d %s: %d/%d checked, %d pending, %d waiting for an agency, %d failed\n", p.Run.ID, p.Run.Status, p.Checked, p.Run.Total, p.Pending, p.Waiting, p.Failed)
		for _, ag := range p.Agencies {
			fmt.Fprintf(env.Stdout, "  %-22s done %d pending %d waiting %d failed %d %s\n", ag.Agency, ag.Done, ag.Pending, ag.Waiting, ag.Failed, ag.LastError)
		}
		if p.Run.Status == "ready" {
			t0 := time.Now()
			im, err := a.Check.Impact(ctx, *runID)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "impact if applied: %d of %d scores change (%d up, %d down), %d eligibility changes (computed in %s)\n",
				im.Changed, im.Scored, im.Up, im.Down, im.Eligibility, time.Since(t0).Round(time.Millisecond))
		}
	default:
		return errors.New("usage: jifen check connect|start|work|status [flags]")
	}
	return nil
}
