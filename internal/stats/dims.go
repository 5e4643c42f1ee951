package stats

import (
	"fmt"
	"strconv"

	"jifen/internal/agency"
	"jifen/internal/application"
	"jifen/internal/check"
	"jifen/internal/employer"
	"jifen/internal/rules"
)

// A dimension groups the applications by one attribute. Its levels are
// small integers (the cube stores them in bytes); level 0 is always "not
// known" where the attribute can be missing. Dimensions whose levels
// depend on the data (rounds, employers, score bands) compute them from
// the snapshot.
type dimension struct {
	name, label string
	// level returns a row's level.
	level func(s *snapshot, r *row) int
	// levels lists the codes and labels of every level, by index; for the
	// employer dimension only the employers present (big: the page does not
	// offer it as a filter list).
	levels func(s *snapshot) []Level
	// big: too many levels to list in a form (employers).
	big bool
	// district: the dimension is the case district (scoping applies).
	district bool
}

// Fixed level lists.
var (
	ageBands     = []Level{{"", "未知"}, {"lt30", "30岁以下"}, {"30_34", "30–34岁"}, {"35_39", "35–39岁"}, {"40_44", "40–44岁"}, {"ge45", "45岁及以上"}}
	eduTiers     = []Level{{"none", "无学历"}, {"college", "大学专科"}, {"bachelor", "大学本科"}, {"master", "硕士研究生"}, {"doctor", "博士研究生"}}
	housingKinds = []Level{{"none", "无住所记录"}, {"owned", "自有住所"}, {"rented", "租赁"}, {"dormitory", "单位宿舍"}}
	sexes        = []Level{{"", "未知"}, {"M", "男"}, {"F", "女"}}
	qualifiedLv  = []Level{{"unranked", "未排名"}, {"yes", "取得落户资格"}, {"no", "未取得"}}
	// outcome levels of one agency's check of an applicant: the worst of
	// the items the agency answers.
	checkLevels = []Level{{"unchecked", "未比对"}, {check.Match, check.OutcomeNames[check.Match]},
		{check.Unavailable, check.OutcomeNames[check.Unavailable]}, {check.NotFound, check.OutcomeNames[check.NotFound]},
		{check.Mismatch, check.OutcomeNames[check.Mismatch]}}
	statusLevels = func() []Level {
		out := []Level{{"", "未知"}}
		for _, st := range application.Statuses {
			out = append(out, Level{string(st), application.StatusName(st)})
		}
		return out
	}()
	industryLevels = classLevels(employer.Industries)
	sizeLevels     = classLevels(employer.Sizes)
)

// classLevels puts "未填写" before a classification's classes.
func classLevels(cs []employer.Class) []Level {
	out := []Level{{"", "未填写"}}
	for _, c := range cs {
		out = append(out, Level{c.Code, c.Name})
	}
	return out
}

func indexOf(ls []Level, code string) int {
	for i, l := range ls {
		if l.Code == code {
			return i
		}
	}
	return 0
}

// Score bands: the total in bands of 10 points, an indicator in bands of 5,
// from bandFloor up; a level's code is its lower bound.
const (
	bandFloor       = -30
	totalBandWidth  = 10
	indBandWidth    = 5
	maxBandLevels   = 40
	fieldTotal      = "total"
	bandDimPrefix   = "band:"
	checkDimPrefix  = "check:"
	hundredth       = 100
	employerDimName = "employer"
)

func bandLevel(p int32, width int) int {
	v := int(p) / hundredth
	if p < 0 && int(p)%hundredth != 0 {
		v-- // floor for negative points
	}
	i := (v - bandFloor) / width
	if v < bandFloor {
		i = 0
	}
	return min(max(i, 0), maxBandLevels-1)
}

func bandLevels(width int) []Level {
	out := make([]Level, maxBandLevels)
	for i := range out {
		lo := bandFloor + i*width
		out[i] = Level{strconv.Itoa(lo), fmt.Sprintf("%d–%d分", lo, lo+width)}
	}
	out[0].Label = fmt.Sprintf("%d分以下", bandFloor+width)
	out[maxBandLevels-1].Label = fmt.Sprintf("%d分及以上", bandFloor+(maxBandLevels-1)*width)
	return out
}

// fields are what a measure aggregates: the total and the ten indicators.
var fields = append([]string{fieldTotal}, rules.IndicatorCodes()...)

// fieldNames are the fields in Chinese.
var fieldNames = func() map[string]string {
	m := map[string]string{fieldTotal: "总积分"}
	res := rules.Latest().Score(rules.Facts{})
	for _, in := range res.Indicators {
		m[in.Code] = in.Name
	}
	return m
}()

// value is field i (0 total, 1.. the indicators) of r.
func (r *row) value(i int) int32 {
	if i == 0 {
		return r.total
	}
	return r.ind[i-1]
}

// dimensions are every dimension in the order forms list them.
var dimensions = func() []*dimension {
	fixed := func(ls []Level) func(*snapshot) []Level { return func(*snapshot) []Level { return ls } }
	ds := []*dimension{
		{name: "round", label: "年度", level: func(_ *snapshot, r *row) int { return int(r.round) },
			levels: func(s *snapshot) []Level { return s.roundLevels }},
		{name: "district", label: "区", district: true, level: func(_ *snapshot, r *row) int { return int(r.district) },
			levels: fixed(districtLevels)},
		{name: employerDimName, label: "用人单位", big: true, level: func(_ *snapshot, r *row) int { return int(r.employer) },
			levels: func(s *snapshot) []Level { return s.employerLevels() }},
		{name: "industry", label: "单位所属行业", level: func(s *snapshot, r *row) int { return int(s.emps[r.employer].industry) },
			levels: fixed(industryLevels)},
		{name: "employer_size", label: "单位规模", level: func(s *snapshot, r *row) int { return int(s.emps[r.employer].size) },
			levels: fixed(sizeLevels)},
		{name: "status", label: "申请状态", level: func(_ *snapshot, r *row) int { return int(r.status) }, levels: fixed(statusLevels)},
		{name: "sex", label: "性别", level: func(_ *snapshot, r *row) int { return int(r.sex) }, levels: fixed(sexes)},
		{name: "age_band", label: "年龄段", level: func(_ *snapshot, r *row) int { return int(r.age) }, levels: fixed(ageBands)},
		{name: "education", label: "学历", level: func(_ *snapshot, r *row) int { return int(r.edu) }, levels: fixed(eduTiers)},
		{name: "housing_kind", label: "住所类型", level: func(_ *snapshot, r *row) int { return int(r.housing) }, levels: fixed(housingKinds)},
		{name: "qualified", label: "是否取得落户资格", level: func(_ *snapshot, r *row) int { return int(r.qualified) }, levels: fixed(qualifiedLv)},
	}
	for i, f := range fields {
		width := indBandWidth
		if f == fieldTotal {
			width = totalBandWidth
		}
		ls := bandLevels(width)
		ds = append(ds, &dimension{name: bandDimPrefix + f, label: fieldNames[f] + "分段",
			level:  func(_ *snapshot, r *row) int { return bandLevel(r.value(i), width) },
			levels: fixed(ls)})
	}
	for i, code := range agency.PersonAgencies() {
		ds = append(ds, &dimension{name: checkDimPrefix + code, label: "比对结果（" + agency.Name(code) + "）",
			level: func(_ *snapshot, r *row) int { return int(r.checks[i]) }, levels: fixed(checkLevels)})
	}
	return ds
}()

// districtLevels are the sixteen districts, level 0 unknown.
var districtLevels = func() []Level {
	out := []Level{{"", "未知"}}
	for _, d := range rules.Districts() {
		out = append(out, Level{d, d})
	}
	return out
}()

func dimByName(name string) *dimension {
	for _, d := range dimensions {
		if d.name == name {
			return d
		}
	}
	return nil
}
