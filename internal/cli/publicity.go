package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"jifen/internal/actor"
	"jifen/internal/app"
)

const publicityUsage = `Usage:
  jifen publicity import --year Y --quota N --file F.csv [--as LOGIN]
  jifen publicity verify --receipt F [--list canonical-file]
verify checks a receipt of a published list offline (no configuration, no
database; see 'jifen publicity verify -h'). import loads an official 公示 list of a past year (the format of
../shared/data/publicity/*.csv) as a historical round. The whole file is
checked first: a malformed line is refused with its line number and nothing
is written; the cutoff and the number qualified at the quota must agree with
the list. Importing the same file again changes nothing; another file for a
year already imported is refused. Prints the round as JSON.`

// runPublicity imports past official lists from the console. Without --as
// the console operator acts (audited as cli:<os user>).
func runPublicity(ctx context.Context, env Env, args []string) error {
	name, err := actionOf(env, args, publicityUsage, "import", "verify")
	if err != nil {
		return err
	}
	if name == "verify" {
		return runPublicityVerify(ctx, env, args[1:])
	}
	fs := flags("publicity "+name, env, operatorConfig)
	year := fs.Int("year", 0, "the list's year")
	quota := fs.Int("quota", 0, "the year's quota (6000 for 2020–2022)")
	file := fs.String("file", "", "the list, a CSV file")
	as := fs.String("as", "", "login of the staff account acting (default: the console operator)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *year == 0 || *quota <= 0 || *file == "" {
		return errors.New("--year, --quota (a positive number) and --file are required")
	}
	// The file is read before anything is opened: a missing file costs no
	// database connection.
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		by, err := roundActor(ctx, a, *as)
		if err != nil {
			return err
		}
		ctx = actor.With(ctx, by)
		res, err := a.PastLists.Import(ctx, by, *year, *quota, data)
		if err != nil {
			return err
		}
		out := json.NewEncoder(env.Stdout)
		out.SetIndent("", "  ")
		return out.Encode(res)
	})
}
