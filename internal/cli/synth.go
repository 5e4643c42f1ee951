package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"jifen/internal/app"
	"jifen/internal/synth"
)

func runSynth(ctx context.Context, env Env, args []string) error {
	fs := flags("synth", env, operatorConfig)
	people := fs.Int("people", 2000, "number of applicants")
	employers := fs.Int("employers", 500, "number of employers")
	seed := fs.Uint64("seed", 1, "seed: the same seed gives the same population")
	disc := fs.Float64("discrepancy", 0.05, "share of applications that misstate one indicator")
	year := fs.Int("year", 0, "round year (default: the current round, else this year's)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	open := fs.Bool("open", false, "if the round must be created, open its registration, filling-in and submission windows now")
	final := fs.Bool("final", false, "make every filed application final with its verified score: the round is ready to freeze and rank")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *people < 0 || *employers <= 0 || *disc < 0 || *disc > 1 {
		return errors.New("--people ≥ 0, --employers > 0 and 0 ≤ --discrepancy ≤ 1")
	}
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		r, err := a.EnsureRound(ctx, *year, *open)
		if err != nil {
			return err
		}
		progress := io.Writer(env.Stderr)
		if *quiet {
			progress = nil
		}
		res, err := a.SynthWith(ctx, r, synth.Config{People: *people, Employers: *employers, Seed: *seed, Discrepancy: *disc,
			Progress: progress, ReadyToRank: *final})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "round %d: %d employers (%d operators), %d applicants, %d links, %d applications, %d events, %d agency records in %s\n",
			r.Year, res.Employers, res.Operators, res.People, res.Links, res.Applications, res.Events, res.AgencyRecords,
			res.Elapsed.Truncate(time.Millisecond))
		fmt.Fprintf(env.Stdout, "every synthetic account has the password %s (applicants p<id>, operators e<id>)\n", synth.Password)
		return nil
	})
}
