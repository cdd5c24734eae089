package hostile

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Envelope is a signaling message (signaling/PROTOCOL.md) opened for reading and
// rewriting: the payload as a generic JSON object, so that a rewrite keeps every
// field the test does not touch.
type Envelope struct {
	Type    string
	ID      string
	Ref     string
	Payload map[string]any
}

// ErrNotEnvelope is returned for data that is not a JSON object with a string type.
var ErrNotEnvelope = errors.New("hostile: not a signaling envelope")

// ParseEnvelope opens data, which came off a websocket and may be anything.
func ParseEnvelope(data []byte) (Envelope, error) {
	var raw struct {
		Type    *string         `json:"type"`
		ID      string          `json:"id"`
		Ref     string          `json:"ref"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(data, &raw); err != nil || raw.Type == nil {
		return Envelope{}, ErrNotEnvelope
	}
	env := Envelope{Type: *raw.Type, ID: raw.ID, Ref: raw.Ref}
	if len(raw.Payload) > 0 && string(raw.Payload) != "null" {
		if err := json.Unmarshal(raw.Payload, &env.Payload); err != nil {
			return Envelope{}, fmt.Errorf("%w: payload is not an object", ErrNotEnvelope)
		}
	}
	return env, nil
}

// PayloadString returns the string field key of the payload.
func (e Envelope) PayloadString(key string) (string, bool) {
	v, ok := e.Payload[key].(string)
	return v, ok
}

// With returns a copy of e whose payload field key is value.
func (e Envelope) With(key string, value any) Envelope {
	p := make(map[string]any, len(e.Payload)+1)
	for k, v := range e.Payload {
		p[k] = v
	}
	p[key] = value
	e.Payload = p
	return e
}

// Marshal writes e back as wire data.
func (e Envelope) Marshal() []byte {
	out := map[string]any{"type": e.Type}
	if e.ID != "" {
		out["id"] = e.ID
	}
	if e.Ref != "" {
		out["ref"] = e.Ref
	}
	if e.Payload != nil {
		out["payload"] = e.Payload
	}
	b, err := json.Marshal(out)
	if err != nil {
		// Only values that came out of encoding/json (or plain ones a test set) are here.
		return nil
	}
	return b
}

// E2EE describes an `e2ee` key message: who sent it (server → client: from), to whom
// (client → server: to, "" for everyone) and its opaque data.
type E2EE struct {
	From, To, Data string
}

// ParseE2EE returns the key message in m, if it is one.
func ParseE2EE(data []byte) (E2EE, bool) {
	env, err := ParseEnvelope(data)
	if err != nil || env.Type != "e2ee" {
		return E2EE{}, false
	}
	var k E2EE
	k.From, _ = env.PayloadString("from")
	k.To, _ = env.PayloadString("to")
	k.Data, _ = env.PayloadString("data")
	return k, true
}

// KeyMessageKind returns the `t` of the key message's data ("identity", "key", …), or "".
func (k E2EE) KeyMessageKind() string {
	var d struct {
		T string `json:"t"`
	}
	if json.Unmarshal([]byte(k.Data), &d) != nil {
		return ""
	}
	return d.T
}
