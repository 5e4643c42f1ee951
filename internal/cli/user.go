package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/user"
	"strings"

	"jifen/internal/account"
	"jifen/internal/actor"
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
Roles: applicant employer_operator district_officer city_officer agency_liaison
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
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(env.Stderr, userUsage)
		return errors.New("missing action")
	}
	action := args[0]
	fs := flags("user "+action, env)
	login := fs.String("login", "", "login name")
	role := fs.String("role", "", "role to grant (create) or to list")
	name := fs.String("name", "", "display name (default: the login)")
	email := fs.String("email", "", "e-mail address")
	district := fs.String("district", "", "district of a district officer (e.g. 海淀区)")
	reason := fs.String("reason", "", "reason, recorded in the audit trail")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
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
	readPW := func() (string, error) {
		if !*pwStdin {
			return "", errors.New("give the password on standard input with --password-stdin")
		}
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if action != "list" && *login == "" {
		return errors.New("--login is required")
	}
	switch action {
	case "create":
		ri, ok := account.Info(account.Role(*role))
		if !ok {
			return fmt.Errorf("--role: unknown role %q", *role)
		}
		pw, err := readPW()
		if err != nil {
			return err
		}
		if *name == "" {
			*name = *login
		}
		u, err := a.Accounts.CreateUser(ctx, account.NewUser{Login: *login, DisplayName: *name, Zone: ri.Zone, Email: *email,
			Password: pw, Roles: []account.Role{ri.Role}, MustChange: ri.Zone == account.Office, District: *district})
		if err != nil {
			return explain(err)
		}
		fmt.Fprintf(env.Stdout, "created %s (id %d, %s)", u.Login, u.ID, ri.Name)
		if ri.Zone == account.Office {
			fmt.Fprint(env.Stdout, "; the password must be changed and TOTP enrolled at first login")
		}
		fmt.Fprintln(env.Stdout)
	case "reset":
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
	case "disable", "enable":
		u, err := a.Accounts.UserByLogin(ctx, *login)
		if err != nil {
			return explain(err)
		}
		if err := a.Accounts.SetDisabled(ctx, actor.From(ctx), u.ID, action == "disable", *reason); err != nil {
			return explain(err)
		}
		fmt.Fprintf(env.Stdout, "%s: %sd\n", u.Login, action)
	case "unlock":
		if err := a.Accounts.Unlock(ctx, *login); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s unlocked\n", *login)
	case "list":
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
	default:
		fmt.Fprintln(env.Stderr, userUsage)
		return fmt.Errorf("unknown action %q", action)
	}
	return nil
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
