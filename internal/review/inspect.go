package review

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"jifen/internal/actor"
	"jifen/internal/application"
	"jifen/internal/platform/apperr"
	"jifen/internal/platform/blob"
	"jifen/internal/platform/clock"
	"jifen/internal/platform/db"
	"jifen/internal/rules"
)

// Slot limits.
const (
	MaxCapacity     = 200      // appointments per half day and district
	MaxEvidence     = 10 << 20 // 10 MB, as an attachment
	slotsAheadDays  = 90       // how far ahead a slot may be set
	openSlotsListed = 60
)

// Slot is an appointment slot of a district's service window.
type Slot struct {
	ID       int64  `json:"id"`
	District string `json:"district"`
	Day      string `json:"date"` // 2027-06-01
	Half     string `json:"half"` // am | pm
	HalfName string `json:"half_name"`
	Capacity int    `json:"capacity"`
	Booked   int    `json:"booked"`
	Past     bool   `json:"past"`
}

// Label is how a page names a slot: 2027-06-01 上午.
func (s Slot) Label() string { return s.Day + " " + HalfName(s.Half) }

// Remaining is the number of places left.
func (s Slot) Remaining() int { return max(s.Capacity-s.Booked, 0) }

// Full reports whether no place is left.
func (s Slot) Full() bool { return s.Booked >= s.Capacity }

// SlotInput is a new slot.
type SlotInput struct {
	District string `json:"district"` // the city bureau names it; a district officer's own is used
	Day      string `json:"date"`
	Half     string `json:"half"`
	Capacity int    `json:"capacity"`
}

// slotStart is when a half day's service begins, Beijing time: a slot is
// past, and can no longer be booked, from then on.
func slotStart(day, half string) (time.Time, bool) {
	d, err := time.ParseInLocation(time.DateOnly, day, clock.Beijing)
	if err != nil {
		return time.Time{}, false
	}
	if half == "pm" {
		return d.Add(13*time.Hour + 30*time.Minute), true
	}
	return d.Add(9 * time.Hour), true
}

// CreateSlot adds a slot to the district's service window: a district
// officer for their district, the city bureau for any.
func (s *Service) CreateSlot(ctx context.Context, officer actor.Actor, in SlotInput) (*Slot, error) {
	if !officer.Can(actor.PermCasesDistrict) {
		return nil, apperr.New(apperr.Forbidden, "没有设置现场审核预约时段的权限")
	}
	if !officer.Can(actor.PermCasesCity) {
		in.District = officer.District
	}
	var fe []apperr.FieldError
	if !contains(rules.Districts(), in.District) {
		fe = append(fe, apperr.FieldError{Field: "district", Message: "请选择区"})
	}
	now := s.clock.Now()
	start, ok := slotStart(in.Day, in.Half)
	today := clock.BeijingDay(now)
	switch {
	case !ok:
		fe = append(fe, apperr.FieldError{Field: "date", Message: "请填写日期，格式为 YYYY-MM-DD"})
	case !start.After(now):
		fe = append(fe, apperr.FieldError{Field: "date", Message: "不能设置已经过去的时段"})
	case start.After(today.AddDate(0, 0, slotsAheadDays+1)):
		fe = append(fe, apperr.FieldError{Field: "date", Message: fmt.Sprintf("只能设置%d天内的时段", slotsAheadDays)})
	}
	if in.Half != "am" && in.Half != "pm" {
		fe = append(fe, apperr.FieldError{Field: "half", Message: "请选择上午或下午"})
	}
	if in.Capacity < 1 || in.Capacity > MaxCapacity {
		fe = append(fe, apperr.FieldError{Field: "capacity", Message: fmt.Sprintf("可预约人数应在1到%d之间", MaxCapacity)})
	}
	if err := apperr.Fields(fe); err != nil {
		return nil, err
	}
	var out *Slot
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var id int64
		err := s.db.QueryRow(ctx, `INSERT INTO inspection_slots (district, day, half, capacity, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, in.District, in.Day, in.Half, in.Capacity, officer.UserID, db.Micros(now)).Scan(&id)
		if db.IsUniqueViolation(err) {
			return apperr.Field("date", "该区这一天的"+HalfName(in.Half)+"已设置预约时段")
		}
		if err != nil {
			return err
		}
		out = &Slot{ID: id, District: in.District, Day: in.Day, Half: in.Half, HalfName: HalfName(in.Half), Capacity: in.Capacity}
		return s.audit.Record(ctx, auditSlot(officer, id, fmt.Sprintf("%s %s %s，可预约%d人", in.District, in.Day, HalfName(in.Half), in.Capacity)))
	})
	return out, err
}

// Slots lists a district's slots from today on ("" for every district:
// the city bureau), by day.
func (s *Service) Slots(ctx context.Context, officer actor.Actor, district string) ([]Slot, error) {
	if !officer.Can(actor.PermCasesDistrict) {
		return nil, apperr.New(apperr.Forbidden, "没有权限")
	}
	if !officer.Can(actor.PermCasesCity) {
		district = officer.District
	}
	return s.slots(ctx, district, false, 500)
}

// OpenSlots lists the slots of a district an applicant can still book.
func (s *Service) OpenSlots(ctx context.Context, district string) ([]Slot, error) {
	return s.slots(ctx, district, true, openSlotsListed)
}

func (s *Service) slots(ctx context.Context, district string, open bool, limit int) ([]Slot, error) {
	now := s.clock.Now()
	var w db.Where
	w.And("day >= ?", clock.BeijingDay(now).Format(time.DateOnly))
	if district != "" {
		w.And("district = ?", district)
	}
	if open {
		w.And("booked < capacity")
	}
	rows, err := s.db.Query(ctx, `SELECT id, district, day, half, capacity, booked FROM inspection_slots`+w.SQL()+
		` ORDER BY day, half, district LIMIT `+w.Arg(limit), w.Args()...)
	if err != nil {
		return nil, apperr.Wrap(err)
	}
	defer rows.Close()
	var out []Slot
	for rows.Next() {
		var sl Slot
		if err := rows.Scan(&sl.ID, &sl.District, &sl.Day, &sl.Half, &sl.Capacity, &sl.Booked); err != nil {
			return nil, apperr.Wrap(err)
		}
		sl.HalfName = HalfName(sl.Half)
		start, _ := slotStart(sl.Day, sl.Half)
		sl.Past = !start.After(now)
		if open && sl.Past {
			continue
		}
		out = append(out, sl)
	}
	return out, rows.Err()
}

func (s *Service) slot(ctx context.Context, id int64) (*Slot, error) {
	var sl Slot
	err := s.db.QueryRow(ctx, `SELECT id, district, day, half, capacity, booked FROM inspection_slots WHERE id = $1`, id).
		Scan(&sl.ID, &sl.District, &sl.Day, &sl.Half, &sl.Capacity, &sl.Booked)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sl.HalfName = HalfName(sl.Half)
	start, _ := slotStart(sl.Day, sl.Half)
	sl.Past = !start.After(s.clock.Now())
	return &sl, nil
}

// Inspection is the in-person check required in a case.
type Inspection struct {
	Indicators   []string  `json:"indicators"`
	Note         string    `json:"note"`
	RequiredAt   time.Time `json:"required_at"`
	Slot         *Slot     `json:"slot,omitempty"`
	Attendance   string    `json:"attendance"` // '' not yet recorded | attended | absent
	Outcome      string    `json:"outcome,omitempty"`
	EvidenceName string    `json:"evidence_name,omitempty"`
	RecordedAt   time.Time `json:"recorded_at,omitzero"`
	Version      int       `json:"version"`
	EvidenceKey  string    `json:"-"`
	EvidenceType string    `json:"-"`
}

// AttendanceName is the Chinese name of an attendance record.
func AttendanceName(a string) string {
	switch a {
	case "attended":
		return "已到场"
	case "absent":
		return "未到场"
	}
	return "待现场审核"
}

// AttendanceName is the Chinese name of the recorded attendance.
func (in *Inspection) AttendanceName() string { return AttendanceName(in.Attendance) }

// IndicatorNames names the indicators of the check.
func (in *Inspection) IndicatorNames() string {
	var names []string
	for _, c := range in.Indicators {
		names = append(names, rules.CheckItemName(c))
	}
	return strings.Join(names, "、")
}

func (s *Service) inspection(ctx context.Context, id int64) (*Inspection, error) {
	var in Inspection
	var inds string
	var slotID, req, rec int64
	err := s.db.QueryRow(ctx, `SELECT indicators, note, required_at, slot_id, attendance, outcome, evidence_key, evidence_name,
		evidence_type, recorded_at, version FROM inspection_bookings WHERE application_id = $1`, id).Scan(&inds, &in.Note, &req, &slotID,
		&in.Attendance, &in.Outcome, &in.EvidenceKey, &in.EvidenceName, &in.EvidenceType, &rec, &in.Version)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	in.Indicators = strings.Split(inds, ",")
	in.RequiredAt = db.FromMicros(req)
	if rec != 0 {
		in.RecordedAt = db.FromMicros(rec)
	}
	if slotID != 0 {
		if in.Slot, err = s.slot(ctx, slotID); err != nil {
			return nil, err
		}
	}
	return &in, nil
}

// inspectionPending reports whether an indicator waits for the outcome of
// its in-person check.
func (s *Service) inspectionPending(ctx context.Context, id int64, indicator string) (bool, error) {
	in, err := s.inspection(ctx, id)
	if err != nil || in == nil {
		return false, err
	}
	return in.Attendance == "" && contains(in.Indicators, indicator), nil
}

// RequireInspection requires an in-person check of the applicant for some
// indicators of the case not decided yet; the applicant books a slot on
// the portal. version is the case's version the officer saw.
func (s *Service) RequireInspection(ctx context.Context, officer actor.Actor, id int64, indicators []string, note string, version int) error {
	note, err := checkText("note", note, "请写明现场审核需要携带的材料", true)
	if err != nil {
		return err
	}
	if len(indicators) == 0 {
		return apperr.Field("indicators", "请选择需要现场审核的指标")
	}
	c, err := s.officerCase(ctx, officer, id, true)
	if err != nil {
		return s.denied(ctx, id, err)
	}
	for _, ind := range indicators {
		if !contains(c.Indicators, ind) {
			return apperr.Field("indicators", "该指标不在申请人的复查申请之中："+ind)
		}
	}
	if err := open(c); err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.bump(ctx, id, version, "open"); err != nil {
			return err
		}
		ds, err := s.decided(ctx, id)
		if err != nil {
			return err
		}
		for _, ind := range indicators {
			if _, ok := ds[ind]; ok {
				return apperr.Field("indicators", "该指标已作出复查决定："+rules.CheckItemName(ind))
			}
		}
		_, err = s.db.Exec(ctx, `INSERT INTO inspection_bookings (application_id, indicators, note, required_by, required_at)
			VALUES ($1, $2, $3, $4, $5)`, id, strings.Join(indicators, ","), note, officer.UserID, db.Micros(s.clock.Now()))
		if db.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, "该案件已要求现场审核")
		}
		if err != nil {
			return err
		}
		in := Inspection{Indicators: indicators}
		if err := s.apps.ReviewStep(ctx, officer, id, "需要到区人力社保局现场审核（"+in.IndicatorNames()+"）："+note+
			"。请登录系统在“复查进度”页面预约现场审核时段。"); err != nil {
			return err
		}
		return s.record(ctx, officer, "review.require_inspection", id, in.IndicatorNames()+"："+note)
	})
}

// Book books (or moves to) a slot of the in-person check required of the
// applicant. A full slot or a past one is refused on the field "slot"; the
// capacity is held by a conditional write, so concurrent bookings never
// exceed it.
func (s *Service) Book(ctx context.Context, applicant actor.Actor, id, slotID int64) error {
	c, err := s.applicantCase(ctx, applicant, id)
	if err != nil {
		return err
	}
	if c.AppStatus != application.ReviewRequested {
		return apperr.New(apperr.Conflict, "复查已办结，无需预约现场审核")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		in, err := s.inspection(ctx, id)
		if err != nil {
			return err
		}
		if in == nil {
			return apperr.New(apperr.Conflict, "区人力社保局没有要求您现场审核，无需预约")
		}
		if in.Attendance != "" {
			return apperr.New(apperr.Conflict, "现场审核已经办理，不能再改约")
		}
		if in.Slot != nil && in.Slot.ID == slotID {
			return nil // the same slot again changes nothing
		}
		if in.Slot != nil && in.Slot.Past {
			return apperr.Field("slot", "已预约的时段已经开始或已过，不能再改约，请联系区人力社保局")
		}
		sl, err := s.slot(ctx, slotID)
		if err != nil {
			return err
		}
		switch {
		case sl == nil || sl.District != c.District:
			return apperr.Field("slot", "请选择"+c.District+"人力社保局的预约时段")
		case sl.Past:
			return apperr.Field("slot", "该时段（"+sl.Label()+"）已经开始或已过，不能预约")
		}
		res, err := s.db.Exec(ctx, `UPDATE inspection_slots SET booked = booked + 1 WHERE id = $1 AND booked < capacity`, slotID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.Field("slot", "该时段（"+sl.Label()+"）已约满，请选择其他时段")
		}
		if in.Slot != nil {
			if _, err := s.db.Exec(ctx, `UPDATE inspection_slots SET booked = booked - 1 WHERE id = $1 AND booked > 0`, in.Slot.ID); err != nil {
				return err
			}
		}
		res, err = s.db.Exec(ctx, `UPDATE inspection_bookings SET slot_id = $1, booked_at = $2, version = version + 1
			WHERE application_id = $3 AND version = $4 AND attendance = ''`, slotID, db.Micros(s.clock.Now()), id, in.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "预约已在其他页面修改，请刷新页面后查看")
		}
		what := "已预约现场审核：" + c.District + "人力社保局 " + sl.Label()
		if in.Slot != nil {
			what = "现场审核改约：由 " + in.Slot.Label() + " 改为 " + sl.Label()
		}
		if err := s.apps.ReviewStep(ctx, applicant, id, what); err != nil {
			return err
		}
		return s.record(ctx, applicant, "review.book", id, what)
	})
}

// Record is the officer's record of an in-person check.
type Record struct {
	Attendance string // attended | absent
	Outcome    string
	Filename   string    // optional evidence file
	File       io.Reader // nil: none
	Version    int       // the inspection's version the officer saw
}

// RecordInspection records the attendance and outcome of the in-person
// check, with an optional evidence file (PDF, JPEG or PNG by content,
// stored like attachments). After it the indicators can be decided.
func (s *Service) RecordInspection(ctx context.Context, officer actor.Actor, id int64, r Record) error {
	var fe []apperr.FieldError
	if r.Attendance != "attended" && r.Attendance != "absent" {
		fe = append(fe, apperr.FieldError{Field: "attendance", Message: "请选择申请人是否到场"})
	}
	outcome, err := checkText("outcome", r.Outcome, "请写明现场审核的结果（核验了哪些原件、结论）", true)
	if err != nil {
		fe = append(fe, apperr.As(err).Fields...)
	}
	if err := apperr.Fields(fe); err != nil {
		return err
	}
	c, err := s.officerCase(ctx, officer, id, true)
	if err != nil {
		return s.denied(ctx, id, err)
	}
	if err := open(c); err != nil {
		return err
	}
	var info blob.Info
	name := ""
	if r.File != nil {
		head := make([]byte, 512)
		n, err := io.ReadFull(r.File, head)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return apperr.Wrap(err)
		}
		head = head[:n]
		if n > 0 {
			if blob.Sniff(head) == "" {
				return apperr.Field("file", "只能上传 PDF、JPEG 或 PNG 文件（以文件内容为准，不看文件名）")
			}
			info, err = s.blobs.Put(ctx, io.MultiReader(bytes.NewReader(head), r.File), MaxEvidence)
			if errors.Is(err, blob.ErrTooLarge) {
				return &apperr.Error{Code: apperr.TooLarge, Message: "文件不能超过10MB",
					Fields: []apperr.FieldError{{Field: "file", Message: "文件不能超过10MB，请压缩后再上传"}}}
			}
			if err != nil {
				return apperr.Wrap(err)
			}
			name = cleanName(r.Filename)
		}
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		in, err := s.inspection(ctx, id)
		if err != nil {
			return err
		}
		if in == nil {
			return apperr.New(apperr.Conflict, "该案件没有要求现场审核")
		}
		if in.Attendance != "" {
			return apperr.New(apperr.Conflict, "现场审核结果已记录，请刷新页面后查看")
		}
		res, err := s.db.Exec(ctx, `UPDATE inspection_bookings SET attendance = $1, outcome = $2, evidence_key = $3, evidence_name = $4,
			evidence_type = $5, recorded_by = $6, recorded_at = $7, version = version + 1
			WHERE application_id = $8 AND attendance = '' AND version = $9`, r.Attendance, outcome, info.Key, name, info.ContentType,
			officer.UserID, db.Micros(s.clock.Now()), id, in.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errRace
		}
		if err := s.apps.ReviewStep(ctx, officer, id, "现场审核结果："+AttendanceName(r.Attendance)+"。"+outcome); err != nil {
			return err
		}
		return s.record(ctx, officer, "review.record_inspection", id, AttendanceName(r.Attendance)+"："+outcome+evidenceNote(name))
	})
}

// Evidence opens the evidence file of a case's in-person check, for an
// officer of its district (audited read).
func (s *Service) Evidence(ctx context.Context, officer actor.Actor, id int64) (name, contentType string, rc io.ReadCloser, err error) {
	if _, err := s.officerCase(ctx, officer, id, false); err != nil {
		return "", "", nil, s.denied(ctx, id, err)
	}
	in, err := s.inspection(ctx, id)
	if err != nil {
		return "", "", nil, apperr.Wrap(err)
	}
	if in == nil || in.EvidenceKey == "" {
		return "", "", nil, apperr.New(apperr.NotFound, "没有现场审核材料")
	}
	rc, err = s.blobs.Open(ctx, in.EvidenceKey)
	if err != nil {
		return "", "", nil, apperr.Wrap(err)
	}
	if err := s.record(ctx, officer, "review.evidence_read", id, in.EvidenceName); err != nil {
		_ = rc.Close()
		return "", "", nil, err
	}
	return in.EvidenceName, in.EvidenceType, rc, nil
}

// cleanName keeps a file name's base, without control characters, at most
// 100 characters.
func cleanName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 100 {
		name = string(r[:100])
	}
	if name == "" || name == "." || name == "/" {
		name = "现场审核材料"
	}
	return name
}

func evidenceNote(name string) string {
	if name == "" {
		return ""
	}
	return "（材料：" + name + "）"
}

func auditSlot(officer actor.Actor, id int64, reason string) auditEntry {
	return auditEntry{Action: "review.create_slot", ObjectType: "inspection_slot", ObjectID: strconv.FormatInt(id, 10), Reason: reason,
		ActorID: officer.UserID, ActorLogin: officer.Login, ActorRole: string(officer.Role())}
}

// OrphanAge is how old a stored evidence file no in-person check names must
// be before SweepEvidence removes it: older than any upload still on its
// way to its row.
const OrphanAge = 24 * time.Hour

// SweepEvidence removes the evidence files no in-person check names (a
// record refused after its file was stored), older than OrphanAge. The
// evidence has its own store, so the attachments' sweep, which knows only
// attachment rows, never sees it.
func (s *Service) SweepEvidence(ctx context.Context) (int, error) {
	return s.blobs.Sweep(ctx, time.Now().Add(-OrphanAge), s.namedEvidence)
}

func (s *Service) namedEvidence(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	rows, err := s.db.Query(ctx, `SELECT evidence_key FROM inspection_bookings WHERE evidence_key <> ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		if want[k] {
			out[k] = true
		}
	}
	return out, rows.Err()
}
