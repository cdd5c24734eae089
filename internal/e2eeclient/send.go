package e2eeclient

// What a member sends: its identity, key requests, and its own media key after each
// roster change (a ratchet for newcomers, a rotation after a leave), queued on the
// outbox that unlockAndSend empties once the lock is released.

import (
	"crypto/rand"
	"encoding/json"
	"fmt"

	"conclave/e2ee"
)

func randomKey() []byte {
	k := make([]byte, e2ee.KeySize)
	_, _ = rand.Read(k)
	return k
}

func (m *Member) sendIdentity(to string) error {
	pub := m.priv.PublicKey().Bytes()
	tag := e2ee.IdentityTag(m.identityKey, m.self, pub)
	data, _ := json.Marshal(keyMessage{V: Version, T: "identity", Pub: b64.EncodeToString(pub), Tag: b64.EncodeToString(tag)})
	payload := map[string]string{"data": string(data)}
	if to != "" {
		payload["to"] = to
	}
	m.outbox = append(m.outbox, outgoing{"e2ee", payload})
	return nil
}

// Handle takes one server message; types other than participant_joined,
// participant_left and e2ee are ignored. A roster change waits for Flush.

// RequestKey asks sender for its current media key (a key-request message); the
// answer arrives as an identity message and, once sender verified us, a key message,
// like any other. A member asks one whose identity or key has not come (FORMAT.md,
// "Key requests"), verified or not.
func (m *Member) RequestKey(sender string) error {
	m.mu.Lock()
	if m.peers[sender] != nil {
		data, _ := json.Marshal(keyMessage{V: Version, T: "key-request"})
		m.outbox = append(m.outbox, outgoing{"e2ee", map[string]string{"to": sender, "data": string(data)}})
	}
	return m.unlockAndSend(nil)
}

// Flush applies the roster changes since the last flush: a rotation sent to every
// verified member as one batch when someone left, else a ratchet whose key goes to the
// verified newcomers.
func (m *Member) Flush() error {
	m.mu.Lock()
	return m.unlockAndSend(m.flush())
}

func (m *Member) flush() error {
	if m.own == nil || (!m.pendingLeave && len(m.pendingJoins) == 0) {
		return nil
	}
	joined := m.pendingJoins
	left := m.pendingLeave
	m.pendingJoins, m.pendingLeave = nil, false
	next := m.own.Counter + 1 // its index, a byte, wraps after 255
	if left {
		m.own = &Key{Counter: next, Index: byte(next), Raw: randomKey()}
		ids := make([]string, 0, len(m.peers))
		for id := range m.peers {
			ids = append(ids, id)
		}
		return m.sendKeys(ids)
	}
	m.own = &Key{Counter: next, Index: byte(next), Raw: e2ee.Ratchet(m.own.Raw)}
	return m.sendKeys(joined)
}

// sendKeys wraps the own key for each verified member of ids that lacks it and sends
// them: one e2ee for one recipient, one e2ee_batch for more.
func (m *Member) sendKeys(ids []string) error {
	type envelope struct {
		To   string `json:"to"`
		Data string `json:"data"`
	}
	var envs []envelope
	for _, id := range ids {
		p := m.peers[id]
		if p == nil || !p.verified || p.sent == m.own {
			continue
		}
		wrapped, err := e2ee.WrapKey(p.kw, m.self, id, e2ee.MediaKey{Counter: m.own.Counter, Raw: m.own.Raw, Name: m.name}, nil)
		if err != nil {
			return fmt.Errorf("e2eeclient: wrap for %s: %w", id, err)
		}
		data, _ := json.Marshal(keyMessage{V: Version, T: "key", Wrapped: b64.EncodeToString(wrapped)})
		p.sent = m.own
		envs = append(envs, envelope{To: id, Data: string(data)})
	}
	switch len(envs) {
	case 0:
	case 1:
		m.outbox = append(m.outbox, outgoing{"e2ee", envs[0]})
	default:
		m.outbox = append(m.outbox, outgoing{"e2ee_batch", map[string]any{"envelopes": envs}})
	}
	return nil
}
