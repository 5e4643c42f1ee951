package password

import (
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Policy limits. 等保 level 3 asks for complexity; where it and OWASP ASVS
// disagree on composition rules, the project follows 等保 (see SECURITY.md).
const (
	MinLength  = 8
	MaxLength  = 128 // runes; long enough for passphrases, short enough to bound work
	MinClasses = 3
	// minLoginLen is the shortest login name that passwords may not contain;
	// refusing every password that contains, say, "li" would refuse far too much.
	minLoginLen = 3
)

// Rule names one password policy rule.
type Rule string

// The rules CheckPolicy enforces.
const (
	RuleMinLength Rule = "min_length"
	RuleMaxLength Rule = "max_length"
	RuleClasses   Rule = "classes"
	RuleLogin     Rule = "login"
	RuleCommon    Rule = "common"
)

// ruleMessages are the user-facing explanations, in the order they are shown.
var ruleMessages = [...]struct {
	rule Rule
	msg  string
}{
	{RuleMinLength, "密码至少需要8个字符"},
	{RuleMaxLength, "密码不能超过128个字符"},
	{RuleClasses, "密码需包含大写字母、小写字母、数字和符号中的至少3类"},
	{RuleLogin, "密码不能包含登录名"},
	{RuleCommon, "该密码过于常见，请换一个"},
}

// PolicyError lists every rule a password breaks, so the user can fix them
// all at once. Its message joins the Chinese explanations with "；".
type PolicyError struct {
	Rules []Rule
}

// Error returns the Chinese explanation of every broken rule.
func (e *PolicyError) Error() string {
	return strings.Join(e.Messages(), "；")
}

// Messages returns one Chinese explanation per broken rule.
func (e *PolicyError) Messages() []string {
	var out []string
	for _, rm := range ruleMessages {
		for _, r := range e.Rules {
			if r == rm.rule {
				out = append(out, rm.msg)
			}
		}
	}
	return out
}

// Has reports whether the password broke rule r.
func (e *PolicyError) Has(r Rule) bool {
	for _, x := range e.Rules {
		if x == r {
			return true
		}
	}
	return false
}

//go:embed common.txt
var commonText string

// common is the set of refused passwords, lower-case. Built once at start and
// never written to afterwards.
var common = parseCommon(commonText)

func parseCommon(text string) map[string]struct{} {
	set := make(map[string]struct{})
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
}

// CheckPolicy returns nil if pw may be used by the account login, and
// otherwise a *PolicyError naming every broken rule:
//
//   - 8 to 128 characters (counted as Unicode characters, not bytes);
//   - at least 3 of 4 classes: upper-case letters, lower-case letters, digits,
//     and symbols (anything else, including spaces and Chinese characters);
//   - not the login name and, for login names of 3 or more characters, not
//     containing it, ignoring case;
//   - not in the embedded list of common passwords, ignoring case.
//
// Passwords are not trimmed or otherwise changed: spaces count.
func CheckPolicy(pw, login string) error {
	var broken []Rule
	n := utf8.RuneCountInString(pw)
	if n < MinLength {
		broken = append(broken, RuleMinLength)
	}
	if n > MaxLength {
		broken = append(broken, RuleMaxLength)
	}
	if classes(pw) < MinClasses {
		broken = append(broken, RuleClasses)
	}
	if containsLogin(pw, login) {
		broken = append(broken, RuleLogin)
	}
	if _, ok := common[strings.ToLower(pw)]; ok {
		broken = append(broken, RuleCommon)
	}
	if broken != nil {
		return &PolicyError{Rules: broken}
	}
	return nil
}

func classes(pw string) int {
	var upper, lower, digit, symbol int
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			symbol = 1
		}
	}
	return upper + lower + digit + symbol
}

func containsLogin(pw, login string) bool {
	login = strings.ToLower(strings.TrimSpace(login))
	if login == "" {
		return false
	}
	pw = strings.ToLower(pw)
	if pw == login {
		return true
	}
	return utf8.RuneCountInString(login) >= minLoginLen && strings.Contains(pw, login)
}
