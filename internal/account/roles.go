// Package account holds every actor's account: one user model with roles,
// password login with lockout, server-side sessions, TOTP for staff, and the
// separation of the three administrators (三员分立) with four-eyes approval
// of role grants.
package account

import "jifen/internal/actor"

// The roles, zones and permissions are the actor package's: the account
// package names them too because accounts hold roles and pages check
// permissions by these names. They are the same types, not copies.
type (
	// Role is what an account may do.
	Role = actor.Role
	// Zone is the network an account logs in from.
	Zone = actor.Zone
	// RoleInfo describes a role for pages and checks.
	RoleInfo = actor.RoleInfo
	// Permission is one thing a role allows.
	Permission = actor.Permission
)

// The roles.
const (
	Applicant        = actor.Applicant
	EmployerOperator = actor.EmployerOperator
	DistrictOfficer  = actor.DistrictOfficer
	// DistrictSupervisor is 区人力社保局科长.
	DistrictSupervisor = actor.DistrictSupervisor
	CityOfficer        = actor.CityOfficer
	AgencyLiaison      = actor.AgencyLiaison
	SystemAdmin        = actor.SystemAdmin
	SecurityAdmin      = actor.SecurityAdmin
	AuditAdmin         = actor.AuditAdmin
	// MailOperator is 邮件群发操作员.
	MailOperator = actor.MailOperator
)

// The zones.
const (
	Internet = actor.Internet
	Office   = actor.Office
)

// The permissions.
const (
	PermUsersView      = actor.PermUsersView
	PermUsersManage    = actor.PermUsersManage
	PermConfigManage   = actor.PermConfigManage
	PermRolesManage    = actor.PermRolesManage
	PermSecurityManage = actor.PermSecurityManage
	PermAuditRead      = actor.PermAuditRead
	PermAuditExport    = actor.PermAuditExport
	PermOfficeHome     = actor.PermOfficeHome
	PermRoundsManage   = actor.PermRoundsManage
	PermCasesDistrict  = actor.PermCasesDistrict
	PermCasesCity      = actor.PermCasesCity
	PermCasesAssign    = actor.PermCasesAssign
	PermAgencyLiaison  = actor.PermAgencyLiaison
	PermCheckMonitor   = actor.PermCheckMonitor
	PermCheckRun       = actor.PermCheckRun
	PermApply          = actor.PermApply
	PermEmployer       = actor.PermEmployer
	PermMailSend       = actor.PermMailSend
)

// Roles lists every role.
var Roles = actor.Roles

// Info returns the description of r and whether r is a known role.
func Info(r Role) (RoleInfo, bool) { return actor.Info(r) }

// RoleName returns the Chinese name of r.
func RoleName(r Role) string { return actor.RoleName(r) }

// Permissions returns the permissions of r.
func Permissions(r Role) []Permission { return actor.Permissions(r) }

// Can reports whether any of roles allows p.
func Can(roles []Role, p Permission) bool { return actor.Can(roles, p) }
