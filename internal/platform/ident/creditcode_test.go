package ident

import (
	"errors"
	"strings"
	"testing"
)

// validCredit builds a valid credit code from its first 17 characters.
func validCredit(t testing.TB, first17 string) string {
	t.Helper()
	c, err := CreditCodeCheckChar(first17)
	if err != nil {
		t.Fatalf("CreditCodeCheckChar(%q): %v", first17, err)
	}
	return first17 + string(c)
}

func TestCreditCodeCheckChar(t *testing.T) {
	tests := []struct {
		first17 string
		want    byte
		wantErr bool
	}{
		// Codes published on business licences.
		{"91330100799655058", 'B', false},
		{"91440300708461136", 'T', false},
		{"91440300192203821", '6', false},
		{"1100000000000000", 0, true},  // 16 characters
		{"91330100799655O58", 0, true}, // letter O
		{"91330100799655i58", 0, true}, // lower case is the caller's job
		{"9133010079965505中", 0, true}, // 17 runes, more bytes
	}
	for _, tt := range tests {
		t.Run(tt.first17, func(t *testing.T) {
			got, err := CreditCodeCheckChar(tt.first17)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("CreditCodeCheckChar = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestCreditCodeCheckCharZero covers the 31 → 0 rule: a sum that is a multiple
// of 31 gives check character '0', never an index out of the alphabet.
func TestCreditCodeCheckCharZero(t *testing.T) {
	c, err := CreditCodeCheckChar(strings.Repeat("0", 17))
	if err != nil || c != '0' {
		t.Fatalf("CreditCodeCheckChar(17 zeros) = %q, %v; want '0'", c, err)
	}
}

func TestValidateCreditCode(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string
		reason Reason
	}{
		{"enterprise", "91330100799655058B", "91330100799655058B", ""},
		{"digit check char", "914403001922038216", "914403001922038216", ""},
		{"lower case and spaces", " 9144 0300 7084 6113 6t ", "91440300708461136T", ""},
		{"full-width", "９１３３０１００７９９６５５０５８Ｂ", "91330100799655058B", ""},
		{"social organisation", validCredit(t, "51110000MJ0000000"), validCredit(t, "51110000MJ0000000"), ""},
		{"empty", "", "", ReasonEmpty},
		{"17 characters", "91330100799655058", "", ReasonLength},
		{"old organisation code", "79965505-8", "", ReasonLength},
		{"letter I", "91330100799655I58B", "", ReasonCharacters},
		{"letter Z", "Z1330100799655058B", "", ReasonCharacters},
		{"punctuation", "91330100799655058.", "", ReasonCharacters},
		{"Chinese character", "9133010079965505中B", "", ReasonCharacters},
		{"19 characters with Chinese", "91330100799655058B中", "", ReasonLength},
		{"letter in division code", validCredit(t, "9133A100799655058"), "", ReasonRegion},
		{"wrong check char", "91330100799655058C", "", ReasonCheckChar},
		{"one character changed", "91330100799655059B", "", ReasonCheckChar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateCreditCode(tt.in)
			if tt.reason == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ValidateCreditCode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("ValidateCreditCode(%q) = %q, %v; want an *Error", tt.in, got, err)
			}
			if ve.Reason != tt.reason || ve.Field != FieldCreditCode {
				t.Errorf("error = %s/%s (%s), want %s/%s", ve.Field, ve.Reason, ve.Message, FieldCreditCode, tt.reason)
			}
			if !strings.Contains(ve.Message, "统一社会信用代码") {
				t.Errorf("message %q does not name the field", ve.Message)
			}
		})
	}
}

func FuzzValidateCreditCode(f *testing.F) {
	for _, s := range []string{
		"91330100799655058B", "914403001922038216", "91330100799655058C", "", "\x00",
		"９１３３０１００７９９６５５０５８Ｂ", "000000000000000000", "YYYYYYYYYYYYYYYYYY",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ValidateCreditCode(s)
		if err != nil {
			var ve *Error
			if !errors.As(err, &ve) || ve.Message == "" || n != "" {
				t.Fatalf("ValidateCreditCode(%q) = %q, %#v", s, n, err)
			}
			return
		}
		if len(n) != 18 {
			t.Fatalf("ValidateCreditCode(%q) accepted %q", s, n)
		}
		for i := 0; i < len(n); i++ {
			if strings.IndexByte(creditAlphabet, n[i]) < 0 {
				t.Fatalf("accepted %q with %q outside the alphabet", n, n[i])
			}
		}
		if c, err := CreditCodeCheckChar(n[:17]); err != nil || c != n[17] {
			t.Fatalf("accepted %q with check char %q, want %q", n, n[17], c)
		}
		if again, err := ValidateCreditCode(n); err != nil || again != n {
			t.Fatalf("normalised %q does not validate to itself: %q, %v", n, again, err)
		}
	})
}
