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

// Registry holds the meetings of this server, in memory only. Its lock guards the map
// only: meetings are ended, and their media closed, outside it (by the janitor's tick or
// the last session to leave), so a join never waits on another meeting.
type Registry struct {
	engine      *sfu.Engine
	now         func() time.Time
	maxMeetings int
	maxWaitAddr int // knocks waiting per address per meeting
	lobbyCfg    lobby.Config
	unusedTTL   time.Duration
	emptyGrace  time.Duration // how long a meeting outlives its last connection

	mu       sync.Mutex
	meetings map[string]*Meeting
}

// ErrTooManyMeetings is returned by Create when the server holds its maximum.
var ErrTooManyMeetings = errors.New("signaling: too many meetings")

func newRegistry(engine *sfu.Engine, now func() time.Time, maxMeetings, maxWaitAddr int, lobbyCfg lobby.Config, emptyGrace time.Duration) *Registry {
	return &Registry{
		engine:      engine,
		now:         now,
		maxMeetings: maxMeetings,
		maxWaitAddr: maxWaitAddr,
		lobbyCfg:    lobbyCfg,
		unusedTTL:   10 * time.Minute,
		emptyGrace:  emptyGrace,
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
	if len(r.meetings) >= r.maxMeetings && r.liveLocked() >= r.maxMeetings {
		return nil, ErrTooManyMeetings // meetings past their time count until the janitor ends them
	}
	m := &Meeting{
		id:      id,
		room:    r.engine.NewRoom(),
		idle:    r.now(),
		maxWait: r.maxWaitAddr,
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

// Get returns the live meeting with that id, or nil. It looks at that meeting only: one
// past its time is not returned, and the janitor ends it.
func (r *Registry) Get(id string) *Meeting {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.meetings[id]
	if m == nil || m.expired(r.now(), r.unusedTTL, r.emptyGrace) {
		return nil
	}
	return m
}

// Exists reports whether a live meeting has that id (one lookup in the map).
func (r *Registry) Exists(id string) bool { return r.Get(id) != nil }

// Len is the number of live meetings.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.liveLocked()
}

func (r *Registry) liveLocked() int {
	now, n := r.now(), 0
	for _, m := range r.meetings {
		if !m.expired(now, r.unusedTTL, r.emptyGrace) {
			n++
		}
	}
	return n
}

// tick expires old knocks in every meeting and ends unused meetings (the janitor).
func (r *Registry) tick() {
	now := r.now()
	var live, done []*Meeting
	r.mu.Lock()
	for id, m := range r.meetings {
		if m.expired(now, r.unusedTTL, r.emptyGrace) {
			m.mu.Lock()
			m.ended = true
			m.mu.Unlock()
			delete(r.meetings, id)
			done = append(done, m)
		} else {
			live = append(live, m)
		}
	}
	r.mu.Unlock()
	for _, m := range done {
		m.room.Close()
	}
	for _, m := range live {
		m.tick(now)
	}
}

// endIfEmpty removes m when no session is attached to it any more.
func (r *Registry) endIfEmpty(m *Meeting) {
	r.mu.Lock()
	m.mu.Lock()
	// Otherwise the janitor ends it after emptyGrace or unusedTTL.
	empty := len(m.conns) == 0 && (m.ended || (m.joined && r.emptyGrace == 0)) && r.meetings[m.id] == m
	if empty {
		m.ended = true
		delete(r.meetings, m.id)
	}
	m.mu.Unlock()
	r.mu.Unlock()
	if empty { // closed once: by whoever took it out of the map
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
