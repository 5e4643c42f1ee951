package totp

import (
	"bytes"
	"encoding/base32"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rfcSecret is the SHA-1 seed of RFC 6238 Appendix B, "12345678901234567890",
// in base32.
const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// rfcVectors are the SHA-1 rows of RFC 6238 Appendix B (8-digit codes).
var rfcVectors = []struct {
	unix int64
	code string
}{
	{59, "94287082"},
	{1111111109, "07081804"},
	{1111111111, "14050471"},
	{1234567890, "89005924"},
	{2000000000, "69279037"},
	{20000000000, "65353130"},
}

func TestRFC6238Vectors(t *testing.T) {
	if got := base32.StdEncoding.EncodeToString([]byte("12345678901234567890")); got != rfcSecret {
		t.Fatalf("test secret = %s, want %s", got, rfcSecret)
	}
	for _, v := range rfcVectors {
		t.Run(v.code, func(t *testing.T) {
			tm := time.Unix(v.unix, 0)
			key, _ := decodeSecret(rfcSecret)
			if got := hotp(key, uint64(Step(tm)), 8); got != v.code {
				t.Errorf("8-digit code at %d = %s, want %s", v.unix, got, v.code)
			}
			got, err := Code(rfcSecret, tm)
			if err != nil || got != v.code[2:] {
				t.Errorf("Code at %d = %q, %v; want %s", v.unix, got, err, v.code[2:])
			}
			step, ok := Validate(rfcSecret, v.code[2:], tm, 0)
			if !ok || step != v.unix/30 {
				t.Errorf("Validate at %d = %d, %v; want step %d", v.unix, step, ok, v.unix/30)
			}
		})
	}
}

func TestSecretForms(t *testing.T) {
	tm := time.Unix(1111111109, 0)
	for _, s := range []string{
		rfcSecret,
		strings.ToLower(rfcSecret),
		"GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
		"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====", // padded
	} {
		if got, err := Code(s, tm); err != nil || got != "081804" {
			t.Errorf("Code(%q) = %q, %v; want 081804", s, got, err)
		}
	}
	for _, s := range []string{"", "   ", "GEZDGNBV1", "!!!!", "===="} {
		if _, err := Code(s, tm); !errors.Is(err, ErrSecret) {
			t.Errorf("Code(%q) error = %v, want ErrSecret", s, err)
		}
		if _, ok := Validate(s, "081804", tm, 1); ok {
			t.Errorf("Validate with secret %q succeeded", s)
		}
	}
}

func TestValidateSkew(t *testing.T) {
	now := time.Unix(1234567890, 0)
	nowStep := Step(now)
	codeAt := func(d time.Duration) string {
		c, err := Code(rfcSecret, now.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		code     string
		skew     int
		wantOK   bool
		wantStep int64
	}{
		{"current step", codeAt(0), 0, true, nowStep},
		{"previous step, no skew", codeAt(-30 * time.Second), 0, false, 0},
		{"previous step, skew 1", codeAt(-30 * time.Second), 1, true, nowStep - 1},
		{"next step, skew 1", codeAt(30 * time.Second), 1, true, nowStep + 1},
		{"two steps back, skew 1", codeAt(-60 * time.Second), 1, false, 0},
		{"two steps back, skew 2", codeAt(-60 * time.Second), 2, true, nowStep - 2},
		{"negative skew is 0", codeAt(-30 * time.Second), -5, false, 0},
		{"skew capped at MaxSkew", codeAt(-(MaxSkew + 1) * 30 * time.Second), 100, false, 0},
		{"skew MaxSkew reaches", codeAt(-MaxSkew * 30 * time.Second), 100, true, nowStep - MaxSkew},
		{"spaces ignored", codeAt(0)[:3] + " " + codeAt(0)[3:], 0, true, nowStep},
		{"5 digits", codeAt(0)[:5], 1, false, 0},
		{"7 digits", codeAt(0) + "0", 1, false, 0},
		{"letters", "abcdef", 1, false, 0},
		{"full-width digits", "１２３４５６", 1, false, 0},
		{"empty", "", 1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := Validate(rfcSecret, tt.code, now, tt.skew)
			if ok != tt.wantOK || step != tt.wantStep {
				t.Errorf("Validate(%q, skew %d) = %d, %v; want %d, %v", tt.code, tt.skew, step, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
}

// TestValidateReturnsStepForReplayCheck shows how a caller refuses replays: a
// code used at the start of its step and again later in the same window
// returns the same step both times.
func TestValidateReturnsStepForReplayCheck(t *testing.T) {
	start := time.Unix(1700000010, 0) // 1700000010 is 0 s into its step
	code, _ := Code(rfcSecret, start)
	first, ok := Validate(rfcSecret, code, start, 1)
	if !ok {
		t.Fatal("first use refused")
	}
	lastUsed := first
	for _, later := range []time.Duration{1 * time.Second, 29 * time.Second, 59 * time.Second} {
		step, ok := Validate(rfcSecret, code, start.Add(later), 1)
		if !ok || step != first {
			t.Fatalf("Validate %v later = %d, %v; want step %d", later, step, ok, first)
		}
		if step > lastUsed {
			t.Fatalf("replay %v later would be accepted", later)
		}
	}
	next, _ := Code(rfcSecret, start.Add(30*time.Second))
	if step, ok := Validate(rfcSecret, next, start.Add(30*time.Second), 1); !ok || step != lastUsed+1 {
		t.Errorf("next step's code = %d, %v; want step %d", step, ok, lastUsed+1)
	}
}

func TestBeforeEpoch(t *testing.T) {
	before := time.Unix(-1, 0)
	if Step(before) != -1 {
		t.Errorf("Step(before epoch) = %d, want -1", Step(before))
	}
	if _, err := Code(rfcSecret, before); !errors.Is(err, ErrTime) {
		t.Errorf("Code(before epoch) error = %v, want ErrTime", err)
	}
	if _, ok := Validate(rfcSecret, "000000", before, 1); ok {
		t.Error("Validate before epoch succeeded")
	}
	// At step 0 a skew must not reach negative steps.
	c, _ := Code(rfcSecret, time.Unix(0, 0))
	if step, ok := Validate(rfcSecret, c, time.Unix(5, 0), 3); !ok || step != 0 {
		t.Errorf("Validate at step 0 = %d, %v", step, ok)
	}
}

func TestGenerateSecret(t *testing.T) {
	a, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || strings.Contains(a, "=") {
		t.Errorf("GenerateSecret = %q, want 32 base32 characters without padding", a)
	}
	key, err := decodeSecret(a)
	if err != nil || len(key) != SecretSize {
		t.Errorf("secret decodes to %d bytes, %v; want %d", len(key), err, SecretSize)
	}
	b, _ := GenerateSecret()
	if a == b {
		t.Error("two secrets are equal")
	}
	c, err := Code(a, time.Now())
	if err != nil || len(c) != Digits {
		t.Errorf("Code(new secret) = %q, %v", c, err)
	}
}

func TestURI(t *testing.T) {
	tests := []struct {
		name, issuer, account, secret, want string
	}{
		{"plain", "Jifen", "zhangsan", rfcSecret,
			"otpauth://totp/Jifen:zhangsan?secret=" + rfcSecret + "&issuer=Jifen&algorithm=SHA1&digits=6&period=30"},
		{"Chinese issuer, spaces", "北京 积分", "li si", rfcSecret,
			"otpauth://totp/%E5%8C%97%E4%BA%AC%20%E7%A7%AF%E5%88%86:li%20si?secret=" + rfcSecret +
				"&issuer=%E5%8C%97%E4%BA%AC%20%E7%A7%AF%E5%88%86&algorithm=SHA1&digits=6&period=30"},
		{"separators escaped", "a:b&c", "x@y.cn/z?", "gezd gnbv===",
			"otpauth://totp/a%3Ab%26c:x%40y.cn%2Fz%3F?secret=GEZDGNBV&issuer=a%3Ab%26c&algorithm=SHA1&digits=6&period=30"},
		{"no issuer", "", "wangwu", rfcSecret,
			"otpauth://totp/wangwu?secret=" + rfcSecret + "&algorithm=SHA1&digits=6&period=30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := URI(tt.issuer, tt.account, tt.secret)
			if got != tt.want {
				t.Fatalf("URI =\n %s\nwant\n %s", got, tt.want)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("URI does not parse: %v", err)
			}
			if u.Query().Get("issuer") != tt.issuer {
				t.Errorf("issuer parses as %q, want %q", u.Query().Get("issuer"), tt.issuer)
			}
		})
	}
}

func TestQRCodePNG(t *testing.T) {
	uri := URI("北京积分落户", "zhangsan", rfcSecret)
	for _, size := range []int{MinQRSize, 256, 300, MaxQRSize} {
		b, err := QRCodePNG(uri, size)
		if err != nil {
			t.Fatalf("QRCodePNG(%d): %v", size, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("QRCodePNG(%d) is not a PNG: %v", size, err)
		}
		if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
			t.Errorf("QRCodePNG(%d) is %dx%d", size, r.Dx(), r.Dy())
		}
	}
	for _, size := range []int{0, -1, MinQRSize - 1, MaxQRSize + 1} {
		if _, err := QRCodePNG(uri, size); err == nil {
			t.Errorf("QRCodePNG(size %d) succeeded", size)
		}
	}
	// A long account name needs more modules than MinQRSize pixels: the
	// image grows instead of losing modules.
	long := URI("北京积分落户", strings.Repeat("长", 120), rfcSecret)
	b, err := QRCodePNG(long, MinQRSize)
	if err != nil {
		t.Fatalf("QRCodePNG(long URI): %v", err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() < MinQRSize || img.Bounds().Dx() != img.Bounds().Dy() {
		t.Errorf("QRCodePNG(long URI) = %v, %v", img.Bounds(), err)
	}
	if _, err := QRCodePNG(strings.Repeat("x", 5000), 256); err == nil {
		t.Error("QRCodePNG accepted content too long for any QR code")
	}
}
