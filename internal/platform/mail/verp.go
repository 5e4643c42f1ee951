package mail

import (
	"crypto/hmac"
	"encoding/hex"
	"strconv"
	"strings"

	"jifen/internal/platform/crypto"
)

// verpTagLen is the length of the VERP tag in hex digits: 48 bits of
// HMAC-SM3, so that guessing a valid return path for a chosen outbox row
// takes about 2^47 tries over SMTP.
const verpTagLen = 12

// verpTag signs outboxID under key.
func verpTag(key []byte, outboxID int64) string {
	sum := crypto.HMACSM3(key, []byte("jifen.verp."+strconv.FormatInt(outboxID, 10)))
	return hex.EncodeToString(sum)[:verpTagLen]
}

// VERPAddress is the return path (SMTP MAIL FROM) of the outbox row
// outboxID: localPrefix+ID-TAG@domain, e.g. "bounce+123-4f9a2c0d1e2f@bounce.example",
// where TAG is a truncated HMAC-SM3 of the ID under key, in lower-case hex.
// A bounce comes back to this address and names the row it is about; the
// tag makes a forged bounce, which could otherwise suppress any address,
// fail ParseVERP. localPrefix is usually "bounce"; "" means "bounce".
func VERPAddress(key []byte, localPrefix, domain string, outboxID int64) string {
	if localPrefix == "" {
		localPrefix = "bounce"
	}
	return localPrefix + "+" + strconv.FormatInt(outboxID, 10) + "-" + verpTag(key, outboxID) + "@" + domain
}

// ParseVERP reads the outbox row back from a return path made by
// VERPAddress, whatever its prefix and domain (the listener checks the
// domain), checking the tag in constant time. Angle brackets are allowed;
// the local part is compared without regard to case, since some mail
// servers change it.
func ParseVERP(key []byte, addr string) (outboxID int64, ok bool) {
	addr = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(addr), "<"), ">")
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return 0, false
	}
	local := strings.ToLower(addr[:at])
	plus := strings.LastIndexByte(local, '+')
	if plus < 0 {
		return 0, false
	}
	idStr, tag, found := strings.Cut(local[plus+1:], "-")
	if !found || len(tag) != verpTagLen || idStr == "" || (len(idStr) > 1 && idStr[0] == '0') {
		return 0, false
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	if !hmac.Equal([]byte(tag), []byte(verpTag(key, id))) {
		return 0, false
	}
	return id, true
}
