package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func testKeyring(t *testing.T, fill byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(bytes.Repeat([]byte{fill}, MasterKeySize))
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func TestEncryptRoundTrip(t *testing.T) {
	k := testKeyring(t, 0x42)
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"id number", []byte("11010119900307123X"), []byte("person.id_number:17")},
		{"phone", []byte("13800138000"), []byte("person.phone:17")},
		{"empty plaintext", []byte{}, []byte("x")},
		{"nil associated data", []byte("张三丰"), nil},
		{"long", bytes.Repeat([]byte("a"), 10000), []byte("blob")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := k.Encrypt(tt.plaintext, tt.ad)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if got, want := len(ct), len(tt.plaintext)+Overhead; got != want {
				t.Errorf("len(ciphertext) = %d, want %d", got, want)
			}
			if ct[0] != version1 {
				t.Errorf("version byte = %#x, want %#x", ct[0], version1)
			}
			if len(tt.plaintext) > 4 && bytes.Contains(ct, tt.plaintext) {
				t.Error("ciphertext contains the plaintext")
			}
			got, err := k.Decrypt(ct, tt.ad)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Decrypt = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestEncryptUsesFreshNonce(t *testing.T) {
	k := testKeyring(t, 1)
	a, _ := k.Encrypt([]byte("same"), nil)
	b, _ := k.Encrypt([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same plaintext are identical")
	}
}

func TestDecryptRejects(t *testing.T) {
	k := testKeyring(t, 7)
	ad := []byte("person.id_number:1")
	ct, err := k.Encrypt([]byte("110101199003071234"), ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name string
		k    *Keyring
		ct   []byte
		ad   []byte
	}{
		{"flipped version", k, flip(0), ad},
		{"flipped nonce", k, flip(1), ad},
		{"flipped body", k, flip(1 + nonceSize), ad},
		{"flipped tag", k, flip(len(ct) - 1), ad},
		{"truncated", k, ct[:len(ct)-1], ad},
		{"too short", k, ct[:Overhead-1], ad},
		{"empty", k, nil, ad},
		{"wrong associated data", k, ct, []byte("person.id_number:2")},
		{"missing associated data", k, ct, nil},
		{"other key", testKeyring(t, 8), ct, ad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.k.Decrypt(tt.ct, tt.ad)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Decrypt error = %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Errorf("Decrypt returned %q with an error", got)
			}
		})
	}
}

func TestEncryptStringRoundTrip(t *testing.T) {
	k := testKeyring(t, 3)
	for _, plain := range []string{"", "13800138000", "张三丰", "11010119900307123X"} {
		ct, err := k.EncryptString(plain, "ad")
		if err != nil {
			t.Fatalf("EncryptString(%q): %v", plain, err)
		}
		if strings.Contains(ct, plain) && plain != "" {
			t.Errorf("EncryptString(%q) leaks the plaintext: %q", plain, ct)
		}
		got, err := k.DecryptString(ct, "ad")
		if err != nil || got != plain {
			t.Errorf("DecryptString = %q, %v; want %q", got, err, plain)
		}
		if _, err := k.DecryptString(ct, "other"); !errors.Is(err, ErrDecrypt) {
			t.Errorf("DecryptString with wrong AD: err = %v, want ErrDecrypt", err)
		}
	}
	if _, err := k.DecryptString("not base64!", "ad"); !errors.Is(err, ErrDecrypt) {
		t.Errorf("DecryptString(bad base64): err = %v, want ErrDecrypt", err)
	}
}

func TestBlindIndex(t *testing.T) {
	k := testKeyring(t, 9)
	id := "11010119900307123X"
	a := k.BlindIndex("id_number", id)
	if len(a) != 64 {
		t.Fatalf("len(BlindIndex) = %d, want 64", len(a))
	}
	if _, err := hex.DecodeString(a); err != nil {
		t.Fatalf("BlindIndex is not hex: %v", err)
	}
	tests := []struct {
		name     string
		got      string
		wantSame bool
	}{
		{"deterministic", k.BlindIndex("id_number", id), true},
		{"other value", k.BlindIndex("id_number", "11010119900307124X"), false},
		{"other domain", k.BlindIndex("phone", id), false},
		{"domain boundary moved", k.BlindIndex("id_number1", id[1:]), false},
		{"other key", testKeyring(t, 10).BlindIndex("id_number", id), false},
		{"not normalised", k.BlindIndex("id_number", strings.ToLower(id)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if same := tt.got == a; same != tt.wantSame {
				t.Errorf("same index = %v, want %v", same, tt.wantSame)
			}
		})
	}
}

func TestSM3Hex(t *testing.T) {
	// Test vectors from GB/T 32905-2016, appendix A.
	tests := []struct {
		name string
		data [][]byte
		want string
	}{
		{"abc", [][]byte{[]byte("abc")}, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{"abc in parts", [][]byte{[]byte("a"), nil, []byte("bc")}, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{"abcd x16", [][]byte{[]byte(strings.Repeat("abcd", 16))}, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SM3Hex(tt.data...); got != tt.want {
				t.Errorf("SM3Hex = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestHMACSM3(t *testing.T) {
	a := HMACSM3([]byte("key"), []byte("data"))
	if len(a) != 32 {
		t.Fatalf("len = %d, want 32", len(a))
	}
	if !bytes.Equal(a, HMACSM3([]byte("key"), []byte("data"))) {
		t.Error("HMACSM3 is not deterministic")
	}
	if bytes.Equal(a, HMACSM3([]byte("key2"), []byte("data"))) {
		t.Error("HMACSM3 ignores the key")
	}
	if hex.EncodeToString(a) == SM3Hex([]byte("keydata")) {
		t.Error("HMACSM3 is a plain hash")
	}
}

func TestDerivedKeysDiffer(t *testing.T) {
	k := testKeyring(t, 0x55)
	if k.dataKey == k.indexKey || k.dataKey == k.pepper || k.indexKey == k.pepper {
		t.Fatal("derived keys are not independent")
	}
	if p := k.Pepper(); !bytes.Equal(p, k.pepper[:]) {
		t.Error("Pepper does not return the pepper")
	} else {
		p[0] ^= 0xff
		if k.pepper[0] == p[0] {
			t.Error("Pepper returns the keyring's own slice")
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	k, _ := NewKeyring(make([]byte, MasterKeySize))
	pt, ad := []byte("11010119900307123X"), []byte("person.id_number:1")
	for b.Loop() {
		if _, err := k.Encrypt(pt, ad); err != nil {
			b.Fatal(err)
		}
	}
}
