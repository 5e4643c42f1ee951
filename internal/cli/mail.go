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

const mailUsage = `Usage:
  jifen mail import --list NAME --file F.csv [--as LOGIN]
  jifen mail send --list NAME --subject S --template F.html [--text F.txt] [--rate N] [--mandatory]
  jifen mail report --campaign ID
邮件群发 (mass mail, docs/mailing.md). import adds the addresses of a CSV
file to the static list NAME, creating it if new: a column email (or 邮箱),
optionally name, employer, district, year, status, role; UTF-8 or GBK.
Each bad line is skipped and reported with its number; duplicates count
once. Prints the report as JSON ("accepted" is the number of new
addresses); a one-line summary goes to stderr. send creates a campaign and
starts it as the console operator (no second approval), printing its id; a
running 'jifen serve' with JIFEN_SMTP_HOST sends it. report prints a
campaign's figures as JSON (see 'jifen mail send -h', 'jifen mail report -h').`

// runMail is the mass-mail commands. Without --as the console operator
// acts (audited as cli:<os user>).
func runMail(ctx context.Context, env Env, args []string) error {
	name, err := actionOf(env, args, mailUsage, "import", "send", "report")
	if err != nil {
		return err
	}
	switch name {
	case "import":
		return runMailImport(ctx, env, args[1:])
	case "send":
		return runMailSend(ctx, env, args[1:])
	case "report":
		return runMailReport(ctx, env, args[1:])
	default:
		return fmt.Errorf("unknown action %q", name)
	}
}

// mailActor is who acts: the staff account --as names, or the console
// operator.
func mailActor(ctx context.Context, a *app.App, login string) (actor.Actor, error) {
	if login == "" {
		return actor.From(cliActor(ctx)), nil
	}
	u, err := a.Accounts.UserByLogin(ctx, login)
	if err != nil {
		return actor.Actor{}, fmt.Errorf("--as %s: %w", login, err)
	}
	return u.ActorAt("local", ""), nil
}

func runMailImport(ctx context.Context, env Env, args []string) error {
	fs := flags("mail import", env, operatorConfig)
	list := fs.String("list", "", "the list's name (created if new)")
	file := fs.String("file", "", "the CSV file")
	as := fs.String("as", "", "login of the staff account acting (default: the console operator)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *list == "" || *file == "" {
		return errors.New("--list and --file are required")
	}
	// The file is opened before the database: a missing file costs no
	// connection. It is read as a stream, never whole.
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return withApp(ctx, env, fs, func(ctx context.Context, a *app.App) error {
		by, err := mailActor(ctx, a, *as)
		if err != nil {
			return err
		}
		ctx = actor.With(ctx, by)
		rep, err := a.Mailing.ImportCSV(ctx, by, *list, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "accepted %d, duplicates %d, rejected %d (list %q, %s)\n", rep.Accepted, rep.Duplicates,
			rep.Rejected, rep.List, rep.Encoding)
		out := json.NewEncoder(env.Stdout)
		out.SetIndent("", "  ")
		return out.Encode(rep)
	})
}
