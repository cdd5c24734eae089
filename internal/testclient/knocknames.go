package testclient

import (
	"encoding/json"
	"sync"
)

// In an end-to-end encrypted meeting the server carries no names (e2ee/FORMAT.md,
// "Names"): a moderator's waiting list shows a knock's nonce, not who knocks. Tests that
// find a knocker by the name it joined with look the name up in a KnockBook that the
// clients of one test server share: every client that sent a join with a name records
// it under each knock nonce its lobby messages bring. This is test bookkeeping only;
// nothing of it reaches the server.

// KnockBook maps knock nonces to the names their knockers joined with.
type KnockBook struct {
	mu      sync.Mutex
	byNonce map[string]string
}

// NewKnockBook returns an empty book.
func NewKnockBook() *KnockBook { return &KnockBook{byNonce: make(map[string]string)} }

func (k *KnockBook) record(nonce, name string) {
	if k == nil || nonce == "" || name == "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.byNonce[nonce] = name
}

// Name returns the name the knocker of nonce joined with ("" when unknown).
func (k *KnockBook) Name(nonce string) string {
	if k == nil {
		return ""
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.byNonce[nonce]
}

// UseKnockBook makes c record its knock nonces in book, and look names up there.
func (c *Client) UseKnockBook(book *KnockBook) {
	c.mu.Lock()
	c.book = book
	c.mu.Unlock()
}

// KnockBook is the book c records in (nil: none).
func (c *Client) KnockBook() *KnockBook {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.book
}

// noteLobby records the join name under the knock nonce of a lobby message.
func (c *Client) noteLobby(payload json.RawMessage) {
	c.mu.Lock()
	name, book := c.joinName, c.book
	c.mu.Unlock()
	if name == "" || book == nil {
		return
	}
	var p struct {
		KnockNonce string `json:"knockNonce"`
	}
	if json.Unmarshal(payload, &p) == nil {
		book.record(p.KnockNonce, name)
	}
}
