package actor

import "slices"

// Role is what an account may do.
type Role string

// The roles.
const (
	Applicant        Role = "applicant"
	EmployerOperator Role = "employer_operator"
	DistrictOfficer  Role = "district_officer"
	// DistrictSupervisor is the head of a district bureau's section
	// (区人力社保局科长): a district officer who also assigns the district's
	// cases to its officers.
	DistrictSupervisor Role = "district_supervisor"
	CityOfficer        Role = "city_officer"
	AgencyLiaison      Role = "agency_liaison"
	SystemAdmin        Role = "system_admin"
	SecurityAdmin      Role = "security_admin"
	AuditAdmin         Role = "audit_admin"
	// MailOperator sends mass mail (邮件群发操作员): lists, templates,
	// campaigns. None of the three administrators holds it.
	MailOperator Role = "mail_operator"

	// Console is the operator at the server's console running a command
	// that acts as no account (creating the first administrators, disabling
	// an account in an emergency). No account can hold it.
	Console Role = "console"

	// System is jifen acting by itself: the worker's schedules and the
	// setup commands that create a round, the demo or a synthetic
	// population. No account can hold it.
	System Role = "system"
)

// Zone is the network an account logs in from.
type Zone string

// The zones: the internet listener serves applicants and employers, the
// office listener serves staff.
const (
	Internet Zone = "internet"
	Office   Zone = "office"
)

// RoleInfo describes a role for pages and checks.
type RoleInfo struct {
	Role  Role
	Name  string // Chinese
	Zone  Zone
	Admin bool // one of the three administrators
}

// Roles lists every role.
var Roles = []RoleInfo{
	{Applicant, "申请人", Internet, false},
	{EmployerOperator, "用人单位经办人", Internet, false},
	{DistrictOfficer, "区人力社保局经办人员", Office, false},
	{DistrictSupervisor, "区人力社保局科长", Office, false},
	{CityOfficer, "市人力社保局经办人员", Office, false},
	{AgencyLiaison, "委办局联络员", Office, false},
	{MailOperator, "邮件群发操作员", Office, false},
	{SystemAdmin, "系统管理员", Office, true},
	{SecurityAdmin, "安全管理员", Office, true},
	{AuditAdmin, "审计管理员", Office, true},
}

// Info returns the description of r and whether r is a known role.
func Info(r Role) (RoleInfo, bool) {
	for _, ri := range Roles {
		if ri.Role == r {
			return ri, true
		}
	}
	return RoleInfo{}, false
}

// RoleName returns the Chinese name of r.
func RoleName(r Role) string {
	switch r {
	case Console:
		return "服务器控制台"
	case System:
		return "系统自动处理"
	}
	if ri, ok := Info(r); ok {
		return ri.Name
	}
	return string(r)
}

// Permission is one thing a role allows. Pages and services check
// permissions, never role names, so the matrix below is the whole policy.
type Permission string

// The permissions.
const (
	PermUsersView      Permission = "users.view"      // list staff accounts
	PermUsersManage    Permission = "users.manage"    // create, disable, reset staff accounts
	PermConfigManage   Permission = "config.manage"   // system configuration
	PermRolesManage    Permission = "roles.manage"    // request, approve and revoke role grants
	PermSecurityManage Permission = "security.manage" // security parameters
	PermAuditRead      Permission = "audit.read"      // search the audit trail
	PermAuditExport    Permission = "audit.export"    // export the audit trail
	PermOfficeHome     Permission = "office.home"     // the office start page
	PermRoundsManage   Permission = "rounds.manage"   // annual rounds (city bureau)
	PermCasesDistrict  Permission = "cases.district"  // cases of one's own district
	PermCasesCity      Permission = "cases.city"      // every case, final decisions
	PermCasesAssign    Permission = "cases.assign"    // assign and reassign cases to officers (supervisors, city)
	PermAgencyLiaison  Permission = "agency.liaison"  // an agency's own view
	PermCheckMonitor   Permission = "check.monitor"   // agencies' health, call log, inspection reports
	PermCheckRun       Permission = "check.run"       // start, apply and discard cross-check runs
	PermApply          Permission = "apply"           // an applicant's own case
	PermEmployer       Permission = "employer"        // an employer's own cases
	PermMailSend       Permission = "mail.send"       // mailing lists, templates and campaigns (邮件群发)
)

var rolePermissions = map[Role][]Permission{
	Applicant:          {PermApply},
	EmployerOperator:   {PermEmployer},
	DistrictOfficer:    {PermOfficeHome, PermCasesDistrict},
	DistrictSupervisor: {PermOfficeHome, PermCasesDistrict, PermCasesAssign},
	CityOfficer: {PermOfficeHome, PermCasesCity, PermCasesDistrict, PermCasesAssign, PermRoundsManage, PermCheckMonitor,
		PermCheckRun},
	AgencyLiaison: {PermOfficeHome, PermAgencyLiaison, PermCheckMonitor},
	SystemAdmin:   {PermOfficeHome, PermUsersView, PermUsersManage, PermConfigManage, PermCheckMonitor},
	SecurityAdmin: {PermOfficeHome, PermUsersView, PermRolesManage, PermSecurityManage},
	AuditAdmin:    {PermOfficeHome, PermAuditRead, PermAuditExport},
	MailOperator:  {PermOfficeHome, PermMailSend},
	// The console is the server's own operator: it may also import lists
	// and send campaigns from the command line (jifen mail).
	Console: {PermUsersManage, PermMailSend},
	System:  {PermRoundsManage, PermCasesCity, PermCasesDistrict},
}

// Permissions returns the permissions of r.
func Permissions(r Role) []Permission { return rolePermissions[r] }

// Can reports whether any of roles allows p.
func Can(roles []Role, p Permission) bool {
	for _, r := range roles {
		if slices.Contains(rolePermissions[r], p) {
			return true
		}
	}
	return false
}
