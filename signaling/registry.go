package signaling

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"conclave/lobby"
	"conclave/sfu"
)

// Registry holds the meetings of this server, in memory only.
type Registry struct {
	engine      *sfu.Engine
	now         func() time.Time
	maxMeetings int
	maxSize     int
	lobbyCfg    lobby.Config
	unusedTTL   time.Duration
	emptyGrace  time.Duration          // how long a meeting outlives its last connection
	forget      func(meetingID string) // drops the meeting's attempt counters

	mu       sync.Mutex
	meetings map[string]*Meeting
}

// ErrTooManyMeetings is returned by Create when the server holds its maximum.
var ErrTooManyMeetings = errors.New("signaling: too many meetings")

func newRegistry(engine *sfu.Engine, now func() time.Time, maxMeetings, maxSize int, lobbyCfg lobby.Config, emptyGrace time.Duration, forget func(string)) *Registry {
	return &Registry{
		engine:      engine,
		now:         now,
		maxMeetings: maxMeetings,
		maxSize:     maxSize,
		lobbyCfg:    lobbyCfg,
		unusedTTL:   10 * time.Minute,
		emptyGrace:  emptyGrace,
		forget:      forget,
		meetings:    make(map[string]*Meeting),
	}
}

// meetingSpec is what a host asked for.
type meetingSpec struct {
	settings lobby.Settings
	modMAC   []byte
	pwHash   string
	e2ee     bool
}

// create makes an empty meeting with a fresh unguessable id (128 random bits).
func (r *Registry) create(spec meetingSpec) (*Meeting, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	spec.settings.PasswordRequired = spec.pwHash != ""
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked()
	if len(r.meetings) >= r.maxMeetings {
		return nil, ErrTooManyMeetings
	}
	m := &Meeting{
		id:      id,
		room:    r.engine.NewRoom(),
		idle:    r.now(),
		maxSize: r.maxSize,
		modMAC:  spec.modMAC,
		e2ee:    spec.e2ee,
		now:     r.now,
		lob:     lobby.New(r.lobbyCfg, spec.settings),
		pwHash:  spec.pwHash,
		conns:   make(map[lobby.ID]*Session),
		members: make(map[lobby.ID]*ParticipantInfo),
	}
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

// tick expires old knocks in every meeting and ends unused meetings.
func (r *Registry) tick() {
	r.mu.Lock()
	r.sweepLocked()
	all := make([]*Meeting, 0, len(r.meetings))
	for _, m := range r.meetings {
		all = append(all, m)
	}
	r.mu.Unlock()
	now := r.now()
	for _, m := range all {
		m.tick(now)
	}
}

// sweepLocked ends meetings nobody is connected to: after emptyGrace when someone was
// ever let in (so a moderator who reloads the page finds the meeting still there), after
// unusedTTL when nobody ever was (so the host has time to join it).
func (r *Registry) sweepLocked() {
	now := r.now()
	for id, m := range r.meetings {
		m.mu.Lock()
		ttl := r.unusedTTL
		if m.joined {
			ttl = r.emptyGrace
		}
		unused := len(m.conns) == 0 && now.Sub(m.idle) > ttl
		if unused {
			m.ended = true
		}
		m.mu.Unlock()
		if unused {
			delete(r.meetings, id)
			m.room.Close()
			r.forget(id)
		}
	}
}

// endIfEmpty removes m when no session is attached to it any more.
func (r *Registry) endIfEmpty(m *Meeting) {
	r.mu.Lock()
	m.mu.Lock()
	// Otherwise the janitor ends it after emptyGrace or unusedTTL.
	empty := len(m.conns) == 0 && (m.ended || (m.joined && r.emptyGrace == 0))
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
		r.forget(m.id)
	}
}

// closeAll ends every meeting (shutdown).
func (r *Registry) closeAll() {
	r.mu.Lock()
	all := r.meetings
	r.meetings = make(map[string]*Meeting)
	r.mu.Unlock()
	for id, m := range all {
		m.mu.Lock()
		m.ended = true
		m.mu.Unlock()
		m.room.Close()
		r.forget(id)
	}
}
