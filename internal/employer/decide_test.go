package employer_test

import (
	"testing"

	"jifen/internal/account"

	"jifen/internal/actor"
	"jifen/internal/casetest"
	"jifen/internal/employer"
	"jifen/internal/platform/apperr"
)

// The domain, not only the office page, keeps a district officer to the
// employers of their district and everyone else out.
func TestDecideChecksTheActor(t *testing.T) {
	e := casetest.New(t)
	register := func(login string) *employer.Employer {
		t.Helper()
		emp, _, err := e.Employers.Register(e.Ctx, employer.Registration{CreditCode: casetest.CreditCode(), Name: "北京测试科技有限公司",
			District: "海淀区", Address: "北京市海淀区中关村大街1号", LegalRep: "张三", OperatorName: "李四", OperatorLogin: login,
			Phone: "13800138000", Email: login + "@example.cn", Password: casetest.Password, PrivacyVersion: account.PrivacyNoticeVersion})
		if err != nil {
			t.Fatal(err)
		}
		return emp
	}
	emp := register("op_decide")
	chaoyang := actor.Actor{UserID: 11, Login: "cy", Roles: []actor.Role{actor.DistrictOfficer}, District: "朝阳区"}
	applicant := actor.Actor{UserID: 12, Roles: []actor.Role{actor.Applicant}}
	for name, by := range map[string]actor.Actor{"nobody": {}, "applicant": applicant} {
		if _, err := e.Employers.Decide(e.Ctx, by, emp.ID, true, ""); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("%s decided an employer: %v", name, err)
		}
	}
	if _, err := e.Employers.Decide(e.Ctx, chaoyang, emp.ID, true, ""); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("another district's officer: %v, want not found", err)
	}
	haidian := chaoyang
	haidian.District = "海淀区"
	got, err := e.Employers.Decide(e.Ctx, haidian, emp.ID, true, "")
	if err != nil || got.Status != employer.Verified || got.RegCode == "" {
		t.Fatalf("own district's officer: %v %+v", err, got)
	}
	city := actor.Actor{UserID: 13, Roles: []actor.Role{actor.CityOfficer}}
	other := register("op_decide2")
	if _, err := e.Employers.Decide(e.Ctx, city, other.ID, false, "材料不全"); err != nil {
		t.Fatalf("city officer rejects: %v", err)
	}
}
