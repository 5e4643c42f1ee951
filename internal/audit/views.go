package audit

import (
	"context"
	"strconv"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/platform/db"
)

// ReadCase is the read of an application's whole case view by an officer
// (internal/casefile): declaration beside the agencies' answers, materials,
// score, timeline, notes and related cases.
const ReadCase = "person.read_case"

// PurposePrefix starts the purpose of a read in its reason ("目的：复查；…"):
// the one structured part of a read's free text, which ViewsOf shows to the
// applicant.
const PurposePrefix = "目的："

type purposeKey struct{}

// WithPurpose records in ctx why the reads made with it happen (复查, 现场审核,
// ...): RecordRead writes it at the head of every read's reason, so a read
// made by another package on the officer's behalf (an attachment opened
// through application.Attachments) carries the officer's purpose too.
func WithPurpose(ctx context.Context, purpose string) context.Context {
	return context.WithValue(ctx, purposeKey{}, purpose)
}

func purposeOf(ctx context.Context) string {
	p, _ := ctx.Value(purposeKey{}).(string)
	return p
}

// Purposed returns reason with purpose at its head, as RecordRead writes it.
func Purposed(purpose, reason string) string {
	if purpose == "" {
		return reason
	}
	return PurposePrefix + purpose + "；" + reason
}

// View is one reading of an applicant's file by a member of staff, as the
// applicant sees it: which office, in which role, when and why — never who.
type View struct {
	At      time.Time `json:"at"`
	Office  string    `json:"office"`  // 朝阳区人力社保局, 北京市人力社保局
	Role    string    `json:"role"`    // the role's Chinese name
	Purpose string    `json:"purpose"` // why, in Chinese
}

// readPurposes name what a read was for when its reason carries no purpose
// (reads made before purposes were recorded, or by pages that ask none).
var readPurposes = map[string]string{
	ReadApplication: "查阅申请信息",
	ReadAttachment:  "查阅申请材料",
	ReadDiscrepancy: "核查比对差异",
	ViewIDNumber:    "核实身份",
	ReadCase:        "办理案件",
	ReadStatsCell:   "查看统计明细",
}

// MaxViews bounds how many readings ViewsOf returns: the newest.
const MaxViews = 500

// ViewsOf returns the readings of person's file by staff, newest first: the
// read rows (object type person, the applicant's id) written by a role of
// the government network. Reads by the applicant are never recorded;
// those of employers' operators and of the system (system:..., the
// console) are left out here. The office is named from the reader's
// district as the account holds it now (a district officer's bureau, or the
// city bureau for everyone else). Reads still in the buffer (at most a
// second old) appear once written.
func (l *Log) ViewsOf(ctx context.Context, personID int64) ([]View, error) {
	rows, err := l.db.Query(ctx, `SELECT l.at, l.actor_role, l.action, l.reason, COALESCE(u.district, '')
		FROM audit_log l LEFT JOIN users u ON u.id = l.actor_id
		WHERE l.object_type = 'person' AND l.object_id = $1 AND l.outcome = 'success' AND l.action LIKE 'person.%'
		ORDER BY l.at DESC, l.id DESC LIMIT $2`, strconv.FormatInt(personID, 10), MaxViews)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []View{}
	for rows.Next() {
		var at int64
		var role, action, reason, district string
		if err := rows.Scan(&at, &role, &action, &reason, &district); err != nil {
			return nil, err
		}
		fallback, isRead := readPurposes[action]
		ri, ok := actor.Info(actor.Role(role))
		if !isRead || !ok || ri.Zone != actor.Office {
			continue
		}
		out = append(out, View{At: db.FromMicros(at), Office: OfficeName(district), Role: ri.Name, Purpose: purposeIn(reason, fallback)})
	}
	return out, rows.Err()
}

// OfficeName is the bureau of a member of staff of district: the district's
// 人力社保局, or the city's for staff of no district.
func OfficeName(district string) string {
	if district == "" {
		return "北京市人力社保局"
	}
	return district + "人力社保局"
}

// purposeIn reads the purpose at the head of a read's reason.
func purposeIn(reason, fallback string) string {
	rest, ok := strings.CutPrefix(reason, PurposePrefix)
	if !ok {
		return fallback
	}
	p, _, _ := strings.Cut(rest, "；")
	if p = strings.TrimSpace(p); p == "" {
		return fallback
	}
	return p
}
