// Package ident validates, normalises and masks the identifiers jifen holds
// about people and employers: the resident identity number (居民身份证号码,
// GB 11643-1999), the unified social credit code (统一社会信用代码,
// GB 32100-2015) and mainland mobile numbers.
//
// Validators take what a person typed and return the canonical form to store,
// encrypt and blind-index: surrounding and inner spaces removed, full-width
// characters (as typed with a Chinese input method) turned into ASCII, and
// letters upper-cased. Their errors are *Error values whose message is plain
// Chinese saying what to fix, ready to show beside the form field.
//
// The Mask functions produce the forms allowed on screens, logs and exports
// (张*三, 1101**********1234, 138****8000). They never panic, whatever the input.
package ident

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Field names the identifier an Error is about, for mapping to form fields.
type Field string

// The fields validated by this package.
const (
	FieldIDNumber   Field = "id_number"
	FieldCreditCode Field = "credit_code"
	FieldMobile     Field = "mobile"
)

// Reason says which rule an identifier broke, for callers that need more than
// the message (metrics, tests, API error details).
type Reason string

// The reasons an identifier can be rejected.
const (
	ReasonEmpty      Reason = "empty"      // nothing was entered
	ReasonLength     Reason = "length"     // wrong number of characters
	ReasonCharacters Reason = "characters" // a character not allowed at its position
	ReasonRegion     Reason = "region"     // the region code does not exist
	ReasonBirthDate  Reason = "birth_date" // not a real date, too early, or in the future
	ReasonCheckChar  Reason = "check_char" // the check character does not match
	ReasonFormat     Reason = "format"     // not the shape of a mainland mobile number
)

// Error is a validation failure. Message is user-facing Chinese that names the
// identifier and says how to fix it.
type Error struct {
	Field   Field
	Reason  Reason
	Message string
}

// Error returns the Chinese message.
func (e *Error) Error() string { return e.Message }

func newError(f Field, r Reason, msg string) *Error {
	return &Error{Field: f, Reason: r, Message: msg}
}

// normalize turns full-width ASCII (U+FF01–U+FF5E) and the ideographic space
// into ASCII, removes all spaces and upper-cases ASCII letters. Invalid UTF-8
// becomes U+FFFD, which every validator then rejects.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		}
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lengthMessage says how many characters were entered, which is usually the
// fastest hint to the mistake (a digit left out or typed twice).
func lengthMessage(name string, want int, s string) string {
	return name + "应为" + strconv.Itoa(want) + "位，您输入了" + strconv.Itoa(utf8.RuneCountInString(s)) + "位，请核对"
}

// ValidateMobile checks a mainland China mobile number (11 digits, 1[3-9]…)
// and returns it as 11 digits. Spaces and hyphens, as in "138 0013 8000", and
// a +86, 0086 or 86 country prefix are accepted and removed.
func ValidateMobile(s string) (string, error) {
	n := strings.ReplaceAll(normalize(s), "-", "")
	if n == "" {
		return "", newError(FieldMobile, ReasonEmpty, "请填写手机号码")
	}
	switch {
	case strings.HasPrefix(n, "+86"):
		n = n[3:]
	case strings.HasPrefix(n, "0086"):
		n = n[4:]
	case len(n) == 13 && strings.HasPrefix(n, "86"):
		n = n[2:]
	}
	if len(n) != 11 || !isDigits(n) || n[0] != '1' || n[1] < '3' {
		return "", newError(FieldMobile, ReasonFormat, "手机号码应为以1开头的11位数字，请核对")
	}
	return n, nil
}

// MaskName hides all but the first and last characters of a name:
// "张三丰" → "张*丰", "欧阳娜娜" → "欧**娜". A two-character name keeps only
// its first character, "张三" → "张*", because keeping both would hide
// nothing. A one-character name becomes "*". Surrounding spaces are dropped;
// characters are counted as runes, never bytes.
func MaskName(name string) string {
	r := []rune(strings.TrimSpace(name))
	switch n := len(r); {
	case n == 0:
		return ""
	case n == 1:
		return "*"
	case n == 2:
		return string(r[0]) + "*"
	default:
		return string(r[0]) + strings.Repeat("*", n-2) + string(r[n-1])
	}
}

// MaskIDNumber keeps the first 4 characters (province and city) and the last 4
// of an identity number and stars the rest, hiding the birth date:
// "110101199003071234" → "1101**********1234". Input shorter than 9
// characters is starred completely, since keeping 8 characters of it would
// show most or all of it.
func MaskIDNumber(id string) string {
	return maskMiddle(id, 4, 4)
}

// MaskPhone keeps the first 3 and last 4 digits of a phone number:
// "13800138000" → "138****8000". Input shorter than 8 characters is starred
// completely.
func MaskPhone(phone string) string {
	return maskMiddle(phone, 3, 4)
}

// maskMiddle keeps head and tail runes and stars the middle, and stars
// everything when there would be no middle left to hide.
func maskMiddle(s string, head, tail int) string {
	r := []rune(strings.TrimSpace(s))
	n := len(r)
	if n <= head+tail {
		return strings.Repeat("*", n)
	}
	return string(r[:head]) + strings.Repeat("*", n-head-tail) + string(r[n-tail:])
}
