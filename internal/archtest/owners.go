// Package archtest holds the rules of the code's structure that tests
// enforce by reading the sources: which package writes which table, and
// that SQL is never built with fmt.Sprintf or by switching on the dialect
// outside platform/db. docs/ARCHITECTURE.md ("Who writes which table")
// shows the same map; a test keeps the two equal.
package archtest

// Owners maps every table of the migrations to the one package (its path
// under internal/) that writes it. Other packages read it freely and change
// it only by calling the owner.
var Owners = map[string]string{
	"users":                 "account",
	"login_attempts":        "account",
	"user_roles":            "account",
	"sessions":              "account",
	"role_requests":         "account",
	"admin_requests":        "account",
	"settings":              "settings",
	"settings_history":      "settings",
	"audit_head":            "audit",
	"audit_archives":        "audit",
	"audit_log":             "audit",
	"log_digests":           "logs",
	"data_exports":          "dataexport",
	"mail_outbox":           "platform/mail",
	"rounds":                "round",
	"round_windows":         "round",
	"employers":             "employer",
	"employer_operators":    "employer",
	"employer_invites":      "employer",
	"persons":               "person",
	"employer_links":        "person",
	"applications":          "application",
	"application_events":    "application",
	"attachments":           "application",
	"review_requests":       "application",
	"agency_records":        "synth",
	"agency_connectors":     "agencyops",
	"check_runs":            "check",
	"check_batches":         "check",
	"check_queries":         "check",
	"check_calls":           "agencyops",
	"check_scores":          "check",
	"prechecks":             "check",
	"precheck_consents":     "check",
	"discrepancies":         "discrepancy",
	"case_notes":            "casefile",
	"round_reopenings":      "round",
	"rankings":              "ranking",
	"ranking_entries":       "ranking",
	"ranking_exclusions":    "ranking",
	"ranking_supersessions": "ranking",
	"publications":          "publicity",
	"mail_campaigns":        "mailing",
	"mail_campaign_events":  "mailing",
	"mail_campaign_minutes": "mailing",
	"mail_campaign_errors":  "mailing",
	"mail_domain_limits":    "mailing",
	"settlements":           "settlement",
	"fraud_entries":         "fraud",
	"publicity_rounds":      "publicity",
	"publicity_entries":     "publicity",
	"review_cases":          "review",
	"review_decisions":      "review",
	"score_changes":         "review",
	"inspection_slots":      "review",
	"inspection_bookings":   "review",
	"schema_migrations":     "platform/db",
	"calendar_days":         "calendar",
	"step_limits":           "casework",
	"case_assignments":      "casework",
	"access_minutes":        "accessstats",
	"objections":            "objection",
	"objection_events":      "objection",
	"mail_lists":            "mailing",
	"mail_list_members":     "mailing",
	"mail_suppressions":     "mailing",
	"mail_templates":        "mailing",
	"monitor_samples":       "monitor",
	"monitor_hours":         "monitor",
	"alert_rules":           "monitor",
	"alerts":                "monitor",
	"faults":                "monitor",
	"fault_events":          "monitor",
	"fault_attachments":     "monitor",
	"stats_saved":           "statsreport",
	"stats_subscribers":     "statsreport",
	"stats_report_files":    "statsreport",
	"backup_runs":           "backup",

	// Carry-over between rounds (issue 17).
	"application_carryovers": "application",
}

// Exceptions are packages allowed to write tables they do not own, and why.
var Exceptions = map[string]string{
	// The synthetic population is bulk-loaded: hundreds of thousands of
	// rows of several owners' tables in multi-row INSERTs, which no owner's
	// one-at-a-time operation could do at that speed.
	"synth": "bulk load of synthetic data",
	// Test fixtures (imported by tests only) seed rows directly.
	"casetest": "test fixtures",
}
