// Package password hashes staff and applicant passwords and checks them
// against jifen's password policy.
//
// Hashes are argon2id at the OWASP minimum (19 MiB, 2 passes, 1 lane), in the
// PHC string format, over HMAC-SM3(pepper, password). The pepper comes from
// the key provider, never from the database, so a stolen user table alone
// cannot be attacked offline; the HMAC-SM3 step is also what the commercial
// cryptography assessment (密评) looks for.
//
// Each hash needs 19 MiB and tens of milliseconds of CPU, so a Hasher lets at
// most maxConcurrent of them run at once: a burst of logins queues instead of
// exhausting memory, and queued callers give up when their context ends.
package password

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/emmansun/gmsm/sm3"
	"golang.org/x/crypto/argon2"
)

// Current argon2id parameters (OWASP Password Storage Cheat Sheet, 2023+).
// Changing them makes NeedsRehash report true for existing hashes, which are
// then re-hashed at the user's next successful login.
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	saltLen   = 16
	keyLen    = 32
)

// Limits on parameters read from a stored hash, so a corrupted or planted
// value cannot make Verify allocate gigabytes or loop for minutes.
const (
	maxMemoryKiB = 256 * 1024
	maxPasses    = 16
	maxLanes     = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// MinPepperLen is the shortest pepper NewHasher accepts.
const MinPepperLen = 16

// ErrMalformedHash is returned by Verify for a stored value that is not an
// argon2id PHC string this package can check.
var ErrMalformedHash = errors.New("password: malformed argon2id hash")

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	pepper []byte
	sem    chan struct{}
	dummy  string // a well-formed hash no password matches, for DummyVerify
}

// NewHasher returns a Hasher that peppers passwords with HMAC-SM3 under pepper
// (at least MinPepperLen bytes; crypto.Keyring.Pepper gives 32) and runs at
// most maxConcurrent hashes at once. maxConcurrent <= 0 means
// runtime.NumCPU(): argon2id with one lane keeps one core busy, so more
// would only add memory, not throughput.
func NewHasher(pepper []byte, maxConcurrent int) (*Hasher, error) {
	if len(pepper) < MinPepperLen {
		return nil, fmt.Errorf("password: pepper must be at least %d bytes, got %d", MinPepperLen, len(pepper))
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	dummySalt, dummyKey := make([]byte, saltLen), make([]byte, keyLen)
	if _, err := rand.Read(dummySalt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(dummyKey); err != nil {
		return nil, err
	}
	return &Hasher{
		pepper: append([]byte(nil), pepper...),
		sem:    make(chan struct{}, maxConcurrent),
		dummy:  encode(params{memoryKiB, passes, lanes}, dummySalt, dummyKey),
	}, nil
}

type params struct {
	memory uint32 // KiB
	time   uint32
	lanes  uint8
}

// Hash returns the PHC string of a new argon2id hash of pw with a random
// 16-byte salt:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// It waits for a free slot first and returns ctx.Err() if ctx ends while it
// waits.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	p := params{memoryKiB, passes, lanes}
	key, err := h.derive(ctx, pw, salt, p, keyLen)
	if err != nil {
		return "", err
	}
	return encode(p, salt, key), nil
}

// Verify reports whether pw matches the stored hash encoded, using the
// parameters recorded in it, and compares in constant time. A mismatch is
// (false, nil); an error means encoded is malformed (ErrMalformedHash) or ctx
// ended while waiting for a slot.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, pw, salt, p, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// DummyVerify does the work of a failed Verify with the current parameters.
// Call it when a login name is unknown, so the response takes as long as for
// a known name with a wrong password and does not reveal which names exist.
func (h *Hasher) DummyVerify(ctx context.Context) error {
	_, err := h.Verify(ctx, h.dummy, "")
	return err
}

// NeedsRehash reports whether encoded was made with other parameters than
// Hash uses now, or cannot be read. Call it after a successful Verify and, if
// true, store Hash of the password the user just entered.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return true
	}
	return p != (params{memoryKiB, passes, lanes}) || len(salt) != saltLen || len(key) != keyLen
}

func (h *Hasher) derive(ctx context.Context, pw string, salt []byte, p params, n uint32) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()

	m := hmac.New(sm3.New, h.pepper)
	m.Write([]byte(pw))
	return argon2.IDKey(m.Sum(nil), salt, p.time, p.memory, p.lanes, n), nil
}

func encode(p params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.lanes, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// decode parses a PHC argon2id string strictly: fields in the canonical
// order, version 19, unpadded base64 (the PHC format), parameters within limits.
func decode(s string) (p params, salt, key []byte, err error) {
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrMalformedHash
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return p, nil, nil, ErrMalformedHash
	}
	m, okM := param(kv[0], "m=", maxMemoryKiB)
	t, okT := param(kv[1], "t=", maxPasses)
	l, okL := param(kv[2], "p=", maxLanes)
	if !okM || !okT || !okL || m < 8*l {
		return p, nil, nil, ErrMalformedHash
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(f[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(f[5])
	if err1 != nil || err2 != nil ||
		len(salt) < minSaltLen || len(salt) > maxSaltLen || len(key) < minKeyLen || len(key) > maxKeyLen {
		return p, nil, nil, ErrMalformedHash
	}
	return params{uint32(m), uint32(t), uint8(l)}, salt, key, nil
}

// param parses "name=N" with 1 <= N <= limit and no sign or leading zero.
func param(s, name string, limit uint64) (uint64, bool) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || v[0] == '0' || v[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > limit {
		return 0, false
	}
	return n, true
}
