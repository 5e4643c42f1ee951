// Package agencysim plays the partner agencies (委办局) for the demo, the
// tests and load runs: one HTTP server that answers the cross-check wire
// contract of docs/agencies.md from the agencies' own records that
// `jifen synth` wrote, with per-agency latency, errors, timeouts, outages and
// rate limits that can be set at start and changed while it runs.
package agencysim

import (
	"crypto/hmac"
	"encoding/hex"
	"strconv"
	"time"

	"jifen/internal/platform/crypto"
)

// Headers of a signed request.
const (
	HeaderClient    = "X-Jifen-Client"
	HeaderTimestamp = "X-Jifen-Timestamp"
	HeaderSignature = "X-Jifen-Signature"
)

// ReplayWindow is how far a request's timestamp may be from the server's
// clock.
const ReplayWindow = 5 * time.Minute

// Signature computes the request signature of the contract:
// hex(HMAC-SM3(key, METHOD \n PATH \n TIMESTAMP \n hex(SM3(body)))).
func Signature(key []byte, method, path string, ts int64, body []byte) string {
	msg := method + "\n" + path + "\n" + strconv.FormatInt(ts, 10) + "\n" + crypto.SM3Hex(body)
	return hex.EncodeToString(crypto.HMACSM3(key, []byte(msg)))
}

// verify checks a signature in constant time.
func verify(key []byte, method, path string, ts int64, body []byte, sig string) bool {
	want := Signature(key, method, path, ts, body)
	return hmac.Equal([]byte(want), []byte(sig))
}
