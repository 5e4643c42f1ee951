package password

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/crypto/argon2"
)

func testPepper(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newTestHasher(t testing.TB, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := NewHasher(testPepper(1), maxConcurrent)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

// cheapHash builds a PHC string with other (cheaper) parameters, as an older
// version of jifen might have stored.
func cheapHash(t testing.TB, pepper []byte, pw string, m, time uint32, lanes uint8) string {
	t.Helper()
	mac := hmac.New(sm3.New, pepper)
	mac.Write([]byte(pw))
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey(mac.Sum(nil), salt, time, m, lanes, 32)
	return encode(params{m, time, lanes}, salt, key)
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashFormatAndVerify(t *testing.T) {
	h := newTestHasher(t, 0)
	ctx := context.Background()
	pw := "Zhang-San-2026!"
	enc, err := h.Hash(ctx, pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !phcPattern.MatchString(enc) {
		t.Fatalf("Hash = %q, not the expected PHC string", enc)
	}
	if h.NeedsRehash(enc) {
		t.Error("NeedsRehash(fresh hash) = true")
	}
	tests := []struct {
		name string
		h    *Hasher
		pw   string
		want bool
	}{
		{"right password", h, pw, true},
		{"wrong password", h, "Zhang-San-2026?", false},
		{"case differs", h, strings.ToLower(pw), false},
		{"empty", h, "", false},
		{"other pepper", mustHasher(t, testPepper(2)), pw, false},
		{"same pepper, other hasher", mustHasher(t, testPepper(1)), pw, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := tt.h.Verify(ctx, enc, tt.pw)
			if err != nil || ok != tt.want {
				t.Errorf("Verify = %v, %v; want %v", ok, err, tt.want)
			}
		})
	}
}

func mustHasher(t *testing.T, pepper []byte) *Hasher {
	t.Helper()
	h, err := NewHasher(pepper, 1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHashIsPepperedArgon2id recomputes a hash from its parts, to pin down
// exactly what is stored: argon2id(HMAC-SM3(pepper, pw), salt).
func TestHashIsPepperedArgon2id(t *testing.T) {
	h := newTestHasher(t, 1)
	enc, err := h.Hash(context.Background(), "Abc!2345678")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(enc, "$")
	salt, _ := base64.RawStdEncoding.DecodeString(f[4])
	got, _ := base64.RawStdEncoding.DecodeString(f[5])
	mac := hmac.New(sm3.New, testPepper(1))
	mac.Write([]byte("Abc!2345678"))
	want := argon2.IDKey(mac.Sum(nil), salt, 2, 19456, 1, 32)
	if !bytes.Equal(got, want) {
		t.Fatal("stored key is not argon2id(HMAC-SM3(pepper, pw), salt, t=2, m=19456, p=1)")
	}
	if again, _ := h.Hash(context.Background(), "Abc!2345678"); again == enc {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyOlderParameters(t *testing.T) {
	h := newTestHasher(t, 1)
	old := cheapHash(t, testPepper(1), "Old-Passw0rd", 8*1024, 1, 2)
	ok, err := h.Verify(context.Background(), old, "Old-Passw0rd")
	if err != nil || !ok {
		t.Fatalf("Verify(older parameters) = %v, %v; want true", ok, err)
	}
	if !h.NeedsRehash(old) {
		t.Error("NeedsRehash(older parameters) = false, want true")
	}
}

func TestNeedsRehash(t *testing.T) {
	h := newTestHasher(t, 1)
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name string
		enc  string
		want bool
	}{
		{"current", fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$%s$%s", salt, key), false},
		{"less memory", fmt.Sprintf("$argon2id$v=19$m=8192,t=2,p=1$%s$%s", salt, key), true},
		{"more passes", fmt.Sprintf("$argon2id$v=19$m=19456,t=3,p=1$%s$%s", salt, key), true},
		{"more lanes", fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=2$%s$%s", salt, key), true},
		{"short salt", fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$%s$%s", salt[:11], key), true},
		{"long key", fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$%s$%s", salt, key+key[:22]), true},
		{"malformed", "not a hash", true},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.NeedsRehash(tt.enc); got != tt.want {
				t.Errorf("NeedsRehash(%q) = %v, want %v", tt.enc, got, tt.want)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newTestHasher(t, 1)
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	ok := func(ps string) string { return "$argon2id$v=19$" + ps + "$" + salt + "$" + key }
	tests := []struct{ name, enc string }{
		{"empty", ""},
		{"plain text", "Passw0rd!"},
		{"argon2i", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key},
		{"params reordered", ok("t=2,m=19456,p=1")},
		{"param missing", ok("m=19456,t=2")},
		{"extra param", ok("m=19456,t=2,p=1,k=1")},
		{"memory too large", ok("m=4194304,t=2,p=1")},
		{"memory below 8 per lane", ok("m=8,t=2,p=2")},
		{"zero passes", ok("m=19456,t=0,p=1")},
		{"too many passes", ok("m=19456,t=1000,p=1")},
		{"negative", ok("m=19456,t=-2,p=1")},
		{"plus sign", ok("m=+19456,t=2,p=1")},
		{"leading zero", ok("m=019456,t=2,p=1")},
		{"overflow", ok("m=99999999999999999999,t=2,p=1")},
		{"padded salt", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key},
		{"bad base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!!$" + key},
		{"salt too short", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$" + key},
		{"key too short", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$AAAA"},
		{"trailing field", ok("m=19456,t=2,p=1") + "$x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.Verify(context.Background(), tt.enc, "Passw0rd!")
			if got || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", tt.enc, got, err)
			}
		})
	}
}

func TestNewHasherRejectsShortPepper(t *testing.T) {
	for _, n := range []int{0, 1, MinPepperLen - 1} {
		if _, err := NewHasher(make([]byte, n), 1); err == nil {
			t.Errorf("NewHasher(%d-byte pepper) succeeded", n)
		}
	}
	pepper := testPepper(5)
	h, err := NewHasher(pepper, -1)
	if err != nil {
		t.Fatal(err)
	}
	if cap(h.sem) < 1 {
		t.Errorf("maxConcurrent -1 gave a semaphore of %d", cap(h.sem))
	}
	pepper[0] = 0 // the hasher must have its own copy
	if h.pepper[0] != 5 {
		t.Error("NewHasher keeps the caller's pepper slice")
	}
}

func TestContextCancellation(t *testing.T) {
	h := newTestHasher(t, 1)
	enc := cheapHash(t, testPepper(1), "x", 8, 1, 1)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(cancelled, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if _, err := h.Verify(cancelled, enc, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if err := h.DummyVerify(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("DummyVerify(cancelled ctx) error = %v, want context.Canceled", err)
	}

	// With the only slot taken, a caller waits and then gives up at its deadline.
	h.sem <- struct{}{}
	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	start := time.Now()
	if _, err := h.Verify(ctx, enc, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify while saturated: error = %v, want context.DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("Verify gave up after %v, before its deadline", waited)
	}
	<-h.sem
	if ok, err := h.Verify(context.Background(), enc, "x"); err != nil || !ok {
		t.Errorf("Verify after slot freed = %v, %v", ok, err)
	}
}

func TestConcurrencyBound(t *testing.T) {
	h := newTestHasher(t, 2)
	enc := cheapHash(t, testPepper(1), "pw", 64, 1, 1)

	// Two slots taken: a third caller must wait.
	h.sem <- struct{}{}
	h.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := h.Verify(ctx, enc, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify with both slots taken: error = %v, want context.DeadlineExceeded", err)
	}
	<-h.sem
	<-h.sem

	// Many callers at once all finish and give every slot back.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ok, err := h.Verify(context.Background(), enc, "pw")
			if err != nil || !ok {
				t.Errorf("Verify = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
	if len(h.sem) != 0 {
		t.Errorf("%d slots still held after all calls returned", len(h.sem))
	}
}

func TestDummyVerify(t *testing.T) {
	h := newTestHasher(t, 1)
	if err := h.DummyVerify(context.Background()); err != nil {
		t.Fatalf("DummyVerify: %v", err)
	}
	if h.NeedsRehash(h.dummy) {
		t.Error("the dummy hash does not use the current parameters, so its timing differs")
	}
}

func BenchmarkHash(b *testing.B) {
	h, _ := NewHasher(testPepper(1), 0)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "Benchmark-Passw0rd"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyParallel shows login throughput: ns/op is wall time per
// verification with GOMAXPROCS goroutines sharing one Hasher.
func BenchmarkVerifyParallel(b *testing.B) {
	h, _ := NewHasher(testPepper(1), 0)
	enc, err := h.Hash(context.Background(), "Benchmark-Passw0rd")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if ok, err := h.Verify(ctx, enc, "Benchmark-Passw0rd"); !ok || err != nil {
				b.Errorf("Verify = %v, %v", ok, err)
			}
		}
	})
}
