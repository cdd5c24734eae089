package signaling

import (
	"context"
	"errors"
	"sync"
	"time"

	"conclave/lobby"
	"conclave/sfu"
	"conclave/store"
)

// RoomStore is what the server needs of the store (store.Memory, store.Bolt): rooms
// last there; meetings, what happens while people are in a room, never do.
type RoomStore interface {
	Room(ctx context.Context, id string) (store.Room, error)
	Rooms(ctx context.Context, hostID string) ([]store.Room, error)
	CreateRoom(ctx context.Context, r store.Room) error
	UpdateRoom(ctx context.Context, oldID string, r store.Room) error
	DeleteRoom(ctx context.Context, id string) error
	DeleteExpired(ctx context.Context, now time.Time) ([]string, error)
	Host(ctx context.Context, id string) (store.Host, error)
}

// Registry holds the live meetings of this server, in memory only; each is made from a
// stored room when someone joins it, and ends when unused or empty while the room stays.
// Its lock guards the map only: meetings are ended, and their media closed, outside it
// (by the janitor's tick or the last session to leave), so a join never waits on another
// meeting, and the store is never read or written under it.
type Registry struct {
	engine      *sfu.Engine
	store       RoomStore
	now         func() time.Time
	maxMeetings int
	maxWaitAddr int // knocks waiting per address per meeting
	lobbyCfg    lobby.Config
	unusedTTL   time.Duration
	emptyGrace  time.Duration // how long a meeting outlives its last connection
	// after is the server's clock's timers, for the pace of `speaking` (speakers.go);
	// nil: no speaker messages (tests of the registry alone).
	after func(time.Duration, func()) func() bool
	// revokeICE ends the TURN credentials of a member that is gone (ICESource.Revoke);
	// nil without TURN.
	revokeICE func([]ICEServer)

	mu       sync.Mutex
	meetings map[string]*Meeting
	// changes counts the hosts' changes of rooms that reach their meetings
	// (roomChanged): a meeting made from a read of a room taken before one is not put
	// here (open), since the change found no meeting of that room to drop.
	changes uint64

	// expiredFor is the janitor's record of the wall clock, which decides when an
	// expired room is deleted (expirywindow.go). Used by tick only.
	expiredFor wallWindow
}

// ErrTooManyMeetings is returned by open when the server holds its maximum.
var ErrTooManyMeetings = errors.New("signaling: too many meetings")

func newRegistry(engine *sfu.Engine, rooms RoomStore, now func() time.Time, maxMeetings, maxWaitAddr int, lobbyCfg lobby.Config, emptyGrace time.Duration) *Registry {
	return &Registry{
		engine:      engine,
		store:       rooms,
		now:         now,
		maxMeetings: maxMeetings,
		maxWaitAddr: maxWaitAddr,
		lobbyCfg:    lobbyCfg,
		unusedTTL:   10 * time.Minute,
		emptyGrace:  emptyGrace,
		meetings:    make(map[string]*Meeting),
	}
}

// open returns the live meeting of room id, making it from the stored room when there is
// none. It returns nil (and no error) when there is no such room or it has expired.
func (r *Registry) open(ctx context.Context, id string) (*Meeting, error) {
	if !validRoomID(id) {
		return nil, nil
	}
	if m := r.Get(id); m != nil && !m.roomExpired(r.now()) {
		return m, nil
	}
	// No live meeting, or one whose room had expired by the expiry it was made with:
	// the store says whether the room has (its host may have extended it since). An
	// expired room lets nobody new in while its meeting waits for the janitor's round.
	for {
		m, again, err := r.openFromStore(ctx, id)
		if !again {
			return m, err
		}
	}
}

// openFromStore is one try of open's at making the meeting of room id from the store.
// again: a host changed a room (roomChanged) between this try's read of the room and
// its putting the meeting in the registry, so the read may be older than the change,
// which found no meeting of the room to drop; the room is read again. This is checked
// before the meeting is put there, not after: from then on other joins find it (Get),
// and a meeting made from the room as it was let them in by its old settings and
// password before a later look could drop it (once someone is in it, it is not
// dropped). A try again needs a change of some room during one read of the store.
func (r *Registry) openFromStore(ctx context.Context, id string) (_ *Meeting, again bool, _ error) {
	r.mu.Lock()
	seen := r.changes
	r.mu.Unlock()
	room, err := r.store.Room(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	now := r.now()
	if room.Expired(now) {
		return nil, false, nil // the janitor deletes it
	}
	settings := lobby.DefaultSettings()
	settings.Lobby = room.Settings.Lobby
	settings.ScreenShare = room.Settings.ScreenShare
	settings.Unmute = room.Settings.Unmute
	settings.Chat = room.Settings.Chat
	settings.PasswordRequired = room.PasswordHash != ""

	r.mu.Lock()
	old := r.meetings[id]
	if old != nil && !old.expired(now, r.unusedTTL, r.emptyGrace) && !old.isEnded() {
		r.mu.Unlock()
		return old, false, nil // another join made it meanwhile (and checked its read so)
	}
	if r.changes != seen {
		r.mu.Unlock()
		return nil, true, nil
	}
	if r.liveLocked() >= r.maxMeetings {
		r.mu.Unlock()
		return nil, false, ErrTooManyMeetings // meetings past their time count until the janitor ends them
	}
	sroom := r.engine.NewRoom()
	sroom.SetEncrypted(room.E2EE)
	m := &Meeting{
		id:          id,
		room:        sroom,
		idle:        now,
		maxWait:     r.maxWaitAddr,
		modHash:     room.ModeratorMAC,
		modMade:     room.ModeratorMade,
		e2ee:        room.E2EE,
		expires:     room.Expires,
		now:         r.now,
		lob:         lobby.New(r.lobbyCfg, settings),
		pwHash:      room.PasswordHash,
		pwChanges:   newTokenBucket(passwordChangeRate, passwordChangeBurst),
		settingsRev: settingsRevisions{rev: firstSettingsRevision},
		conns:       make(map[lobby.ID]*Session),
		members:     make(map[lobby.ID]*ParticipantInfo),
		resumable:   make(map[lobby.ID]*parking),
		// Only a meeting whose speakers are watched tells who speaks.
		speakerDetection: r.after != nil && r.engine.SpeakerDetection(),
		revokeICE:        r.revokeICE,
	}
	m.settingsEpoch = newSettingsEpoch()
	r.meetings[id] = m
	r.mu.Unlock()
	if m.speakerDetection {
		go m.watchSpeakers(r.after)
	}
	if old != nil {
		// An ended meeting whose last sessions are still leaving, or one past its time
		// the janitor has not swept: it no longer owns the id, so it is closed here.
		old.endByServer()
		old.room.Close()
	}
	// The room was read before the meeting was in the map: a deletion or rotation (or
	// its host's removal) in between found no meeting to end (endRoom), and the meeting
	// would run under the withdrawn id, with its old moderator secret, until the
	// janitor's next round. So the room is read again now that the meeting is there: a
	// withdrawal before this read is seen here, one after it finds the meeting. (A
	// change of the room is seen before the meeting is there: changes.)
	if _, err := r.store.Room(context.WithoutCancel(ctx), id); errors.Is(err, store.ErrNotFound) {
		r.end(m)
		return nil, false, nil
	}
	return m, false, nil
}

// sameMeetingFields reports whether a meeting made from room a is the one room b makes:
// what a meeting takes from its room (the title is no part of it).
func sameMeetingFields(a, b store.Room) bool {
	return a.Settings == b.Settings && a.PasswordHash == b.PasswordHash && a.E2EE == b.E2EE &&
		a.ModeratorMAC == b.ModeratorMAC && a.ModeratorMade == b.ModeratorMade && a.Expires.Equal(b.Expires)
}

// roomExpiry gives the live meeting of room id, if any, the expiry its host set on
// the room. (A meeting made from a read of the room just before the change keeps
// the old expiry until the janitor's round, which asks the store: roomOver.)
func (r *Registry) roomExpiry(id string, expires time.Time) {
	r.mu.Lock()
	m := r.meetings[id]
	r.mu.Unlock()
	if m != nil {
		m.setExpires(expires)
	}
}

// roomChanged drops the live meeting of room id if nobody is in it (dropIfNobodyLocked):
// its host changed the room (PATCH), and the next person is to start a meeting from the
// room as it is now, not enter one made from it before. A meeting someone is in goes on
// as it is.
func (r *Registry) roomChanged(id string) {
	r.mu.Lock()
	r.changes++
	m := r.meetings[id]
	dropped := false
	if m != nil {
		m.mu.Lock()
		dropped = m.dropIfNobodyLocked()
		m.mu.Unlock()
		if dropped {
			delete(r.meetings, id)
		}
	}
	r.mu.Unlock()
	if dropped {
		m.room.Close()
	}
}

// Get returns the live meeting with that id, or nil. It looks at that meeting only: one
// past its time is not returned, and the janitor ends it.
func (r *Registry) Get(id string) *Meeting {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.meetings[id]
	if m == nil || m.expired(r.now(), r.unusedTTL, r.emptyGrace) || m.isEnded() {
		return nil
	}
	return m
}

// resumable returns the live meeting with that id for a resume, or nil: there is none,
// or its room has expired. A room past its expiry lets nobody back in, as it lets
// nobody new in, also before the janitor's round ends its meeting: the meeting is
// over. As for open, once the meeting's own expiry has passed the store decides (its
// host may have extended the room since the meeting was made).
func (r *Registry) resumable(ctx context.Context, id string) *Meeting {
	m := r.Get(id)
	if m == nil {
		return nil
	}
	if now := r.now(); m.roomExpired(now) && r.roomOver(ctx, m, now) {
		return nil
	}
	return m
}

// Exists reports whether a meeting can be joined under id: a live meeting has it, or a
// stored room that has not expired (one map lookup, then one store read).
func (r *Registry) Exists(id string) bool {
	if m := r.Get(id); m != nil && !m.roomExpired(r.now()) { // else as open: the store says
		return true
	}
	if !validRoomID(id) {
		return false
	}
	room, err := r.store.Room(context.Background(), id)
	return err == nil && !room.Expired(r.now())
}

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

// tick is the janitor: it deletes rooms expired for ten minutes of its rounds from the
// store, ends the meetings of rooms that are gone (expired, or deleted by another
// process sharing the store), ends unused and empty meetings, and expires old knocks
// in the others.
func (r *Registry) tick(ctx context.Context) {
	now := r.now()
	// Only a room expired at every round of the last ten minutes: a step of the wall
	// clock forward deletes nothing before it has lasted that long.
	_, _ = r.store.DeleteExpired(ctx, r.expiredFor.settled(now)) // a failing store is retried next tick

	var live, done []*Meeting
	r.mu.Lock()
	for id, m := range r.meetings {
		if m.expired(now, r.unusedTTL, r.emptyGrace) {
			m.mu.Lock()
			m.endLocked()
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
		if r.roomOver(ctx, m, now) {
			r.end(m)
			continue
		}
		m.tick(now)
	}
}

// roomOver reports whether the room of meeting m is gone from the store or expired at
// now. The store's record decides, not the expiry m was made with: its host may have
// extended the room (or made it standing) since, and its meeting goes on. Only when the
// store cannot say does m's own expiry count.
func (r *Registry) roomOver(ctx context.Context, m *Meeting, now time.Time) bool {
	room, err := r.store.Room(ctx, m.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return true
	case err != nil:
		return m.roomExpired(now)
	}
	return room.Expired(now)
}

// endRoom ends the live meeting of room id, if any, for everyone in it (bye ended): its
// room was deleted or rotated to a new id.
func (r *Registry) endRoom(id string) {
	r.mu.Lock()
	m := r.meetings[id]
	r.mu.Unlock()
	if m != nil {
		r.end(m)
	}
}

// end takes m out of the registry, tells everyone in it that it ended and closes its
// media at once.
func (r *Registry) end(m *Meeting) {
	r.mu.Lock()
	if r.meetings[m.id] == m {
		delete(r.meetings, m.id)
	}
	r.mu.Unlock()
	m.endByServer()
	m.room.Close()
}

// endIfEmpty removes m when no session is attached to it any more.
func (r *Registry) endIfEmpty(m *Meeting) {
	r.mu.Lock()
	m.mu.Lock()
	// Otherwise the janitor ends it after emptyGrace or unusedTTL.
	// Parked members (parking.go) keep it until their grace period is over.
	empty := len(m.conns) == 0 && (m.ended || (m.joined && r.emptyGrace == 0 && len(m.members) == 0)) && r.meetings[m.id] == m
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

// closeAll ends every meeting (shutdown). The rooms stay in the store.
func (r *Registry) closeAll() {
	r.mu.Lock()
	all := r.meetings
	r.meetings = make(map[string]*Meeting)
	r.mu.Unlock()
	for _, m := range all {
		m.mu.Lock()
		m.endLocked() // no grace timer outlives the server
		m.mu.Unlock()
		m.room.Close()
	}
}
