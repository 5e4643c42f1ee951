package agency

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"jifen/internal/platform/crypto"
)

// MaxBatch is the most subjects one query may carry.
const MaxBatch = 500

// Headers of a signed request.
const (
	HeaderClient    = "X-Jifen-Client"
	HeaderTimestamp = "X-Jifen-Timestamp"
	HeaderSignature = "X-Jifen-Signature"
	// HeaderReplayed marks the repeated answer to a request id already seen.
	HeaderReplayed = "X-Jifen-Replayed"
)

// ReplayWindow is how far a request's timestamp may be from the agency's
// clock.
const ReplayWindow = 5 * time.Minute

// QueryPath is the path of an agency's query endpoint.
func QueryPath(code string) string { return "/v1/" + code + "/query" }

// Query is the body of a query.
type Query struct {
	RequestID string   `json:"request_id"`
	Subjects  []string `json:"subjects"`
}

// Result is one subject's answer.
type Result struct {
	Subject string          `json:"subject"`
	Found   bool            `json:"found"`
	Record  json.RawMessage `json:"record,omitempty"`
}

// Answer is the body of a successful query.
type Answer struct {
	RequestID string   `json:"request_id"`
	Agency    string   `json:"agency"`
	Results   []Result `json:"results"`
}

// ErrorBody is the one shape of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Signature computes the request signature of the contract:
// hex(HMAC-SM3(key, METHOD \n PATH \n TIMESTAMP \n hex(SM3(body)))).
func Signature(key []byte, method, path string, ts int64, body []byte) string {
	msg := method + "\n" + path + "\n" + strconv.FormatInt(ts, 10) + "\n" + crypto.SM3Hex(body)
	return hex.EncodeToString(crypto.HMACSM3(key, []byte(msg)))
}

// Verify reports whether sig is the signature of the request, comparing in
// constant time so that the answer time tells nothing about the right one.
func Verify(key []byte, method, path string, ts int64, body []byte, sig string) bool {
	want := Signature(key, method, path, ts, body)
	return hmac.Equal([]byte(want), []byte(sig))
}

// Fresh reports whether a request's timestamp header (Unix seconds) lies
// within the replay window of now, and returns it.
func Fresh(header string, now time.Time) (int64, bool) {
	ts, err := strconv.ParseInt(header, 10, 64)
	if err != nil {
		return 0, false
	}
	return ts, now.Sub(time.Unix(ts, 0)).Abs() <= ReplayWindow
}

// Client is the name jifen gives in HeaderClient.
const Client = "jifen"

// Sign sets the headers of a signed request from jifen: the client, the
// timestamp ts (Unix seconds) and the signature of method, path and body.
func Sign(h http.Header, key []byte, method, path string, ts int64, body []byte) {
	h.Set(HeaderClient, Client)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Signature(key, method, path, ts, body))
}
