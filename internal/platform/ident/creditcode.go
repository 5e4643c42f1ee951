package ident

import (
	"strings"
	"unicode/utf8"
)

// Layout of a unified social credit code (GB 32100-2015), 18 characters from
// creditAlphabet:
//
//	position 1     registration authority (1 机构编制, 5 民政, 9 市场监管, Y 其他, …)
//	position 2     kind of organisation within that authority
//	positions 3–8  administrative division code (6 digits, GB/T 2260)
//	positions 9–17 organisation code (GB 11714)
//	position 18    check character over positions 1–17
const creditLength = 18

// creditAlphabet is the 31-character set of GB 32100-2015: digits and upper-case
// letters without I, O, S, V and Z. A character's value is its index.
const creditAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditWeights are 3^(i-1) mod 31 for positions i = 1..17.
var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeCheckChar returns the check character for the first 17 characters
// of a unified social credit code: C18 = 31 − (Σ value·weight mod 31), with 31
// written as 0. first17 must be upper-case characters of the code's alphabet.
// Test-data generators use it to make valid codes.
func CreditCodeCheckChar(first17 string) (byte, error) {
	if len(first17) != creditLength-1 {
		return 0, newError(FieldCreditCode, ReasonLength, "统一社会信用代码前17位应为17个字符")
	}
	sum := 0
	for i := range creditWeights {
		v := strings.IndexByte(creditAlphabet, first17[i])
		if v < 0 {
			return 0, errCreditCharacters()
		}
		sum += v * creditWeights[i]
	}
	return creditAlphabet[(31-sum%31)%31], nil
}

func errCreditCharacters() *Error {
	return newError(FieldCreditCode, ReasonCharacters,
		"统一社会信用代码只能包含数字和大写字母（不含I、O、S、V、Z），请核对")
}

// ValidateCreditCode checks an 18-character unified social credit code and
// returns it normalised (spaces removed, full-width characters made ASCII,
// letters upper-cased). It checks the length, the alphabet, that positions
// 3–8 are digits, and the check character.
//
// Positions 1–2 are not checked against the list of registration authorities
// and organisation kinds, and the organisation code's own check digit
// (position 17) is not verified: both lists have grown since 2015, and a code
// the registry issued must never be refused. The final check character
// already catches any single mistyped character.
func ValidateCreditCode(s string) (string, error) {
	n := normalize(s)
	if n == "" {
		return "", newError(FieldCreditCode, ReasonEmpty, "请填写统一社会信用代码")
	}
	if utf8.RuneCountInString(n) != creditLength {
		return "", newError(FieldCreditCode, ReasonLength, lengthMessage("统一社会信用代码", creditLength, n))
	}
	for i := 0; i < len(n); i++ {
		if strings.IndexByte(creditAlphabet, n[i]) < 0 {
			return "", errCreditCharacters()
		}
	}
	if !isDigits(n[2:8]) {
		return "", newError(FieldCreditCode, ReasonRegion,
			"统一社会信用代码第3至8位应为6位数字的行政区划代码，请核对")
	}
	check, err := CreditCodeCheckChar(n[:creditLength-1])
	if err != nil {
		return "", err
	}
	if n[creditLength-1] != check {
		return "", newError(FieldCreditCode, ReasonCheckChar, "统一社会信用代码第18位校验码不正确，请核对")
	}
	return n, nil
}
