// Package e2eeclient is a Go model of a browser's key schedule in an end-to-end
// encrypted meeting (web/static/js/e2ee/session-keys.js, e2ee/FORMAT.md "Key messages"),
// built on the e2ee reference, for tests that need many members without browsers: an
// identity with its tag, pairwise wrapping keys, the own media key with its ratchet on
// joins and its rotation on leaves, keys only to verified members of the roster the
// server announced, each change's keys sent as one e2ee_batch, and key requests
// (asked and answered, at most once per requester per second). It moves no media, but
// keys as a browser that sends media does: it rotates at every leave (a browser that has
// sent nothing yet puts the rotation off until it sends: FORMAT.md).
//
// A Member is fed the server's messages (Handle, or Follow for a testclient.Client) and
// answers through a Sender; roster changes that arrive together are applied together by
// Flush, as the browser's one flush per turn of its event loop does.
package e2eeclient

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"time"
	"unicode/utf8"

	"conclave/e2ee"
)

// Sender sends one protocol message (testclient.Client fits).
type Sender interface {
	Send(typ string, payload any) (string, error)
}

// Key is a media key: its counter (FORMAT.md, "Media keys and the ratchet"), its index
// (the counter mod 256) and raw bytes.
type Key struct {
	Counter uint64
	Index   byte
	Raw     []byte
}

type peer struct {
	verified     bool
	kw           []byte
	identitySent bool
	sent         *Key      // the own key it was last given
	answeredAt   time.Time // when its last key request was answered
	newest       int64     // the counter of the newest key it sent us (-1: none yet)
}

// Version is the "v" of every key message (FORMAT.md, "Key messages").
const Version = 3

// AnswerInterval is the shortest time between two answers to one requester's key
// requests (FORMAT.md, "Key requests").
const AnswerInterval = time.Second

// Member is one participant's key schedule. Its methods are safe for concurrent use.
type Member struct {
	out         Sender
	identityKey []byte
	priv        *ecdh.PrivateKey
	now         func() time.Time

	mu           sync.Mutex
	self         string
	name         string            // the own display name, sent in every key envelope
	names        map[string]string // the names verified members sent in their key envelopes
	own          *Key
	peers        map[string]*peer           // the roster as the server announced it, minus self
	dead         map[string]bool            // ids that left: never verified again; at most MaxDeadIDs
	keys         map[string]Key             // the newest key received from each sender
	past         map[string][]Key           // the past keys received from each sender (chat only)
	seen         map[string]map[string]bool // each sender's raw keys taken this session: a replay is refused
	conflicts    int                        // envelopes refused as another key at a sender's newest counter
	pendingJoins []string
	pendingLeave bool
	outbox       []outgoing // sent once the lock is let go (unlockAndSend)
}

type outgoing struct {
	typ     string
	payload any
}

// unlockAndSend lets go of the lock, then sends what the step queued, in order: no
// websocket write happens under the lock.
func (m *Member) unlockAndSend(err error) error {
	out := m.outbox
	m.outbox = nil
	m.mu.Unlock()
	for _, o := range out {
		if _, serr := m.out.Send(o.typ, o.payload); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

// New makes a member holding the meeting secret (the link's #k=) that sends through out.
func New(secret []byte, out Sender) (*Member, error) {
	if len(secret) < e2ee.MinSecretSize {
		return nil, errors.New("e2eeclient: meeting secret too short")
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ik, _ := e2ee.DeriveMeetingKeys(secret)
	return &Member{
		out: out, identityKey: ik, priv: priv, now: time.Now,
		peers: make(map[string]*peer), dead: make(map[string]bool), keys: make(map[string]Key),
		names: make(map[string]string), past: make(map[string][]Key), seen: make(map[string]map[string]bool),
	}, nil
}

// SetName sets the display name that goes, from then on, inside every key envelope this
// member sends (FORMAT.md, "Names"); it is cut to e2ee.MaxNameBytes at a rune boundary.
func (m *Member) SetName(name string) {
	for len(name) > e2ee.MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if !utf8.ValidString(name) {
		name = ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.name = name
}

// NameOf is the display name sender gave in its newest key envelope to this member; false
// before one arrived (a member that is not verified never has one).
func (m *Member) NameOf(sender string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.names[sender]
	return n, ok
}

type keyMessage struct {
	V       int    `json:"v"`
	T       string `json:"t"`
	Pub     string `json:"pub,omitempty"`
	Tag     string `json:"tag,omitempty"`
	Wrapped string `json:"wrapped,omitempty"`
}

var b64 = base64.RawURLEncoding

// SetClock sets the clock of the key-request limit (tests pass a fake clock's Now).
func (m *Member) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// Start runs after the welcome: an own key, the identity to everyone, and the members
// already there (who get our identity in that broadcast).
func (m *Member) Start(selfID string, memberIDs []string) error {
	if !e2ee.ValidID(selfID) {
		return e2ee.ErrBadID
	}
	m.mu.Lock()
	m.self = selfID
	m.own = &Key{Counter: 0, Index: 0, Raw: randomKey()}
	for _, id := range memberIDs {
		if e2ee.ValidID(id) && id != selfID {
			m.peer(id).identitySent = true
		}
	}
	return m.unlockAndSend(m.sendIdentity(""))
}

func (m *Member) peer(id string) *peer {
	p := m.peers[id]
	if p == nil {
		p = &peer{newest: -1}
		m.peers[id] = p
	}
	return p
}

func (m *Member) Handle(typ string, payload json.RawMessage) error {
	m.mu.Lock()
	return m.unlockAndSend(m.handle(typ, payload))
}

func (m *Member) handle(typ string, payload json.RawMessage) error {
	if m.self == "" {
		return errors.New("e2eeclient: message before Start")
	}
	switch typ {
	case "participant_joined":
		var p struct {
			Participant struct{ ID string } `json:"participant"`
		}
		if json.Unmarshal(payload, &p) != nil {
			return nil
		}
		return m.joined(p.Participant.ID)
	case "participant_left":
		var p struct{ ParticipantID string }
		if json.Unmarshal(payload, &p) != nil {
			return nil
		}
		m.left(p.ParticipantID)
	case "e2ee":
		var p struct{ From, Data string }
		if json.Unmarshal(payload, &p) != nil {
			return nil
		}
		return m.receive(p.From, p.Data)
	}
	return nil
}

// MaxDeadIDs bounds the ids that left a member remembers, as the web client's does
// (e2ee/roster.js MAX_DEAD_IDS; FORMAT.md, "Dead ids"): a dead id is never forgotten, so
// once it holds this many a member takes no id it does not hold already, since it could
// not remember it as dead once it left.
const MaxDeadIDs = 20000

// fullLocked reports whether the memory of ids that left is full.
func (m *Member) fullLocked() bool { return len(m.dead) >= MaxDeadIDs }

func (m *Member) joined(id string) error {
	if id == m.self || !e2ee.ValidID(id) || m.dead[id] {
		return nil
	}
	if _, held := m.peers[id]; !held && m.fullLocked() {
		return nil // a new id once full: never taken (the page counts a warning)
	}
	p := m.peer(id)
	m.pendingJoins = append(m.pendingJoins, id)
	if p.identitySent {
		return nil
	}
	p.identitySent = true
	return m.sendIdentity(id)
}

func (m *Member) left(id string) {
	if _, ok := m.peers[id]; !ok {
		return
	}
	delete(m.peers, id)
	delete(m.keys, id)
	delete(m.past, id)
	delete(m.seen, id)
	delete(m.names, id)
	if !m.fullLocked() {
		m.dead[id] = true // once full it is not remembered, but nothing new is taken
	}
	m.pendingLeave = true
}

func (m *Member) receive(from, data string) error {
	p := m.peers[from]
	if p == nil || len(data) > e2ee.MaxEnvelope {
		return nil // not in the roster the server announced: ignored
	}
	var msg keyMessage
	if json.Unmarshal([]byte(data), &msg) != nil || msg.V != Version {
		return nil
	}
	switch msg.T {
	case "identity":
		return m.identity(from, p, msg)
	case "key":
		if !p.verified {
			return nil
		}
		wrapped, err := b64.DecodeString(msg.Wrapped)
		if err != nil {
			return nil
		}
		k, err := e2ee.UnwrapKey(p.kw, from, m.self, wrapped)
		if err != nil {
			return nil
		}
		// Only a counter above the newest makes a key the newest (FORMAT.md, "The newest
		// key"): an envelope the server held back past a later one is dropped.
		seen := m.seen[from]
		if seen == nil {
			seen = make(map[string]bool)
			m.seen[from] = seen
		}
		switch e2ee.JudgeKey(p.newest, m.keys[from].Raw, seen[string(k.Raw)], k) {
		case e2ee.KeyNewest:
			seen[string(k.Raw)] = true
			p.newest = int64(k.Counter)
			m.keys[from] = Key{Counter: k.Counter, Index: k.Index(), Raw: k.Raw}
			m.names[from] = k.Name
		case e2ee.KeyAgain:
			m.names[from] = k.Name
		case e2ee.KeyPast:
			seen[string(k.Raw)] = true
			m.past[from] = append(m.past[from], Key{Counter: k.Counter, Index: k.Index(), Raw: k.Raw})
		case e2ee.KeyConflict:
			m.conflicts++
		}
	case "key-request":
		// At most one answer a second: a flood of requests costs one answer per
		// requester and second. The answer is our identity (it may be the one that
		// was dropped on its way: nothing verifies without it) and, for a member
		// verified in this session, our current key.
		now := m.now()
		if now.Sub(p.answeredAt) < AnswerInterval {
			return nil
		}
		p.answeredAt = now
		if err := m.sendIdentity(from); err != nil {
			return err
		}
		if !p.verified || m.own == nil {
			return nil
		}
		p.sent = nil // it says it lacks our key: send the current one again
		return m.sendKeys([]string{from})
	}
	return nil
}

func (m *Member) identity(from string, p *peer, msg keyMessage) error {
	if p.verified {
		return nil // one identity per id and session
	}
	// One that does not verify (a wrong tag, a bad public key) is refused, and a later
	// one may still verify, as on the page: the server may have put this one in the
	// place of one it dropped, and the sender's answer to a key request brings the real
	// one (FORMAT.md, "Key requests").
	pub, err1 := b64.DecodeString(msg.Pub)
	tag, err2 := b64.DecodeString(msg.Tag)
	if err1 != nil || err2 != nil || !e2ee.VerifyIdentity(m.identityKey, from, pub, tag) {
		return nil
	}
	kw, err := e2ee.PairwiseKey(m.priv, pub, m.self, from)
	if err != nil {
		return nil
	}
	p.verified, p.kw = true, kw
	if !p.identitySent {
		p.identitySent = true
		if err := m.sendIdentity(from); err != nil {
			return err
		}
	}
	// A newcomer gets the key only after our ratchet (or rotation) for its join.
	if err := m.flush(); err != nil {
		return err
	}
	return m.sendKeys([]string{from})
}

// ID is the member's participant id ("" before Start).
func (m *Member) ID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self
}

// OwnKey is the member's newest own media key.
func (m *Member) OwnKey() Key {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.own == nil {
		return Key{}
	}
	return Key{Counter: m.own.Counter, Index: m.own.Index, Raw: append([]byte(nil), m.own.Raw...)}
}

// KeyFrom is the newest key received from sender.
func (m *Member) KeyFrom(sender string) (Key, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[sender]
	return Key{Counter: k.Counter, Index: k.Index, Raw: append([]byte(nil), k.Raw...)}, ok
}

// PastKeysFrom is the past keys received from sender (for its chat texts only).
func (m *Member) PastKeysFrom(sender string) []Key {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Key(nil), m.past[sender]...)
}

// Conflicts counts the key envelopes refused as another key at a sender's newest
// counter (FORMAT.md, "The newest key"): the page counts them as a warning.
func (m *Member) Conflicts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conflicts
}

// Verified lists the members whose identity verified.
func (m *Member) Verified() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, p := range m.peers {
		if p.verified {
			ids = append(ids, id)
		}
	}
	return ids
}

var errNoWelcome = errors.New("e2eeclient: no welcome yet")
