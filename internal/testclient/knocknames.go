package testclient

import (
	"encoding/json"
	"sync"
)

// In an end-to-end encrypted meeting the server carries no names (e2ee/FORMAT.md,
// "Names"): a moderator's waiting list shows a knock's nonce, not who knocks. Tests that
// find a knocker by the name it joined with look the name up here: every client that
// sent a join with a name records it under each knock nonce its lobby messages bring.
// Nonces are 256 random bits, so entries of concurrent tests never collide. This is
// test bookkeeping only; nothing of it reaches the server.

// knockNames maps a knock nonce to the name its knocker joined with.
type knockNames struct {
	mu      sync.Mutex
	byNonce map[string]string
}

// maxKnockNames bounds the book: a long test run forgets the oldest nonces wholesale.
const maxKnockNames = 100000

var knocks = &knockNames{byNonce: make(map[string]string)}

func (k *knockNames) record(nonce, name string) {
	if nonce == "" || name == "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.byNonce) >= maxKnockNames {
		k.byNonce = make(map[string]string)
	}
	k.byNonce[nonce] = name
}

// KnockName returns the name the knocker of nonce joined with ("" when unknown).
func KnockName(nonce string) string {
	knocks.mu.Lock()
	defer knocks.mu.Unlock()
	return knocks.byNonce[nonce]
}

// noteLobby records the join name under the knock nonce of a lobby message.
func (c *Client) noteLobby(payload json.RawMessage) {
	c.mu.Lock()
	name := c.joinName
	c.mu.Unlock()
	if name == "" {
		return
	}
	var p struct {
		KnockNonce string `json:"knockNonce"`
	}
	if json.Unmarshal(payload, &p) == nil {
		knocks.record(p.KnockNonce, name)
	}
}
