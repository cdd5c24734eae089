package signaling

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"conclave/sfu"
)

// Meeting is one meeting's membership and chat fan-out; its media lives in room. The
// lock is held only to change membership and to put messages into members' queues,
// which never blocks.
type Meeting struct {
	id      string
	room    *sfu.Room
	created time.Time
	maxSize int

	mu      sync.Mutex
	members map[string]*member
	joined  bool // someone has joined at least once
	ended   bool
	chatSeq uint64
}

// member is a joined session as the meeting sees it.
type member struct {
	info ParticipantInfo
	out  outbox
}

// outbox is where a session's outgoing messages go; send never blocks.
type outbox interface {
	send(msg []byte)
}

// Registry holds the meetings of this server, in memory only.
type Registry struct {
	engine      *sfu.Engine
	now         func() time.Time
	maxMeetings int
	maxSize     int
	unusedTTL   time.Duration

	mu       sync.Mutex
	meetings map[string]*Meeting
}

// ErrTooManyMeetings is returned by Create when the server holds its maximum.
var ErrTooManyMeetings = errors.New("signaling: too many meetings")

func newRegistry(engine *sfu.Engine, now func() time.Time, maxMeetings, maxSize int) *Registry {
	return &Registry{
		engine:      engine,
		now:         now,
		maxMeetings: maxMeetings,
		maxSize:     maxSize,
		unusedTTL:   10 * time.Minute,
		meetings:    make(map[string]*Meeting),
	}
}

// Create makes an empty meeting with a fresh unguessable id (128 random bits).
func (r *Registry) Create() (*Meeting, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked()
	if len(r.meetings) >= r.maxMeetings {
		return nil, ErrTooManyMeetings
	}
	m := &Meeting{id: id, room: r.engine.NewRoom(), created: r.now(), maxSize: r.maxSize, members: make(map[string]*member)}
	r.meetings[id] = m
	return m, nil
}

// Get returns the live meeting with that id, or nil.
func (r *Registry) Get(id string) *Meeting {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked()
	return r.meetings[id]
}

// Len is the number of live meetings.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked()
	return len(r.meetings)
}

// sweepLocked ends meetings that were created but never joined within unusedTTL.
func (r *Registry) sweepLocked() {
	now := r.now()
	for id, m := range r.meetings {
		m.mu.Lock()
		unused := !m.joined && len(m.members) == 0 && now.Sub(m.created) > r.unusedTTL
		if unused {
			m.ended = true
		}
		m.mu.Unlock()
		if unused {
			delete(r.meetings, id)
			m.room.Close()
		}
	}
}

// endIfEmpty removes m when nobody is in it any more.
func (r *Registry) endIfEmpty(m *Meeting) {
	r.mu.Lock()
	m.mu.Lock()
	empty := len(m.members) == 0 && !m.ended
	if empty {
		m.ended = true
		if r.meetings[m.id] == m {
			delete(r.meetings, m.id)
		}
	}
	m.mu.Unlock()
	r.mu.Unlock()
	if empty {
		m.room.Close()
	}
}

// closeAll ends every meeting (shutdown).
func (r *Registry) closeAll() {
	r.mu.Lock()
	all := r.meetings
	r.meetings = make(map[string]*Meeting)
	r.mu.Unlock()
	for _, m := range all {
		m.mu.Lock()
		m.ended = true
		m.mu.Unlock()
		m.room.Close()
	}
}

func newParticipantID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "p-" + hex.EncodeToString(b[:])
}

// join adds a member, queues the welcome to it and announces it to the others, all
// under the lock so that no other message can reach the newcomer before its welcome.
func (m *Meeting) join(out outbox, ref, name string, media MediaState) (string, *Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return "", errorf(CodeUnknownMeeting, "no such meeting")
	}
	if len(m.members) >= m.maxSize {
		return "", errorf(CodeMeetingFull, "the meeting has reached its limit of %d participants", m.maxSize)
	}
	id := newParticipantID()
	for m.members[id] != nil {
		id = newParticipantID()
	}
	others := make([]ParticipantInfo, 0, len(m.members))
	for _, o := range m.members {
		others = append(others, o.info)
	}
	info := ParticipantInfo{ID: id, Name: name, Media: media}
	m.members[id] = &member{info: info, out: out}
	m.joined = true
	out.send(encode(TypeWelcome, ref, WelcomePayload{
		Version:       ProtocolVersion,
		ParticipantID: id,
		MeetingID:     m.id,
		Participants:  others,
		Limits:        Limits{MaxMessageBytes: MaxMessageBytes, MaxChatChars: MaxChatChars},
	}))
	m.broadcastLocked(id, encode(TypeParticipantJoined, "", ParticipantPayload{Participant: info}))
	return id, nil
}

// leave removes a member and tells the others.
func (m *Meeting) leave(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.members[id]; !ok {
		return
	}
	delete(m.members, id)
	m.broadcastLocked("", encode(TypeParticipantLeft, "", ParticipantLeftPayload{ParticipantID: id}))
}

// setMedia records a member's media state and tells the others.
func (m *Meeting) setMedia(id string, media MediaState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.members[id]
	if !ok {
		return
	}
	mem.info.Media = media
	m.broadcastLocked(id, encode(TypeParticipantUpdated, "", ParticipantPayload{Participant: mem.info}))
}

// chat relays a message to every member present, the sender included. Nothing is kept.
func (m *Meeting) chat(from, ref, text string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.members[from]
	if !ok {
		return
	}
	m.chatSeq++
	msg := ChatOutPayload{
		MessageID: fmt.Sprintf("m-%d", m.chatSeq),
		From:      from,
		Name:      mem.info.Name,
		Text:      text,
		SentAt:    now.UTC().Format(time.RFC3339),
	}
	for id, o := range m.members {
		r := ""
		if id == from {
			r = ref
		}
		o.out.send(encode(TypeChat, r, msg))
	}
}

func (m *Meeting) broadcastLocked(except string, msg []byte) {
	for id, o := range m.members {
		if id != except {
			o.out.send(msg)
		}
	}
}
