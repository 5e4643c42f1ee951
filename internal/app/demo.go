package app

import (
	"context"
	"fmt"
	"io"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
)

// DemoAccount is one demo login.
type DemoAccount struct {
	Login, Password string
	Role            account.Role
	Zone            account.Zone
}

var demoAccounts = []struct {
	login string
	role  account.Role
	name  string
}{
	{"demo-applicant", account.Applicant, "演示申请人"},
	{"demo-employer", account.EmployerOperator, "演示单位经办人"},
	{"demo-district", account.DistrictOfficer, "演示区级经办人员"},
	{"demo-city", account.CityOfficer, "演示市级经办人员"},
	{"demo-agency", account.AgencyLiaison, "演示委办局联络员"},
	{"demo-sysadmin", account.SystemAdmin, "演示系统管理员"},
	{"demo-secadmin", account.SecurityAdmin, "演示安全管理员"},
	{"demo-auditor", account.AuditAdmin, "演示审计管理员"},
}

// SeedDemo makes sure one demo account per role exists and gives each a
// fresh random password, returned so the caller prints them once. Demo
// accounts are flagged: they skip the second factor and the pages say
// "演示账号".
func (a *App) SeedDemo(ctx context.Context) ([]DemoAccount, error) {
	var out []DemoAccount
	for _, d := range demoAccounts {
		ri, _ := account.Info(d.role)
		pw, err := account.GeneratePassword(d.login)
		if err != nil {
			return nil, err
		}
		hash, err := a.Accounts.Hasher().Hash(ctx, pw)
		if err != nil {
			return nil, err
		}
		u, err := a.Accounts.UserByLogin(ctx, d.login)
		switch {
		case apperr.Is(err, apperr.NotFound):
			if _, err := a.Accounts.CreateUserWithHash(ctx, account.NewUser{Login: d.login, DisplayName: d.name, Zone: ri.Zone,
				Roles: []account.Role{d.role}, Demo: true}, hash); err != nil {
				return nil, fmt.Errorf("demo account %s: %w", d.login, err)
			}
		case err != nil:
			return nil, err
		case !u.Demo:
			return nil, fmt.Errorf("account %s exists and is not a demo account; refusing to touch it", d.login)
		default:
			if err := a.Accounts.SetPasswordHash(ctx, u, hash, false, "account.demo_password"); err != nil {
				return nil, err
			}
		}
		out = append(out, DemoAccount{Login: d.login, Password: pw, Role: d.role, Zone: ri.Zone})
	}
	return out, nil
}

// PrintDemo writes the demo logins for the newcomer.
func (a *App) PrintDemo(w io.Writer, accts []DemoAccount) {
	internet, office := "http://"+hostPort(a.Addr("internet")), "http://"+hostPort(a.Addr("office"))+"/office/"
	fmt.Fprintf(w, "\n==== jifen 演示模式 / demo mode ====\n")
	fmt.Fprintf(w, "互联网门户 (portal):  %s\n经办系统 (office):    %s\n\n", internet, office)
	fmt.Fprintf(w, "演示账号（密码仅在本次启动时显示；演示账号无需动态口令）\nDemo logins (passwords change at every --demo start):\n")
	for _, d := range accts {
		where := internet + "/login"
		if d.Zone == account.Office {
			where = office + "login"
		}
		fmt.Fprintf(w, "  %-15s %-16s %-10s %s\n", d.Login, d.Password, account.RoleName(d.Role), where)
	}
	fmt.Fprintln(w)
}

func hostPort(addr string) string {
	if len(addr) > 0 && addr[0] == ':' {
		return "localhost" + addr
	}
	if len(addr) > 5 && addr[:5] == "[::]:" {
		return "localhost:" + addr[5:]
	}
	if len(addr) > 8 && addr[:8] == "0.0.0.0:" {
		return "localhost:" + addr[8:]
	}
	return addr
}
