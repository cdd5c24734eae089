// Package store keeps the one thing Conclave stores: hosts and rooms (ids, encrypted
// titles, settings, hashes, expiry). Never who joined, when, names, chat or addresses:
// meetings live in memory and vanish when they end.
//
// Memory is the store of `-data ""` (nothing written anywhere); Bolt (bolt.go) is the
// embedded, crash-safe database in a data directory: bbolt, because it is pure Go (no
// cgo), runs in the process (no server), keeps one small file, and fsyncs each commit so
// a crash loses nothing committed; its single writer is plenty for hosts and rooms. Both satisfy the interfaces their
// users define (signaling.RoomStore, the host commands), so a shared store for several
// nodes can replace them later.
package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors of every store.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Settings are a room's lasting settings (what a host chose when preparing it).
type Settings struct {
	Lobby       bool `json:"lobby"`
	ScreenShare bool `json:"screenShare"`
	Unmute      bool `json:"unmute"`
	Chat        bool `json:"chat"`
}

// Room is a prepared meeting place whose links work until it expires or is deleted.
type Room struct {
	ID     string `json:"id"`     // 22 characters of base64url (128 random bits)
	HostID string `json:"hostId"` // the host who made it
	// Title is ciphertext made in the host's browser under the room's key ("e1.…"),
	// or "": the server never reads it.
	Title        string   `json:"title,omitempty"`
	Settings     Settings `json:"settings"`
	E2EE         bool     `json:"e2ee"`
	PasswordHash string   `json:"passwordHash,omitempty"` // argon2id; "" for none
	ModeratorMAC string   `json:"moderatorMac"`           // keyed hash of the moderator secret
	// ModeratorMade: the server made the moderator secret (random, 192 bits); false for
	// one the host's client chose (a room's derived keys), whose randomness the server
	// cannot know, and for rooms stored before the field was.
	ModeratorMade bool      `json:"moderatorMade,omitempty"`
	Created       time.Time `json:"created"`
	Expires       time.Time `json:"expires,omitzero"` // zero: standing until deleted
}

// Expired reports whether the room's lifetime is over at now.
func (r Room) Expired(now time.Time) bool { return !r.Expires.IsZero() && !now.Before(r.Expires) }

// Host may create rooms; KeyHash is the keyed hash of the secret part of its key.
type Host struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	KeyHash string    `json:"keyHash"`
	Created time.Time `json:"created"`
}

// Memory keeps hosts and rooms in memory only (`-data ""`): nothing is written anywhere,
// and everything is gone when the process ends.
type Memory struct {
	mu       sync.Mutex
	rooms    map[string]Room
	hosts    map[string]Host
	imported bool            // ImportHosts ran
	retired  map[string]bool // ids of rooms deleted, expired, rotated away or removed with their host (retire)
}

// NewMemory makes an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{rooms: map[string]Room{}, hosts: map[string]Host{}}
}

// Room returns the room with that id, or ErrNotFound.
func (m *Memory) Room(_ context.Context, id string) (Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rooms[id]
	if !ok {
		return Room{}, ErrNotFound
	}
	return r, nil
}

// Rooms lists a host's rooms, oldest first.
func (m *Memory) Rooms(_ context.Context, hostID string) ([]Room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Room
	for _, r := range m.rooms {
		if r.HostID == hostID {
			out = append(out, r)
		}
	}
	sortRooms(out)
	return out, nil
}

// CreateRoom adds a room; ErrExists if its id is taken.
func (m *Memory) CreateRoom(_ context.Context, r Room) error {
	if err := validRoom(r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rooms[r.ID]; ok || m.retired[r.ID] {
		return ErrExists
	}
	m.rooms[r.ID] = r
	return nil
}

// retire records that id is no room's any more and never will be (Bolt's
// bucketRetired); under m.mu.
func (m *Memory) retire(id string) {
	if m.retired == nil {
		m.retired = make(map[string]bool)
	}
	m.retired[id] = true
}

// UpdateRoom replaces a room, under the same id or (rotation) a new one, in one step:
// the old id stops working as the new one starts. ErrNotFound if oldID is gone,
// ErrExists if a new id is taken.
func (m *Memory) UpdateRoom(_ context.Context, oldID string, r Room) error {
	if err := validRoom(r); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rooms[oldID]; !ok {
		return ErrNotFound
	}
	if r.ID != oldID {
		if _, ok := m.rooms[r.ID]; ok || m.retired[r.ID] {
			return ErrExists
		}
		delete(m.rooms, oldID)
		m.retire(oldID)
	}
	m.rooms[r.ID] = r
	return nil
}

// DeleteRoom removes a room; ErrNotFound if there is none.
func (m *Memory) DeleteRoom(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rooms[id]; !ok {
		return ErrNotFound
	}
	delete(m.rooms, id)
	m.retire(id)
	return nil
}

// DeleteExpired removes every room expired at now and returns their ids.
func (m *Memory) DeleteExpired(_ context.Context, now time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var gone []string
	for id, r := range m.rooms {
		if r.Expired(now) {
			delete(m.rooms, id)
			m.retire(id)
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	return gone, nil
}

// Host returns the host with that id, or ErrNotFound.
func (m *Memory) Host(_ context.Context, id string) (Host, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.hosts[id]
	if !ok {
		return Host{}, ErrNotFound
	}
	return h, nil
}

// Hosts lists every host, by name.
func (m *Memory) Hosts(_ context.Context) ([]Host, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Host, 0, len(m.hosts))
	for _, h := range m.hosts {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Host) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CreateHost adds a host; ErrExists if its id or name is taken.
func (m *Memory) CreateHost(_ context.Context, h Host) error {
	if err := validHost(h); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.hosts {
		if x.ID == h.ID || x.Name == h.Name {
			return ErrExists
		}
	}
	m.hosts[h.ID] = h
	return nil
}

// DeleteHost removes a host and every room it made; ErrNotFound if there is none.
func (m *Memory) DeleteHost(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.hosts[id]; !ok {
		return ErrNotFound
	}
	delete(m.hosts, id)
	for rid, r := range m.rooms {
		if r.HostID == id {
			delete(m.rooms, rid)
			m.retire(rid) // another host who knows the link must not take its id over
		}
	}
	return nil
}

// Close releases nothing: it is there so Memory and Bolt are used alike.
func (m *Memory) Close() error { return nil }

func sortRooms(rs []Room) {
	slices.SortFunc(rs, func(a, b Room) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
