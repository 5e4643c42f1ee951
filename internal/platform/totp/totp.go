// Package totp implements time-based one-time passwords (RFC 6238) as used by
// authenticator apps: HMAC-SHA-1, 6 digits, 30-second steps, base32 secrets.
// It is the second factor for all staff logins (等保 level 3 requires two
// factors). SHA-1 is kept, not SM3, because that is what every authenticator
// app implements; HMAC-SHA-1 is not weakened by SHA-1 collisions.
//
// Validate returns the time step a code matched. The caller must store the
// last accepted step per user and refuse a step that is not greater, so an
// observed code cannot be replayed within its validity window.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// Parameters fixed by this package. Authenticator apps assume exactly these;
// they are also stated in the URI.
const (
	Digits     = 6
	Period     = 30 // seconds per step
	SecretSize = 20 // bytes of secret, the SHA-1 block-size recommendation of RFC 4226

	// MaxSkew bounds the skew Validate accepts, in steps each side.
	MaxSkew = 10

	// QR code image bounds for QRCodePNG, in pixels.
	MinQRSize = 128
	MaxQRSize = 1024
)

// ErrSecret is returned for a secret that is not base32 or is empty.
var ErrSecret = errors.New("totp: secret is not valid base32")

// ErrTime is returned for times before the Unix epoch, which have no step.
var ErrTime = errors.New("totp: time before 1970")

// GenerateSecret returns a new random 20-byte secret, base32 without padding
// (32 characters), as shown to the user and put in the URI. Store it
// encrypted: anyone with it can make codes.
func GenerateSecret() (string, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("totp: %w", err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b), nil
}

// decodeSecret accepts the forms people copy secrets in: lower case, with
// spaces between groups, with or without '=' padding.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.ReplaceAll(secret, " ", ""))
	s = strings.TrimRight(s, "=")
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if err != nil || len(key) == 0 {
		return nil, ErrSecret
	}
	return key, nil
}

// Step returns the RFC 6238 time step of t: whole 30-second periods since the
// Unix epoch. It is -1 for times before the epoch.
func Step(t time.Time) int64 {
	u := t.Unix()
	if u < 0 {
		return -1
	}
	return u / Period
}

// Code returns the 6-digit code for secret at time t.
func Code(secret string, t time.Time) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	step := Step(t)
	if step < 0 {
		return "", ErrTime
	}
	return hotp(key, uint64(step), Digits), nil
}

// hotp is RFC 4226 section 5.3: HMAC-SHA-1 of the counter, dynamically
// truncated to 31 bits, reduced to digits decimal digits.
func hotp(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// Validate checks code against secret at time t, accepting codes from up to
// skew steps before or after t's step to allow for clock drift (1 is usual;
// negative counts as 0, more than MaxSkew as MaxSkew). Spaces in code are
// ignored. It returns the step the code matched, checking t's own step first.
//
// ok alone is not enough: the caller must also refuse a step not greater than
// the last one this user logged in with, or a code could be used twice.
func Validate(secret, code string, t time.Time, skew int) (step int64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != Digits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	key, err := decodeSecret(secret)
	if err != nil {
		return 0, false
	}
	now := Step(t)
	if now < 0 {
		return 0, false
	}
	skew = min(max(skew, 0), MaxSkew)
	for d := range int64(skew + 1) {
		for _, s := range []int64{now - d, now + d} {
			if s < 0 {
				continue
			}
			if subtle.ConstantTimeCompare([]byte(hotp(key, uint64(s), Digits)), []byte(code)) == 1 {
				return s, true
			}
			if d == 0 {
				break // now-0 and now+0 are the same step
			}
		}
	}
	return 0, false
}

// URI returns the otpauth:// URI that authenticator apps read from a QR code:
//
//	otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
//
// issuer (for example "北京积分落户") and account are percent-encoded as UTF-8;
// spaces become %20, not '+', which some apps show literally. An empty issuer
// is left out.
func URI(issuer, account, secret string) string {
	label := escape(account)
	if issuer != "" {
		label = escape(issuer) + ":" + label
	}
	q := "secret=" + escape(strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "=")))
	if issuer != "" {
		q += "&issuer=" + escape(issuer)
	}
	q += fmt.Sprintf("&algorithm=SHA1&digits=%d&period=%d", Digits, Period)
	return "otpauth://totp/" + label + "?" + q
}

// escape percent-encodes everything but unreserved characters, so ':' in an
// issuer or account cannot be mistaken for the label separator.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// QRCodePNG renders uri as a square PNG QR code of size pixels (between
// MinQRSize and MaxQRSize) with medium error correction, for the enrolment
// page. If the code has more modules than size pixels (a very long issuer or
// account name), the image is made larger rather than unreadable. The image is
// served inline from the server: no CDN or external service sees the secret.
func QRCodePNG(uri string, size int) ([]byte, error) {
	if size < MinQRSize || size > MaxQRSize {
		return nil, fmt.Errorf("totp: QR code size %d outside %d..%d", size, MinQRSize, MaxQRSize)
	}
	png, err := qrcode.Encode(uri, qrcode.Medium, size)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	return png, nil
}
