package signaling

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// roomRequest is a checked body of the rooms API; nil and unset fields are absent.
type roomRequest struct {
	ID              *string
	Title           *string
	Password        *string
	E2EE            *bool
	Settings        *settingsRequest
	ModeratorSecret *string
	ExpiresSet      bool      // expires was given: a time, or null for standing
	Expires         time.Time // zero: standing
}

type settingsRequest struct {
	Lobby       *bool `json:"lobby"`
	ScreenShare *bool `json:"screenShare"`
	Unmute      *bool `json:"unmute"`
	Chat        *bool `json:"chat"`
}

// readRoomRequest reads and checks a bounded body (empty is {}).
func readRoomRequest(r *http.Request, now time.Time) (roomRequest, *apiError) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRoomBody+1))
	if err != nil {
		return roomRequest{}, badRequest("cannot read the request")
	}
	if len(body) > maxRoomBody {
		return roomRequest{}, &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the body is larger than %d bytes", maxRoomBody)}
	}
	return decodeRoomRequest(body, now)
}

// decodeRoomRequest parses and checks a rooms API body. Unknown fields are ignored;
// every known one is checked, so that nothing malformed reaches the store.
func decodeRoomRequest(body []byte, now time.Time) (roomRequest, *apiError) {
	var raw struct {
		ID              *string          `json:"id"`
		Title           *string          `json:"title"`
		Password        *string          `json:"password"`
		E2EE            *bool            `json:"e2ee"`
		Settings        *settingsRequest `json:"settings"`
		Expires         json.RawMessage  `json:"expires"`
		ModeratorSecret *string          `json:"moderatorSecret"`
	}
	if err := decodeObjectBody(body, &raw); err != nil {
		return roomRequest{}, badRequest("the body must be a JSON object with the documented fields: %v", jsonProblem(err))
	}
	req := roomRequest{ID: raw.ID, Title: raw.Title, Password: raw.Password, E2EE: raw.E2EE, Settings: raw.Settings, ModeratorSecret: raw.ModeratorSecret}
	if req.ID != nil && !validRoomID(*req.ID) {
		return roomRequest{}, badRequest("id must be %d characters of base64url (128 random bits)", roomIDChars)
	}
	if req.Title != nil && !validTitle(*req.Title) {
		return roomRequest{}, badRequest("title must be empty or ciphertext made in the browser (%q…, at most %d characters of base64url and dots)", titleVersionPrefix, maxTitleChars)
	}
	if req.Password != nil && passwordTooLong(*req.Password) {
		return roomRequest{}, badRequest("password longer than %d characters", maxPasswordChars)
	}
	if ms := req.ModeratorSecret; ms != nil && (len(*ms) < minModSecretChars || len(*ms) > maxSecretChars || !isBase64URL(*ms)) {
		return roomRequest{}, badRequest("moderatorSecret must be %d to %d characters of base64url (128 bits or more)", minModSecretChars, maxSecretChars)
	}
	if len(raw.Expires) > 0 {
		req.ExpiresSet = true
		if string(raw.Expires) != "null" {
			var s string
			if json.Unmarshal(raw.Expires, &s) != nil {
				return roomRequest{}, badRequest("expires must be an RFC 3339 time or null")
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return roomRequest{}, badRequest("expires must be an RFC 3339 time such as 2030-01-31T18:00:00Z")
			}
			if !t.After(now) {
				return roomRequest{}, badRequest("expires is in the past")
			}
			req.Expires = t.UTC()
		}
	}
	return req, nil
}

// errNullBody refuses a body of null (decodeObjectBody).
var errNullBody = errors.New("signaling: the body is null")

// decodeObjectBody decodes a request body of the HTTP API into the struct v: a JSON
// object, or nothing (empty or spaces: v is left as it is). null is refused
// (errNullBody): json.Unmarshal takes it for any struct and changes nothing, so a POST
// of it made a room or a meeting, as {} does.
func decodeObjectBody(body []byte, v any) error {
	switch strings.TrimSpace(string(body)) {
	case "":
		return nil
	case "null":
		return errNullBody
	}
	return json.Unmarshal(body, v)
}

// jsonProblem says what was wrong with a JSON body without echoing it.
func jsonProblem(err error) string {
	te, ok := errors.AsType[*json.UnmarshalTypeError](err)
	switch {
	case ok && te.Field != "":
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	case ok || errors.Is(err, errNullBody):
		return "not an object"
	}
	return "not valid JSON"
}

// validRoomID reports whether id is 22 characters of base64url encoding 16 bytes.
func validRoomID(id string) bool {
	if len(id) != roomIDChars {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil && len(b) == 16
}

// validTitle accepts "" or "e1." followed by base64url and dots: the server keeps the
// ciphertext as it is and never reads it.
func validTitle(t string) bool {
	if t == "" {
		return true
	}
	if len(t) > maxTitleChars || !strings.HasPrefix(t, titleVersionPrefix) || len(t) == len(titleVersionPrefix) {
		return false
	}
	return isBase64URL(strings.ReplaceAll(t[len(titleVersionPrefix):], ".", ""))
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
