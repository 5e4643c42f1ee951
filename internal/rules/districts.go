package rules

import (
	"slices"
	"strings"
)

// officialDistricts is the order in which the municipal government lists
// Beijing's districts, then the economic-technological development area.
// It is the one list of that order: every page, filter and table that
// lists districts follows it (the rulebooks say which districts exist; this
// says in which order they are shown).
var officialDistricts = []string{
	"东城区", "西城区", "朝阳区", "丰台区", "石景山区", "海淀区", "门头沟区", "房山区",
	"通州区", "顺义区", "昌平区", "大兴区", "怀柔区", "平谷区", "密云区", "延庆区",
	"北京经济技术开发区",
}

// DistrictRank is a district's place in the official order; a name that is
// not in it comes after every district.
func DistrictRank(d string) int {
	if i := slices.Index(officialDistricts, d); i >= 0 {
		return i
	}
	return len(officialDistricts)
}

// CompareDistricts orders two districts officially (then by name, for
// names outside the list).
func CompareDistricts(a, b string) int {
	if ra, rb := DistrictRank(a), DistrictRank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

// SortDistricts sorts district names in the official order, in place.
func SortDistricts(ds []string) { slices.SortStableFunc(ds, CompareDistricts) }
