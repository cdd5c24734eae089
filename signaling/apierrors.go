package signaling

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The HTTP API's refusals (PROTOCOL.md, "Errors of the HTTP API"): a status, a message
// for people and a code for programs, written as JSON.

// apiError is a refusal of the rooms API (and of POST /api/meetings): an HTTP status,
// a message for people, a code for programs (PROTOCOL.md, "Errors of the HTTP API"; ""
// takes the status's), and for 429 when to try again.
type apiError struct {
	status int
	msg    string
	code   string
	retry  time.Duration
}

// Codes of the HTTP API's refusals that share a status with another: a page tells the
// room limit from a refused origin, a throttled guess from a host making ids too fast.
const (
	codeCrossOrigin     = "cross_origin"
	codeRoomLimit       = "room_limit"
	codeTooManyAttempts = "too_many_attempts"
	codeTooFast         = "too_fast"
)

// statusCodes are the codes of the other refusals, by status.
var statusCodes = map[int]string{
	http.StatusBadRequest:            "invalid",
	http.StatusUnauthorized:          "host_key",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              "id_taken",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusTooManyRequests:       codeTooManyAttempts,
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

// errCrossOrigin refuses a request whose Origin is another site.
var errCrossOrigin = &apiError{status: http.StatusForbidden, code: codeCrossOrigin, msg: "cross-origin request refused"}

// tooFast is the refusal of a room id made beyond the host's budget.
func tooFast(e *newIDsTooFast) *apiError {
	return &apiError{status: http.StatusTooManyRequests, retry: e.retry, code: codeTooFast,
		msg: "room links are being made too fast by this host; try again later"}
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

var (
	errNoSuchRoom = &apiError{status: http.StatusNotFound, msg: "no such room"}
	errInternal   = &apiError{status: http.StatusInternalServerError, msg: "internal error"}
	// errHostKeyGone answers a request whose host was removed while it was under way.
	errHostKeyGone = &apiError{status: http.StatusUnauthorized, msg: "a valid host key is needed"}
)

// setRetryAfter tells a refused client to wait d, in whole seconds rounded up.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
}

func writeJSONError(w http.ResponseWriter, e *apiError) {
	if e.retry > 0 {
		setRetryAfter(w, e.retry)
	}
	code := e.code
	if code == "" {
		code = statusCodes[e.status]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": e.msg, "code": code})
}
