package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"jifen/internal/app"
	"jifen/internal/loadtest"
)

const loadtestUsage = `Usage:
  jifen loadtest prepare --state FILE [--users 200] [--staff 2] [--year Y]
      read the synthetic population of the database (jifen synth) and create
      staff accounts for the load test; write who the test acts as to FILE
      (it holds passwords: a load-test environment only)
  jifen loadtest --state FILE --internet URL --office URL [--scale 1] [--duration 60s]
                 [--out FILE.json] [--markdown FILE.md] [--users 200] [--ops a,b]
      run the mixed workload (docs/loadtest.md) at a fixed arrival rate:
      scale 1 is the procurement's 100 requests/s from the internet and 55/s
      from the government network. Exits 1 when any request failed.`

func runLoadtest(ctx context.Context, env Env, args []string) error {
	if len(args) > 0 && args[0] == "prepare" {
		return loadtestPrepare(ctx, env, args[1:])
	}
	fs := flag.NewFlagSet("jifen loadtest", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprintln(env.Stderr, loadtestUsage) }
	state := fs.String("state", "", "the state file jifen loadtest prepare wrote")
	internet := fs.String("internet", "", "the internet listener, e.g. http://127.0.0.1:8080")
	office := fs.String("office", "", "the government network listener, e.g. http://127.0.0.1:8081")
	scale := fs.Float64("scale", 1, "multiple of the procurement's rates (100 + 55 requests/s)")
	dur := fs.Duration("duration", time.Minute, "how long to send requests")
	out := fs.String("out", "", "write the report as JSON to this file")
	md := fs.String("markdown", "", "write the report as Markdown to this file (default: standard output)")
	users := fs.Int("users", 200, "accounts of each kind to log in before the run")
	seed := fs.Uint64("seed", 1, "seed of the choice of accounts and cases")
	only := fs.String("ops", "", "run only these operations of the mix, comma-separated (e.g. office.case,office.queue)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" || *internet == "" || *office == "" {
		fs.Usage()
		return errors.New("--state, --internet and --office are required")
	}
	st, err := loadtest.Load(*state)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	r, err := loadtest.Run(ctx, loadtest.Config{Internet: *internet, Office: *office, Scale: *scale, Duration: *dur, State: st,
		Users: *users, Seed: *seed, Log: env.Stderr, Ops: splitList(*only)})
	if err != nil && r == nil {
		return err
	}
	if *out != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if werr := os.WriteFile(*out, b, 0o644); werr != nil {
			return werr
		}
	}
	w := env.Stdout
	if *md != "" {
		f, ferr := os.Create(*md)
		if ferr != nil {
			return ferr
		}
		defer func() { _ = f.Close() }()
		w = f
	}
	r.Markdown(w)
	if err != nil {
		return err
	}
	if r.Errors > 0 {
		return fmt.Errorf("%d of %d requests failed", r.Errors, r.Requests)
	}
	return nil
}

func loadtestPrepare(ctx context.Context, env Env, args []string) error {
	fs := flags("loadtest prepare", env, operatorConfig)
	state := fs.String("state", "", "write the state to this file")
	users := fs.Int("users", 200, "accounts of each kind to list")
	staff := fs.Int("staff", 2, "district officers per district (and city officers) to create")
	year := fs.Int("year", 0, "round year (default: the current round)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" {
		return errors.New("--state is required")
	}
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		y := *year
		if y == 0 {
			r, err := a.Rounds.Current(ctx)
			if err != nil {
				return err
			}
			y = r.Year
		}
		tag := strings.ToLower(strings.TrimRight(rand.Text()[:6], "="))
		st, err := loadtest.Prepare(ctx, a.DB, a.Accounts, y, *users, *staff, tag, staffPassword)
		if err != nil {
			return err
		}
		if err := st.Save(*state); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s: round %d, %d drafts, %d to submit, %d filed, %d employer operators, %d staff accounts (lt-%s-…)\n",
			*state, y, len(st.Drafts), len(st.Submitters), len(st.Filed), len(st.Operators), len(st.Staff), tag)
		return nil
	})
}

// staffPassword is a random password that meets the policy.
func staffPassword() (string, error) { return "Lt#9" + rand.Text()[:16] + "q", nil }

// splitList reads a comma-separated flag: its non-empty, trimmed items.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
