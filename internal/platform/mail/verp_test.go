package mail

import (
	"regexp"
	"strings"
	"testing"
)

func TestVERP(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	addr := VERPAddress(key, "bounce", "bounce.jifen.example", 123)
	if !regexp.MustCompile(`^bounce\+123-[0-9a-f]{12}@bounce\.jifen\.example$`).MatchString(addr) {
		t.Fatalf("VERPAddress = %q", addr)
	}
	if !validAddress(addr) {
		t.Errorf("%q is not a valid address", addr)
	}
	if VERPAddress(key, "", "b.example", 123) != "bounce+"+strings.TrimPrefix(addr[:strings.IndexByte(addr, '@')], "bounce+")+"@b.example" {
		t.Error("the default prefix is not bounce, or the tag depends on the domain")
	}
	for _, ok := range []string{addr, "<" + addr + ">", strings.ToUpper(addr), "other+" + addr[len("bounce+"):]} {
		if id, valid := ParseVERP(key, ok); !valid || id != 123 {
			t.Errorf("ParseVERP(%q) = %d, %v", ok, id, valid)
		}
	}
	other := VERPAddress(key, "bounce", "bounce.jifen.example", 124)
	tag124 := other[strings.IndexByte(other, '-')+1 : strings.IndexByte(other, '@')]
	for _, bad := range []string{
		VERPAddress([]byte("another key"), "bounce", "bounce.jifen.example", 123),
		"bounce+123-" + tag124 + "@bounce.jifen.example",
		"bounce+0123-" + tag124 + "@bounce.jifen.example",
		"bounce+123@bounce.jifen.example",
		"bounce+-" + tag124 + "@bounce.jifen.example",
		"bounce+abc-" + tag124 + "@bounce.jifen.example",
		"bounce+0-" + tag124 + "@bounce.jifen.example",
		"bounce+-5-" + tag124 + "@bounce.jifen.example",
		"bounce+99999999999999999999-" + tag124 + "@x",
		"bounce+123-" + tag124[:6] + "@bounce.jifen.example",
		"no-at-sign", "@x", "",
	} {
		if id, valid := ParseVERP(key, bad); valid {
			t.Errorf("ParseVERP(%q) accepted: %d", bad, id)
		}
	}
}
