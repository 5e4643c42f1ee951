package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os/user"
	"strings"

	"jifen/internal/account"
	"jifen/internal/actor"
	"jifen/internal/app"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/password"
)

const userUsage = `Usage:
  jifen user create  --login NAME --role ROLE [--name 姓名] [--email E] [--district 海淀区] --password-stdin
  jifen user reset   --login NAME --password-stdin      (must be changed at next login)
  jifen user disable --login NAME [--reason R]
  jifen user enable  --login NAME
  jifen user unlock  --login NAME
  jifen user list    [--role ROLE]
Roles: applicant employer_operator district_officer district_supervisor city_officer agency_liaison mail_operator
       system_admin security_admin audit_admin
The first system administrator is created this way; there is no built-in account.`

// cliActor marks operator actions from the command line in the audit trail.
func cliActor(ctx context.Context) context.Context {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return actor.With(ctx, actor.Operator(name))
}

func runUser(ctx context.Context, env Env, args []string) error {
	name, err := actionOf(env, args, userUsage, "create", "reset", "disable", "enable", "unlock", "list")
	if err != nil {
		return err
	}
	fs := flags("user "+name, env, operatorConfig)
	var login *string
	if name != "list" {
		login = fs.String("login", "", "login name")
	}
	act := map[string]func(*flag.FlagSet, Env, *string) userAction{
		"create": userCreate, "reset": userReset, "disable": userSetDisabled(true), "enable": userSetDisabled(false),
		"unlock": userUnlock, "list": userList,
	}[name](fs, env, login)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if login != nil && *login == "" {
		return errors.New("--login is required")
	}
	return withApp(ctx, env, fs, act)
}

// userAction is one action of jifen user on the opened application; its
// flags are registered on the action's own flag set.
type userAction func(ctx context.Context, a *app.App) error

// passwordFlag registers --password-stdin and returns the reader of the
// password: the first line of standard input, and only when asked for, so
// that a password never appears in the process list or the shell history.
func passwordFlag(fs *flag.FlagSet, env Env) func() (string, error) {
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	return func() (string, error) {
		if !*pwStdin {
			return "", errors.New("give the password on standard input with --password-stdin")
		}
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}

func userCreate(fs *flag.FlagSet, env Env, login *string) userAction {
	role := fs.String("role", "", "role to grant")
	display := fs.String("name", "", "display name (default: the login)")
	email := fs.String("email", "", "e-mail address")
	district := fs.String("district", "", "district of a district officer (e.g. 海淀区)")
	readPW := passwordFlag(fs, env)
	return func(ctx context.Context, a *app.App) error {
		ri, ok := account.Info(account.Role(*role))
		if !ok {
			return fmt.Errorf("--role: unknown role %q", *role)
		}
		pw, err := readPW()
		if err != nil {
			return err
		}
		if *display == "" {
			*display = *login
		}
		u, err := a.Accounts.CreateUser(ctx, account.NewUser{Login: *login, DisplayName: *display, Zone: ri.Zone, Email: *email,
			Password: pw, Roles: []account.Role{ri.Role}, MustChange: ri.Zone == account.Office, District: *district})
		if err != nil {
			return explain(err)
		}
		fmt.Fprintf(env.Stdout, "created %s (id %d, %s)", u.Login, u.ID, ri.Name)
		if ri.Zone == account.Office {
			fmt.Fprint(env.Stdout, "; the password must be changed and TOTP enrolled at first login")
		}
		fmt.Fprintln(env.Stdout)
		return nil
	}
}

func userReset(fs *flag.FlagSet, env Env, login *string) userAction {
	readPW := passwordFlag(fs, env)
	return func(ctx context.Context, a *app.App) error {
		u, err := a.Accounts.UserByLogin(ctx, *login)
		if err != nil {
			return explain(err)
		}
		pw, err := readPW()
		if err != nil {
			return err
		}
		if err := password.CheckPolicy(pw, u.Login); err != nil {
			return err
		}
		hash, err := a.Accounts.Hasher().Hash(ctx, pw)
		if err != nil {
			return err
		}
		if err := a.Accounts.SetPasswordHash(ctx, u, hash, true, "account.password_reset"); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "password of %s reset; it must be changed at the next login\n", u.Login)
		return nil
	}
}

// userSetDisabled is the action that disables an account, or enables it.
func userSetDisabled(disable bool) func(*flag.FlagSet, Env, *string) userAction {
	done := map[bool]string{true: "disabled", false: "enabled"}[disable]
	return func(fs *flag.FlagSet, env Env, login *string) userAction {
		reason := fs.String("reason", "", "reason, recorded in the audit trail")
		return func(ctx context.Context, a *app.App) error {
			u, err := a.Accounts.UserByLogin(ctx, *login)
			if err != nil {
				return explain(err)
			}
			if err := a.Accounts.SetDisabled(ctx, actor.From(ctx), u.ID, disable, *reason); err != nil {
				return explain(err)
			}
			fmt.Fprintf(env.Stdout, "%s: %s\n", u.Login, done)
			return nil
		}
	}
}

func userUnlock(_ *flag.FlagSet, env Env, login *string) userAction {
	return func(ctx context.Context, a *app.App) error {
		if err := a.Accounts.Unlock(ctx, *login); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s unlocked\n", *login)
		return nil
	}
}

func userList(fs *flag.FlagSet, env Env, _ *string) userAction {
	role := fs.String("role", "", "only accounts with this role")
	return func(ctx context.Context, a *app.App) error {
		users, err := a.Accounts.ListUsers(ctx, account.UserFilter{Role: account.Role(*role), Limit: 500})
		if err != nil {
			return err
		}
		for _, u := range users {
			state := "active"
			if u.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(env.Stdout, "%-6d %-24s %-8s %-8s %v\n", u.ID, u.Login, u.Zone, state, u.Roles)
		}
		return nil
	}
}

// explain turns an application error into one readable line.
func explain(err error) error {
	e := apperr.As(err)
	if e.Code == apperr.Internal {
		return err
	}
	msg := e.Message
	for _, f := range e.Fields {
		msg += "; " + f.Field + ": " + f.Message
	}
	return errors.New(msg)
}
