package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckPolicy(t *testing.T) {
	tests := []struct {
		name  string
		pw    string
		login string
		want  []Rule // nil: accepted
	}{
		{"good", "Jifen-Bj-7x", "zhangsan", nil},
		{"three classes without symbol", "Hukou2026Ab", "zhangsan", nil},
		{"three classes without upper", "hukou-2026-ab", "zhangsan", nil},
		{"Chinese characters count as symbols", "北京积分abc2026", "zhangsan", nil},
		{"spaces count as symbols", "correct horse 9", "zhangsan", nil},
		{"exactly 8", "aB3$eF7*", "zhangsan", nil},
		{"exactly 128", strings.Repeat("aB3$", 32), "zhangsan", nil},
		{"short login may appear", "Xli-2026-pw", "li", nil},
		{"no login given", "Zhangsan-2026", "", nil},
		{"7 characters", "aB3$eF7", "zhangsan", []Rule{RuleMinLength}},
		{"empty", "", "zhangsan", []Rule{RuleMinLength, RuleClasses}},
		{"129 characters", strings.Repeat("aB3$", 32) + "x", "zhangsan", []Rule{RuleMaxLength}},
		{"8 runes, more bytes", "密码密码aB3!", "zhangsan", nil},
		{"7 runes, more bytes", "密码密码aB3", "zhangsan", []Rule{RuleMinLength}},
		{"only lower and digits", "hukou2026ab", "zhangsan", []Rule{RuleClasses}},
		{"only digits", "20261126", "zhangsan", []Rule{RuleClasses}},
		{"equals login", "Zhang.San1", "zhang.san1", []Rule{RuleLogin}},
		{"contains login", "Wang-Fang-2026", "wang-fang", []Rule{RuleLogin}},
		{"contains login, other case", "xxZHANGSANxx1!", "ZhangSan", []Rule{RuleLogin}},
		{"login with spaces around", "Admin-Li-2026", " li-2026 ", []Rule{RuleLogin}},
		{"common", "Passw0rd!", "zhangsan", []Rule{RuleCommon}},
		{"common, other case", "P@SSW0RD", "zhangsan", []Rule{RuleCommon}},
		{"common Chinese", "Woaini1314", "zhangsan", []Rule{RuleCommon}},
		{"common numeric", "12345678", "zhangsan", []Rule{RuleClasses, RuleCommon}},
		{"common default", "Huawei@123", "zhangsan", []Rule{RuleCommon}},
		{"common Aa123456", "Aa123456", "zhangsan", []Rule{RuleCommon}},
		{"everything wrong", "admin", "admin", []Rule{RuleMinLength, RuleClasses, RuleLogin, RuleCommon}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPolicy(tt.pw, tt.login)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckPolicy(%q, %q) = %v, want nil", tt.pw, tt.login, err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("CheckPolicy(%q, %q) = %v, want a *PolicyError", tt.pw, tt.login, err)
			}
			if !slices.Equal(pe.Rules, tt.want) {
				t.Errorf("broken rules = %v, want %v", pe.Rules, tt.want)
			}
			for _, r := range tt.want {
				if !pe.Has(r) {
					t.Errorf("Has(%s) = false", r)
				}
			}
			if len(pe.Messages()) != len(tt.want) {
				t.Errorf("Messages() = %q, want %d messages", pe.Messages(), len(tt.want))
			}
		})
	}
}

func TestPolicyMessages(t *testing.T) {
	tests := []struct{ pw, login, want string }{
		{"aB3$", "x", "密码至少需要8个字符"},
		{"abcdefgh1", "x", "密码需包含大写字母、小写字母、数字和符号中的至少3类"},
		{"Zhangsan-2026", "zhangsan", "密码不能包含登录名"},
		{"Passw0rd!", "x", "该密码过于常见，请换一个"},
		{"abc", "x", "密码至少需要8个字符；密码需包含大写字母、小写字母、数字和符号中的至少3类"},
	}
	for _, tt := range tests {
		if err := CheckPolicy(tt.pw, tt.login); err == nil || err.Error() != tt.want {
			t.Errorf("CheckPolicy(%q) = %v, want %q", tt.pw, err, tt.want)
		}
	}
}

func TestCommonList(t *testing.T) {
	if n := len(common); n < 500 {
		t.Fatalf("common list has %d entries, want several hundred", n)
	}
	for _, pw := range []string{"password", "123456", "qwerty", "passw0rd!", "aa123456", "woaini1314", "p@ssw0rd", "admin123"} {
		if _, ok := common[pw]; !ok {
			t.Errorf("%q is not in the common list", pw)
		}
	}
	if _, ok := common["# common passwords refused by checkpolicy, one per line, compared case-insensitively."]; ok {
		t.Error("comment line parsed as a password")
	}
	for pw := range common {
		if pw != strings.ToLower(pw) || pw != strings.TrimSpace(pw) || pw == "" {
			t.Errorf("entry %q is not normalised", pw)
		}
	}
}

func TestParseCommon(t *testing.T) {
	got := parseCommon("# comment\n\nAbc\r\n  def  \nabc\n")
	if len(got) != 2 {
		t.Fatalf("parseCommon = %v, want {abc, def}", got)
	}
	for _, w := range []string{"abc", "def"} {
		if _, ok := got[w]; !ok {
			t.Errorf("missing %q", w)
		}
	}
}
