package signaling

// The application-level heartbeat (PROTOCOL.md, "Transport"). The server's websocket
// pings are answered by browsers themselves, out of a page's sight: a page cannot tell
// from them whether its link still works, and a path that died without a close event
// (a NAT that forgot the mapping, a Wi-Fi change) leaves it looking connected until the
// server has dropped it, its grace half gone. So a client sends `ping` with a number
// of its choosing, in every state its connection can be in, and the server answers
// `pong` with the same number; a client that hears nothing for a while gives the
// connection up and resumes on a new one.

// Message types of the heartbeat: ping from the client, pong from the server.
const (
	TypePing = "ping"
	TypePong = "pong"
)

// Bounds of a ping (PROTOCOL.md, "Limits"). The web client sends one every 15 s; the
// budget is three times that in a burst and enough for a client pinging every 5 s, so
// that a client pinging in a loop costs the server no more than any other message
// (a refused ping is an error, and 20 refusals in a row close the connection).
const (
	maxPingNumber  = 65535
	maxPingPayload = 128 // bytes of the payload as sent
	pingBurst      = 5
	pingRate       = 0.2 // a second: one every 5 s sustained
)

// PingPayload is a client's ping: N, a number of its choosing, comes back in the pong.
type PingPayload struct {
	N *int64 `json:"n"`
}

// PongPayload answers a ping with its number.
type PongPayload struct {
	N int64 `json:"n"`
}

// parsePing checks a ping: a payload of at most maxPingPayload bytes whose `n` is an
// integer 0–maxPingNumber. The wrong JSON shape is bad_message, the rest invalid_field.
func parsePing(env Envelope) (int64, *Error) {
	if len(env.Payload) > maxPingPayload {
		return 0, errorf(CodeInvalidField, "a ping's payload is at most %d bytes", maxPingPayload)
	}
	p, err := decodePayload[PingPayload](env)
	if err != nil {
		return 0, err
	}
	if p.N == nil || *p.N < 0 || *p.N > maxPingNumber {
		return 0, errorf(CodeInvalidField, "n must be an integer from 0 to %d", maxPingNumber)
	}
	return *p.N, nil
}

// answerPing answers a well-formed ping within the connection's budget with a pong
// that names it (ref) and echoes its number. Nothing else changes: the session's
// state, its meeting and everyone else are untouched, and nothing is logged.
func (s *Session) answerPing(env Envelope) *Error {
	n, err := parsePing(env)
	if err != nil {
		return err
	}
	if !s.pings.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many pings; slow down")
	}
	s.send(encode(TypePong, env.ID, PongPayload{N: n}))
	return nil
}
