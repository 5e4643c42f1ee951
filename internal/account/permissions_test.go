package account_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/internal/account"
	"jifen/internal/platform/apperr"
)

// permEnv is an office with a system administrator, three security
// administrators and a clerk.
type permEnv struct {
	*env
	sys, sec1, sec2, sec3, clerk *account.User
}

func newPermEnv(t *testing.T) *permEnv {
	t.Helper()
	e := newEnv(t)
	p := &permEnv{env: e}
	p.sys = e.user(t, "sys", account.Office, account.SystemAdmin)
	p.sec1 = e.user(t, "sec1", account.Office, account.SecurityAdmin)
	p.sec2 = e.user(t, "sec2", account.Office, account.SecurityAdmin)
	p.sec3 = e.user(t, "sec3", account.Office, account.SecurityAdmin)
	p.clerk = e.user(t, "clerk", account.Office)
	return p
}

func (p *permEnv) roles(t *testing.T, u *account.User) []account.Role {
	t.Helper()
	got, err := p.svc.UserByID(p.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got.Roles
}

func wantCode(t *testing.T, what string, err error, code apperr.Code, msg string) {
	t.Helper()
	if apperr.CodeOf(err) != code || !strings.Contains(apperr.As(err).Error()+fieldText(err), msg) {
		t.Fatalf("%s: got %v, want %s containing %q", what, err, code, msg)
	}
}

func fieldText(err error) string {
	var b strings.Builder
	for _, f := range apperr.As(err).Fields {
		b.WriteString(f.Field + ":" + f.Message + ";")
	}
	return b.String()
}

func TestPermissionRequestLifecycle(t *testing.T) {
	p := newPermEnv(t)
	in := account.RoleRequestInput{UserID: p.clerk.ID, Kind: account.KindGrant, Role: account.CityOfficer, Reason: "调入市局"}
	_, err := p.svc.SubmitRoleRequest(p.ctx, p.sec1.Actor(), in)
	wantCode(t, "no form number", err, apperr.Invalid, "form_no:请填写单据编号")
	if _, err := p.svc.SubmitRoleRequest(p.ctx, p.sys.Actor(), in); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("system admin filed a request: %v", err)
	}
	in.FormNo = "QX-2026-017"
	req, err := p.svc.SubmitRoleRequest(p.ctx, p.sec1.Actor(), in)
	if err != nil || req.Status != account.StatusPending || req.FormNo != "QX-2026-017" {
		t.Fatalf("submit: %+v %v", req, err)
	}
	if _, err := p.svc.SubmitRoleRequest(p.ctx, p.sec2.Actor(), in); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("duplicate open request: %v", err)
	}
	// Approval before review is refused.
	wantCode(t, "approve unreviewed", p.svc.ApproveRoleRequest(p.ctx, p.sec3.Actor(), req.ID, 0, true, ""), apperr.Conflict, "尚未审核")
	if err := p.svc.ReviewRoleRequest(p.ctx, p.sec2.Actor(), req.ID, req.Version, true, "与单据一致"); err != nil {
		t.Fatal(err)
	}
	// A stale page (the version before the review) cannot review again.
	wantCode(t, "stale review", p.svc.ReviewRoleRequest(p.ctx, p.sec3.Actor(), req.ID, req.Version, true, ""), apperr.Conflict, "")
	if len(p.roles(t, p.clerk)) != 0 {
		t.Fatal("granted before approval")
	}
	// The requester may not approve (self-approval), nor the reviewer.
	wantCode(t, "self-approval", p.svc.ApproveRoleRequest(p.ctx, p.sec1.Actor(), req.ID, 0, true, "同意"), apperr.Forbidden,
		"双人审批：不能审批自己提出的申请")
	wantCode(t, "reviewer approves", p.svc.ApproveRoleRequest(p.ctx, p.sec2.Actor(), req.ID, 0, true, "同意"), apperr.Forbidden,
		"审核人不能再审批")
	if err := p.svc.ApproveRoleRequest(p.ctx, p.sec3.Actor(), req.ID, 0, true, "同意"); err != nil {
		t.Fatal(err)
	}
	got, _ := p.svc.RoleRequestByID(p.ctx, p.sec1.Actor(), req.ID)
	if got.Status != account.StatusApproved || got.ReviewedBy != p.sec2.ID || got.DecidedBy != p.sec3.ID || got.ReviewerLogin != "sec2" {
		t.Fatalf("after approval: %+v", got)
	}
	if r := p.roles(t, p.clerk); len(r) != 1 || r[0] != account.CityOfficer {
		t.Fatalf("roles after grant: %v", r)
	}
	wantCode(t, "approve twice", p.svc.ApproveRoleRequest(p.ctx, p.sec2.Actor(), req.ID, 0, true, ""), apperr.Conflict, "")

	// A change swaps one role for another; the requester reviews, a second
	// administrator approves.
	ch, err := p.svc.SubmitRoleRequest(p.ctx, p.sec1.Actor(), account.RoleRequestInput{UserID: p.clerk.ID, Kind: account.KindChange,
		FromRole: account.CityOfficer, Role: account.DistrictOfficer, Reason: "调往区局", FormNo: "QX-2026-018"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.svc.ReviewRoleRequest(p.ctx, p.sec1.Actor(), ch.ID, 0, true, ""); err != nil {
		t.Fatal(err)
	}
	if err := p.svc.ApproveRoleRequest(p.ctx, p.sec2.Actor(), ch.ID, 0, true, ""); err != nil {
		t.Fatal(err)
	}
	if r := p.roles(t, p.clerk); len(r) != 1 || r[0] != account.DistrictOfficer {
		t.Fatalf("roles after change: %v", r)
	}

	// An ordinary revoke waits like a grant: one administrator alone
	// removes nothing.
	rv, err := p.svc.SubmitRoleRequest(p.ctx, p.sec1.Actor(), account.RoleRequestInput{UserID: p.clerk.ID, Kind: account.KindRevoke,
		Role: account.DistrictOfficer, Reason: "离职", FormNo: "QX-2026-019"})
	if err != nil || rv.Status != account.StatusPending || len(p.roles(t, p.clerk)) != 1 {
		t.Fatalf("revoke applied before approval: %+v %v", rv, err)
	}
	// A refusal at review ends it; nothing changes.
	wantCode(t, "reject without note", p.svc.ReviewRoleRequest(p.ctx, p.sec2.Actor(), rv.ID, 0, false, ""), apperr.Invalid, "审核意见")
	if err := p.svc.ReviewRoleRequest(p.ctx, p.sec2.Actor(), rv.ID, 0, false, "单据未签字"); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.svc.RoleRequestByID(p.ctx, p.sec1.Actor(), rv.ID); got.Status != account.StatusRejected || len(p.roles(t, p.clerk)) != 1 {
		t.Fatalf("rejected revoke: %+v", got)
	}
	if n := p.countAudit(t, "role.request_approved", ""); n != 2 {
		t.Errorf("approvals audited: %d", n)
	}
}

func TestEmergencyRevokeReviewedAfterwards(t *testing.T) {
	p := newPermEnv(t)
	g, err := p.svc.SubmitRoleRequest(p.ctx, p.sec1.Actor(), account.RoleRequestInput{UserID: p.clerk.ID, Kind: account.KindGrant,
		Role: account.CityOfficer, Reason: "入职", FormNo: "QX-1"})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.svc.ReviewRoleRequest(p.ctx, p.sec1.Actor(), g.ID, 0, true, "")
	if err := p.svc.ApproveRoleRequest(p.ctx, p.sec2.Actor(), g.ID, 0, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.svc.SubmitRoleRequest(p.ctx, p.sec1.Actor(), account.RoleRequestInput{UserID: p.clerk.ID, Kind: account.KindGrant,
		Role: account.DistrictOfficer, Reason: "x", FormNo: "QX-2", Emergency: true}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("emergency grant accepted: %v", err)
	}
	rv, err := p.svc.SubmitRoleRequest(p.ctx, p.sec1.Actor(), account.RoleRequestInput{UserID: p.clerk.ID, Kind: account.KindRevoke,
		Role: account.CityOfficer, Reason: "账号疑似被盗用", FormNo: "JJ-2026-003", Emergency: true})
	if err != nil || rv.Status != account.StatusAppliedPendingReview {
		t.Fatalf("emergency revoke: %+v %v", rv, err)
	}
	if len(p.roles(t, p.clerk)) != 0 {
		t.Fatal("emergency revoke not in force at once")
	}
	if !rv.AwaitsReview() {
		t.Fatal("emergency revoke should await review")
	}
	if err := p.svc.ReviewRoleRequest(p.ctx, p.sec2.Actor(), rv.ID, 0, true, "情况属实"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "requester confirms own emergency", p.svc.ApproveRoleRequest(p.ctx, p.sec1.Actor(), rv.ID, 0, true, ""),
		apperr.Forbidden, "不能审批自己提出的申请")
	if err := p.svc.ApproveRoleRequest(p.ctx, p.sec3.Actor(), rv.ID, 0, true, "同意"); err != nil {
		t.Fatal(err)
	}
	got, _ := p.svc.RoleRequestByID(p.ctx, p.sec1.Actor(), rv.ID)
	if got.Status != account.StatusApproved || !got.Emergency || len(p.roles(t, p.clerk)) != 0 {
		t.Fatalf("after review: %+v", got)
	}
}

func TestConcurrentApprovalsOneWins(t *testing.T) {
	p := newPermEnv(t)
	sec4 := p.user(t, "sec4", account.Office, account.SecurityAdmin)
	req, err := p.svc.SubmitRoleRequest(p.ctx, p.sec1.Actor(), account.RoleRequestInput{UserID: p.clerk.ID, Kind: account.KindGrant,
		Role: account.CityOfficer, Reason: "入职", FormNo: "QX-9"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.svc.ReviewRoleRequest(p.ctx, p.sec1.Actor(), req.ID, 0, true, ""); err != nil {
		t.Fatal(err)
	}
	reviewed, _ := p.svc.RoleRequestByID(p.ctx, p.sec1.Actor(), req.ID)
	// Three approvers decide at once from the page they loaded (the same
	// version): one approves, two refuse; exactly one decision stands.
	deciders := []*account.User{p.sec2, p.sec3, sec4}
	errs := make([]error, len(deciders))
	var wg sync.WaitGroup
	for i, d := range deciders {
		wg.Go(func() {
			errs[i] = p.svc.ApproveRoleRequest(p.ctx, d.Actor(), req.ID, reviewed.Version, i == 0, "并发")
		})
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case apperr.CodeOf(err) != apperr.Conflict:
			t.Fatalf("decider %d: %v", i, err)
		}
	}
	got, _ := p.svc.RoleRequestByID(p.ctx, p.sec1.Actor(), req.ID)
	granted := len(p.roles(t, p.clerk)) == 1
	if wins != 1 || (got.Status == account.StatusApproved) != granted || got.Version != reviewed.Version+1 {
		t.Fatalf("wins %d status %s granted %v version %d", wins, got.Status, granted, got.Version)
	}
}

func TestUnusedAccountsFlaggedAndDisabledOnApproval(t *testing.T) {
	p := newPermEnv(t)
	idle := p.user(t, "idle", account.Office, account.DistrictOfficer)
	p.clock.Advance(60 * 24 * time.Hour)
	// clerk logs in on day 60: used; everyone else is 90 days old at day 91.
	if _, err := p.svc.Login(p.ctx, account.Office, "clerk", goodPW, "10.0.0.1", "ua"); err != nil {
		t.Fatal(err)
	}
	p.clock.Advance(31 * 24 * time.Hour)
	rows, err := p.svc.AccessReview(p.ctx, p.sec1.Actor())
	if err != nil {
		t.Fatal(err)
	}
	unused := map[string]bool{}
	for _, r := range rows {
		unused[r.User.Login] = r.Unused
	}
	if !unused["idle"] || unused["clerk"] || len(rows) != 6 {
		t.Fatalf("flags: %v", unused)
	}
	n, err := p.svc.FlagUnusedAccounts(p.ctx)
	if err != nil || n != 5 { // sys, sec1-3, idle
		t.Fatalf("flagged %d: %v", n, err)
	}
	if n, err := p.svc.FlagUnusedAccounts(p.ctx); err != nil || n != 0 {
		t.Fatalf("second run flagged %d: %v", n, err)
	}
	reqs, _ := p.svc.RoleRequests(p.ctx, p.sec1.Actor(), 100)
	var req *account.RoleRequest
	for _, r := range reqs {
		if r.UserID == idle.ID {
			req = r
		}
	}
	if req == nil || req.Action != account.KindDisable || req.RequestedBy != 0 || !strings.HasPrefix(req.FormNo, "定期复核-") {
		t.Fatalf("disable request: %+v", req)
	}
	if err := p.svc.ReviewRoleRequest(p.ctx, p.sec1.Actor(), req.ID, 0, true, ""); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.svc.UserByID(p.ctx, idle.ID); u.Disabled {
		t.Fatal("disabled before approval")
	}
	if err := p.svc.ApproveRoleRequest(p.ctx, p.sec2.Actor(), req.ID, 0, true, "确认停用"); err != nil {
		t.Fatal(err)
	}
	if u, _ := p.svc.UserByID(p.ctx, idle.ID); !u.Disabled {
		t.Fatal("not disabled on approval")
	}
}
