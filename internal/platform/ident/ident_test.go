package ident

import (
	"errors"
	"testing"
)

func TestValidateMobile(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr Reason
	}{
		{"13800138000", "13800138000", ""},
		{"19912345678", "19912345678", ""},
		{" 138 0013 8000 ", "13800138000", ""},
		{"138-0013-8000", "13800138000", ""},
		{"+86 138 0013 8000", "13800138000", ""},
		{"+8613800138000", "13800138000", ""},
		{"008613800138000", "13800138000", ""},
		{"8613800138000", "13800138000", ""},
		{"１３８００１３８０００", "13800138000", ""},
		{"", "", ReasonEmpty},
		{" - ", "", ReasonEmpty},
		{"12800138000", "", ReasonFormat},     // second digit 2
		{"23800138000", "", ReasonFormat},     // does not start with 1
		{"1380013800", "", ReasonFormat},      // 10 digits
		{"138001380001", "", ReasonFormat},    // 12 digits
		{"1380013800a", "", ReasonFormat},     // letter
		{"010-12345678", "", ReasonFormat},    // landline
		{"+8512345678901", "", ReasonFormat},  // other country
		{"861380013800", "", ReasonFormat},    // 86 + 10 digits
		{"13800138000\xff", "", ReasonFormat}, // invalid UTF-8
		{"１３８００１３８００００", "", ReasonFormat},    // 12 full-width digits
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ValidateMobile(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ValidateMobile(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var ve *Error
			if !errors.As(err, &ve) || ve.Reason != tt.wantErr || ve.Field != FieldMobile {
				t.Fatalf("ValidateMobile(%q) = %q, %v; want reason %s", tt.in, got, err, tt.wantErr)
			}
			if got != "" {
				t.Errorf("returned %q with an error", got)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"abcXYZ", "ABCXYZ"},
		{" a b\tc\r\n", "ABC"},
		{"ａｂｃ１２３", "ABC123"},
		{"１　２", "12"}, // ideographic space
		{"中文", "中文"},
		{"\xff", "\uFFFD"},
	}
	for _, tt := range tests {
		if got := normalize(tt.in); got != tt.want {
			t.Errorf("normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorMessageIsChinese(t *testing.T) {
	_, err := ValidateMobile("123")
	if err == nil || err.Error() != "手机号码应为以1开头的11位数字，请核对" {
		t.Fatalf("error = %v", err)
	}
}

func TestMaskName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"张三丰", "张*丰"},
		{"张三", "张*"},
		{"欧阳娜娜", "欧**娜"},
		{"买买提·艾力", "买****力"},
		{"张", "*"},
		{"", ""},
		{"  李四  ", "李*"},
		{"Li", "L*"},
		{"\xff\xfe\xfd", "\uFFFD*\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := MaskName(tt.in); got != tt.want {
				t.Errorf("MaskName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskIDNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"110101199003071234", "1101**********1234"},
		{"11010119900307123X", "1101**********123X"},
		{"110105491231002", "1101*******1002"}, // old 15-digit number
		{"123456789", "1234*6789"},
		{"12345678", "********"},
		{"123", "***"},
		{"", ""},
		{"１１０１０１１９９００３０７１２３４", "１１０１**********１２３４"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := MaskIDNumber(tt.in); got != tt.want {
				t.Errorf("MaskIDNumber(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"13800138000", "138****8000"},
		{"01012345678", "010****5678"},
		{"12345678", "123*5678"},
		{"1234567", "*******"},
		{"", ""},
		{" 13800138000 ", "138****8000"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := MaskPhone(tt.in); got != tt.want {
				t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
