package ident

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fixedNow is the clock for tests: 2026-03-01 01:00 in Beijing, which is
// still 2026-02-28 in UTC, to show that "today" is judged in Beijing time.
var fixedNow = time.Date(2026, 2, 28, 17, 0, 0, 0, time.UTC)

// validID builds a valid identity number from its first 17 digits.
func validID(t testing.TB, first17 string) string {
	t.Helper()
	c, err := IDCheckChar(first17)
	if err != nil {
		t.Fatalf("IDCheckChar(%q): %v", first17, err)
	}
	return first17 + string(c)
}

func TestIDCheckChar(t *testing.T) {
	tests := []struct {
		first17 string
		want    byte
		wantErr bool
	}{
		{"11010519491231002", 'X', false}, // the example in GB 11643-1999
		{"44052418800101001", '4', false}, // the other example there
		{"11010119900307123", '3', false},
		{"1101011990030712", 0, true},
		{"110101199003071234", 0, true},
		{"1101011990030712X", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.first17, func(t *testing.T) {
			got, err := IDCheckChar(tt.first17)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("IDCheckChar = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestValidateIDNumber(t *testing.T) {
	beijing := validID(t, "11010519491231002")
	tests := []struct {
		name   string
		in     string
		want   string
		reason Reason
	}{
		{"standard example", "11010519491231002X", "11010519491231002X", ""},
		{"lower-case x", "11010519491231002x", "11010519491231002X", ""},
		{"spaces around and inside", " 110105 19491231 002X ", "11010519491231002X", ""},
		{"full-width digits", "１１０１０５１９４９１２３１００２ｘ", "11010519491231002X", ""},
		{"digit check char", validID(t, "44030419851201234"), validID(t, "44030419851201234"), ""},
		{"Hong Kong residence permit", validID(t, "81000019900101001"), validID(t, "81000019900101001"), ""},
		{"leap day", validID(t, "32010220000229001"), validID(t, "32010220000229001"), ""},
		{"born today in Beijing", validID(t, "11010120260301001"), validID(t, "11010120260301001"), ""},
		{"empty", "  ", "", ReasonEmpty},
		{"17 characters", beijing[:17], "", ReasonLength},
		{"19 characters", beijing + "1", "", ReasonLength},
		{"old 15-digit number", "110105491231002", "", ReasonLength},
		{"letter inside", "1101051949123100AX", "", ReasonCharacters},
		{"wrong last char", "11010519491231002Y", "", ReasonCharacters},
		{"invalid UTF-8", "11010519491231\xff\xfeX", "", ReasonLength},
		{"Chinese character", "1101051949123100二X", "", ReasonCharacters},
		{"province 00", validID(t, "00010519491231002"), "", ReasonRegion},
		{"province 99", validID(t, "99010519491231002"), "", ReasonRegion},
		{"month 13", validID(t, "11010519491331002"), "", ReasonBirthDate},
		{"day 00", validID(t, "11010519491200002"), "", ReasonBirthDate},
		{"30 February", validID(t, "11010519490230002"), "", ReasonBirthDate},
		{"29 February 1900", validID(t, "11010519000229002"), "", ReasonBirthDate},
		{"born before 1900", "440524188001010014", "", ReasonBirthDate},
		{"born tomorrow in Beijing", validID(t, "11010120260302001"), "", ReasonBirthDate},
		{"born next century", validID(t, "11010121010101001"), "", ReasonBirthDate},
		{"wrong check digit", "110105194912310021", "", ReasonCheckChar},
		{"digit instead of X", "110105194912310020", "", ReasonCheckChar},
		{"two digits swapped", "11010519491231200X", "", ReasonCheckChar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateIDNumber(tt.in, fixedNow)
			if tt.reason == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ValidateIDNumber(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("ValidateIDNumber(%q) = %q, %v; want an *Error", tt.in, got, err)
			}
			if ve.Reason != tt.reason || ve.Field != FieldIDNumber {
				t.Errorf("error = %s/%s (%s), want %s/%s", ve.Field, ve.Reason, ve.Message, FieldIDNumber, tt.reason)
			}
			if got != "" {
				t.Errorf("returned %q with an error", got)
			}
			if !strings.Contains(ve.Error(), "身份证号") {
				t.Errorf("message %q does not name the field", ve.Error())
			}
		})
	}
}

func TestValidateIDNumberMessages(t *testing.T) {
	tests := []struct{ in, want string }{
		{"110105194912310021", "身份证号第18位校验码不正确，请核对"},
		{"1101051949123100", "身份证号应为18位，您输入了16位，请核对"},
		{validID(t, "11010519491331002"), "身份证号中的出生日期无效，请核对第7至14位"},
	}
	for _, tt := range tests {
		_, err := ValidateIDNumber(tt.in, fixedNow)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ValidateIDNumber(%q) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestIDBirthDateAndSex(t *testing.T) {
	tests := []struct {
		id   string
		date time.Time
		sex  string
	}{
		{"11010519491231002X", time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC), "F"},
		{validID(t, "44030419851201122"), time.Date(1985, 12, 1, 0, 0, 0, 0, time.UTC), "F"},
		{validID(t, "44030419851201125"), time.Date(1985, 12, 1, 0, 0, 0, 0, time.UTC), "M"},
		{validID(t, "44030419851201129"), time.Date(1985, 12, 1, 0, 0, 0, 0, time.UTC), "M"},
		{"", time.Time{}, ""},
		{"11010519491231002", time.Time{}, ""},
		{"11010519491331002X", time.Time{}, "F"}, // month 13: no date, sex still readable
		{"1101051949123100AX", time.Time{}, ""},
		{"张三丰张三丰", time.Time{}, ""}, // 18 bytes, not digits
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := IDBirthDate(tt.id); !got.Equal(tt.date) {
				t.Errorf("IDBirthDate = %v, want %v", got, tt.date)
			}
			if got := IDSex(tt.id); got != tt.sex {
				t.Errorf("IDSex = %q, want %q", got, tt.sex)
			}
		})
	}
}

func FuzzValidateIDNumber(f *testing.F) {
	for _, s := range []string{
		"11010519491231002X", "11010519491231002x", "110105194912310021", "440524188001010014",
		"", " ", "１１０１０５１９４９１２３１００２ｘ", "\xff\xfe", "110105194902300021", "99999999999999999X",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ValidateIDNumber(s, fixedNow)
		_ = MaskIDNumber(s)
		_ = IDBirthDate(s)
		_ = IDSex(s)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) || ve.Message == "" || n != "" {
				t.Fatalf("ValidateIDNumber(%q) = %q, %#v", s, n, err)
			}
			return
		}
		if len(n) != 18 || !utf8.ValidString(n) {
			t.Fatalf("ValidateIDNumber(%q) accepted %q", s, n)
		}
		if c, err := IDCheckChar(n[:17]); err != nil || c != n[17] {
			t.Fatalf("accepted %q with check char %q, want %q", n, n[17], c)
		}
		if again, err := ValidateIDNumber(n, fixedNow); err != nil || again != n {
			t.Fatalf("normalised %q does not validate to itself: %q, %v", n, again, err)
		}
		if d := IDBirthDate(n); d.IsZero() || d.Year() < earliestBirthYear {
			t.Fatalf("accepted %q with birth date %v", n, d)
		}
		if IDSex(n) == "" {
			t.Fatalf("accepted %q without a sex", n)
		}
	})
}
