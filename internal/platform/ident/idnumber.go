package ident

import (
	"time"
	"unicode/utf8"

	"jifen/internal/platform/clock"
)

// Layout of an 18-character resident identity number (GB 11643-1999):
//
//	positions 1–6   address code (GB/T 2260); 1–2 are the province
//	positions 7–14  birth date YYYYMMDD
//	positions 15–17 order code; the 17th is odd for men, even for women
//	position 18     check character, ISO 7064 MOD 11-2 (0–9 or X)
const idLength = 18

// idWeights are 2^(18-i) mod 11 for positions i = 1..17 (ISO 7064 MOD 11-2).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps (sum mod 11) to the check character.
const idCheckChars = "10X98765432"

// earliestBirthYear bounds birth dates from below. Nobody alive was born
// earlier, so an earlier date is a typing mistake.
const earliestBirthYear = 1900

// IDCheckChar returns the check character (a digit or 'X') for the first 17
// digits of an identity number. Test-data generators use it to make valid
// numbers.
func IDCheckChar(first17 string) (byte, error) {
	if len(first17) != idLength-1 || !isDigits(first17) {
		return 0, newError(FieldIDNumber, ReasonCharacters, "身份证号前17位应为数字")
	}
	sum := 0
	for i := range idWeights {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11], nil
}

// ValidateIDNumber checks an 18-character resident identity number and returns
// it normalised (spaces removed, full-width digits made ASCII, a lower-case x
// made X). It checks the length and characters, that positions 1–2 are a
// province-level code, that positions 7–14 are a real date from 1900 on and
// not later than today in Beijing as of now, and the check character.
//
// The old 15-digit numbers are not accepted: they were replaced by 2013.
// Only the province part of the address code is checked, because county codes
// are renumbered over the years and an old number keeps its old code.
func ValidateIDNumber(s string, now time.Time) (string, error) {
	n := normalize(s)
	if n == "" {
		return "", newError(FieldIDNumber, ReasonEmpty, "请填写身份证号")
	}
	if utf8.RuneCountInString(n) != idLength {
		return "", newError(FieldIDNumber, ReasonLength, lengthMessage("身份证号", idLength, n))
	}
	last := n[len(n)-1]
	if len(n) != idLength || !isDigits(n[:idLength-1]) || !(last >= '0' && last <= '9' || last == 'X') {
		return "", newError(FieldIDNumber, ReasonCharacters, "身份证号前17位应为数字，第18位应为数字或字母X，请核对")
	}
	if !isProvinceCode(n[:2]) {
		return "", newError(FieldIDNumber, ReasonRegion, "身份证号前2位不是有效的省级行政区划代码，请核对")
	}
	birth, ok := parseBirthDate(n)
	if !ok {
		return "", newError(FieldIDNumber, ReasonBirthDate, "身份证号中的出生日期无效，请核对第7至14位")
	}
	today := now.In(clock.Beijing)
	if birth.After(time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)) {
		return "", newError(FieldIDNumber, ReasonBirthDate, "身份证号中的出生日期晚于今天，请核对第7至14位")
	}
	check, _ := IDCheckChar(n[:idLength-1])
	if last != check {
		return "", newError(FieldIDNumber, ReasonCheckChar, "身份证号第18位校验码不正确，请核对")
	}
	return n, nil
}

// parseBirthDate reads positions 7–14 of an 18-character number whose first
// 17 characters are digits.
func parseBirthDate(n string) (time.Time, bool) {
	num := func(s string) int {
		v := 0
		for i := 0; i < len(s); i++ {
			v = v*10 + int(s[i]-'0')
		}
		return v
	}
	y, m, d := num(n[6:10]), num(n[10:12]), num(n[12:14])
	if y < earliestBirthYear || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // time.Date normalised, e.g. 0230 to 0302
		return time.Time{}, false
	}
	return t, true
}

// IDBirthDate returns the birth date in an identity number as midnight UTC of
// that calendar day (use only its year, month and day), or the zero Time if
// id is not 18 characters with a real date in positions 7–14. Pass a number
// already accepted by ValidateIDNumber.
func IDBirthDate(id string) time.Time {
	if len(id) != idLength || !isDigits(id[:idLength-1]) {
		return time.Time{}
	}
	t, ok := parseBirthDate(id)
	if !ok {
		return time.Time{}
	}
	return t
}

// IDSex returns "M" if the 17th digit is odd, "F" if it is even, and "" if id
// is not 18 characters with a digit there.
func IDSex(id string) string {
	if len(id) != idLength {
		return ""
	}
	switch c := id[16]; {
	case c < '0' || c > '9':
		return ""
	case (c-'0')%2 == 1:
		return "M"
	default:
		return "F"
	}
}

// isProvinceCode reports whether code is a province-level division of
// GB/T 2260, or 81/82/83 as used on residence permits for Hong Kong, Macao
// and Taiwan residents.
func isProvinceCode(code string) bool {
	switch code {
	case "11", "12", "13", "14", "15", // 北京 天津 河北 山西 内蒙古
		"21", "22", "23", // 辽宁 吉林 黑龙江
		"31", "32", "33", "34", "35", "36", "37", // 上海 江苏 浙江 安徽 福建 江西 山东
		"41", "42", "43", "44", "45", "46", // 河南 湖北 湖南 广东 广西 海南
		"50", "51", "52", "53", "54", // 重庆 四川 贵州 云南 西藏
		"61", "62", "63", "64", "65", // 陕西 甘肃 青海 宁夏 新疆
		"71", "81", "82", "83": // 台湾 香港 澳门, 83 台湾居民居住证
		return true
	}
	return false
}
