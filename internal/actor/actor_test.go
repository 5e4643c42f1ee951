package actor_test

import (
	"context"
	"testing"

	"jifen/internal/actor"
	"jifen/internal/platform/apperr"
)

func TestRequire(t *testing.T) {
	cases := []struct {
		name string
		a    actor.Actor
		p    actor.Permission
		ok   bool
	}{
		{"nobody", actor.Actor{}, actor.PermApply, false},
		{"applicant applies", actor.Actor{Roles: []actor.Role{actor.Applicant}}, actor.PermApply, true},
		{"applicant cannot run checks", actor.Actor{Roles: []actor.Role{actor.Applicant}}, actor.PermCheckRun, false},
		{"city runs checks", actor.Actor{Roles: []actor.Role{actor.CityOfficer}}, actor.PermCheckRun, true},
		{"district cannot run checks", actor.Actor{Roles: []actor.Role{actor.DistrictOfficer}}, actor.PermCheckRun, false},
		{"console manages users", actor.Operator("root"), actor.PermUsersManage, true},
		{"console reads no audit", actor.Operator("root"), actor.PermAuditRead, false},
		{"system makes rounds", actor.SystemActor("demo"), actor.PermRoundsManage, true},
		{"system is no applicant", actor.SystemActor("demo"), actor.PermApply, false},
		{"unknown role", actor.Actor{Roles: []actor.Role{"root"}}, actor.PermUsersManage, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.a.Require(c.p)
			if (err == nil) != c.ok {
				t.Fatalf("Require(%s) = %v, want ok=%v", c.p, err, c.ok)
			}
			if err != nil && !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("refusal is %v, want forbidden", apperr.CodeOf(err))
			}
		})
	}
}

func TestOfficialAndContext(t *testing.T) {
	city := actor.Actor{UserID: 3, Login: "city", Roles: []actor.Role{actor.CityOfficer}}
	if !city.Official() || (actor.Actor{Roles: []actor.Role{actor.Applicant}}).Official() {
		t.Fatal("Official: only office roles are officials")
	}
	if got := actor.From(actor.With(context.Background(), city)); got.UserID != 3 || got.Role() != actor.CityOfficer {
		t.Fatalf("From(With(city)) = %+v", got)
	}
	if got := actor.From(context.Background()); got.UserID != 0 || got.Role() != "" || got.Can(actor.PermApply) {
		t.Fatalf("empty context gives %+v, want nobody", got)
	}
	if actor.RoleName(actor.Console) != "服务器控制台" || actor.RoleName(actor.CityOfficer) != "市人力社保局经办人员" {
		t.Fatal("role names")
	}
}

// TestMailSendSeparated: mass mail is the mail operators' alone; none of
// the three administrators sends, and the mail operator administers
// nothing (三员分立).
func TestMailSendSeparated(t *testing.T) {
	for _, r := range []actor.Role{actor.SystemAdmin, actor.SecurityAdmin, actor.AuditAdmin, actor.Applicant, actor.EmployerOperator} {
		if actor.Can([]actor.Role{r}, actor.PermMailSend) {
			t.Errorf("%s holds mail.send", r)
		}
	}
	if !actor.Can([]actor.Role{actor.MailOperator}, actor.PermMailSend) {
		t.Error("the mail operator cannot send")
	}
	ri, ok := actor.Info(actor.MailOperator)
	if !ok || ri.Admin || ri.Zone != actor.Office || ri.Name != "邮件群发操作员" {
		t.Errorf("role info %+v", ri)
	}
	for _, p := range actor.Permissions(actor.MailOperator) {
		if p != actor.PermOfficeHome && p != actor.PermMailSend {
			t.Errorf("the mail operator also holds %s", p)
		}
	}
}
