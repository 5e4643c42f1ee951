package mailing

import (
	"crypto/hmac"
	"encoding/base64"
	"strconv"
	"strings"

	"jifen/internal/platform/crypto"
)

// unsubscribeLabel separates the unsubscribe MAC from every other use of
// the same key.
const unsubscribeLabel = "jifen mail unsubscribe v1\x00"

// macSize is the bytes of HMAC-SM3 a token keeps: 128 bits cannot be
// guessed, and the link stays short.
const macSize = 16

// UnsubscribeKey derives the unsubscribe links' key from the keyring: an
// HMAC-SM3 of a fixed label under the keyring's pepper, a one-way
// derivation that reveals nothing of the pepper. Every process of an
// installation derives the same key, so a link signed by the sender is
// verified by the web server.
func UnsubscribeKey(k *crypto.Keyring) []byte {
	return crypto.HMACSM3(k.Pepper(), []byte("jifen/mailing/unsubscribe-key/v1"))
}

// UnsubscribeToken signs (campaignID, email) with a key derived from the
// keyring (crypto.Keyring); Verify checks it in constant time. The token is
// URL-safe: base64url(campaignID ":" email) "." base64url(MAC).
func UnsubscribeToken(key []byte, campaignID int64, email string) string {
	payload := strconv.FormatInt(campaignID, 10) + ":" + strings.ToLower(strings.TrimSpace(email))
	mac := crypto.HMACSM3(key, []byte(unsubscribeLabel+payload))[:macSize]
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac)
}

// VerifyUnsubscribe checks a token made by UnsubscribeToken and returns
// what it names; ok is false for a token altered in any way or made with
// another key.
func VerifyUnsubscribe(key []byte, token string) (campaignID int64, email string, ok bool) {
	if len(token) > 1024 {
		return 0, "", false
	}
	p64, m64, found := strings.Cut(token, ".")
	if !found {
		return 0, "", false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || len(mac) != macSize {
		return 0, "", false
	}
	want := crypto.HMACSM3(key, append([]byte(unsubscribeLabel), payload...))[:macSize]
	if !hmac.Equal(mac, want) {
		return 0, "", false
	}
	id, addr, found := strings.Cut(string(payload), ":")
	if !found {
		return 0, "", false
	}
	campaignID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || campaignID < 0 {
		return 0, "", false
	}
	addr, valid := ValidEmail(addr)
	if !valid {
		return 0, "", false
	}
	return campaignID, addr, true
}
