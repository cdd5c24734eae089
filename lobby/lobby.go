// Package lobby is a meeting's access policy as a pure state machine: who waits, who is
// in and with which role, which settings hold, and what each moderator action does.
// Events go in as method calls (with the time passed in), effects come out as values for
// the caller to carry out. No goroutines, no clock reads, no I/O: the rules can be
// tested and fuzzed exhaustively.
//
// Admission is per session: an ID that was removed, sent back or denied is gone, and the
// person behind it must knock again under a new ID.
package lobby

import (
	"errors"
	"slices"
	"strings"
	"time"
)

// ID identifies one session (one connection of one person).
type ID string

// Role is what an admitted member may do.
type Role string

// The roles, from least to most powerful.
const (
	RoleParticipant Role = "participant"
	RolePresenter   Role = "presenter" // may share the screen
	RoleModerator   Role = "moderator" // may do everything in Action
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleParticipant || r == RolePresenter || r == RoleModerator
}

// Settings are a meeting's live settings; moderators change them.
type Settings struct {
	Lobby            bool `json:"lobby"`            // knockers wait for a moderator
	Locked           bool `json:"locked"`           // nobody new may knock
	ScreenShare      bool `json:"screenShare"`      // participants (not only presenters) may share the screen
	Unmute           bool `json:"unmute"`           // participants may unmute themselves
	Chat             bool `json:"chat"`             // chat is on
	PasswordRequired bool `json:"passwordRequired"` // a password must be given to knock
}

// DefaultSettings: lobby on, unlocked, screen share for presenters and moderators
// only, self-unmute allowed, chat on, no password.
func DefaultSettings() Settings {
	return Settings{Lobby: true, Unmute: true, Chat: true}
}

// Config bounds a lobby.
type Config struct {
	MaxWaiting int           // knockers waiting at once (default DefaultMaxWaiting)
	KnockTTL   time.Duration // a knock expires after this (default 15 minutes)
	MaxMembers int           // members at once, moderators included (default 100)
}

// DefaultMaxWaiting is Config.MaxWaiting when it is not set.
const DefaultMaxWaiting = 100

// MaxWaitingCeiling is the most Config.MaxWaiting may be, whatever the operator set: the
// moderators' pages draw every knock of a waiting list and keep no more than this many
// (session-roster.js MAX_WAITING, which must be this figure), so that a lying server
// cannot make a page hold any number of knockers.
const MaxWaitingCeiling = 10_000

// Knock is one person waiting.
type Knock struct {
	ID    ID
	Name  string
	Since time.Time
}

// Credentials are what a knocker proved; the caller checks passwords and moderator
// secrets (slow, rate limited) before it calls Knock.
type Credentials struct {
	PasswordOK bool // the meeting's password was given (or none is set)
	Moderator  bool // the moderator secret was given
	// Replaces is a knock of the same person still waiting, whose connection the
	// caller found the knocker proved it holds (its page knocking again after a drop
	// the server has not noticed yet). The new knock takes its place in the queue and
	// its time, and comes past what that knock already came past: the password, a lock
	// and a full meeting. The old knock is refused with ReasonReplaced.
	Replaces ID
}

// Errors of refused events. The state is unchanged whenever one is returned.
var (
	ErrNotModerator  = errors.New("lobby: only moderators may do that")
	ErrUnknownTarget = errors.New("lobby: no such waiting person or member")
	ErrDuplicateID   = errors.New("lobby: id already known")
	ErrInvalid       = errors.New("lobby: invalid request")
	ErrEnded         = errors.New("lobby: the meeting has ended")
	// ErrFull: the meeting already has MaxMembers members, so nobody new may knock and
	// a moderator may admit nobody until someone leaves.
	ErrFull = errors.New("lobby: the meeting has reached its participant limit")
)

// Lobby is one meeting's access state.
type Lobby struct {
	cfg      Config
	settings Settings
	waiting  map[ID]Knock
	members  map[ID]Role
	hands    map[ID]Hand // raised hands (hands.go); in memory only, gone with the meeting
	handSeq  uint64
	ended    bool
}

// New makes a lobby with the given settings.
func New(cfg Config, s Settings) *Lobby {
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	cfg.MaxWaiting = min(cfg.MaxWaiting, MaxWaitingCeiling)
	if cfg.KnockTTL <= 0 {
		cfg.KnockTTL = 15 * time.Minute
	}
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = 100
	}
	return &Lobby{cfg: cfg, settings: s, waiting: map[ID]Knock{}, members: map[ID]Role{}}
}

// Settings returns the current settings.
func (l *Lobby) Settings() Settings { return l.settings }

// Role returns id's role and whether id is a member.
func (l *Lobby) Role(id ID) (Role, bool) {
	r, ok := l.members[id]
	return r, ok
}

// IsWaiting reports whether id is in the waiting room.
func (l *Lobby) IsWaiting(id ID) bool {
	_, ok := l.waiting[id]
	return ok
}

// Waiting lists the knocks, oldest first.
func (l *Lobby) Waiting() []Knock {
	out := make([]Knock, 0, len(l.waiting))
	for _, k := range l.waiting {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Knock) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out
}

// Members lists the member ids, sorted.
func (l *Lobby) Members() []ID {
	out := make([]ID, 0, len(l.members))
	for id := range l.members {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// full reports whether no one more may become a member.
func (l *Lobby) full() bool { return len(l.members) >= l.cfg.MaxMembers }

// Ended reports whether the meeting was ended.
func (l *Lobby) Ended() bool { return l.ended }

// Moderators lists the members with the moderator role, sorted.
func (l *Lobby) Moderators() []ID { return l.moderators() }

func (l *Lobby) moderators() []ID {
	var out []ID
	for id, r := range l.members {
		if r == RoleModerator {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (l *Lobby) waiterIDs() []ID {
	out := make([]ID, 0, len(l.waiting))
	for _, k := range l.Waiting() {
		out = append(out, k.ID)
	}
	return out
}

// Can reports whether member id may do what a setting governs.
func (l *Lobby) Can(id ID, p Permission) bool {
	r, ok := l.members[id]
	if !ok {
		return false
	}
	switch p {
	case PermShareScreen:
		return r == RoleModerator || r == RolePresenter || l.settings.ScreenShare
	case PermUnmute:
		return r == RoleModerator || r == RolePresenter || l.settings.Unmute
	case PermChat:
		return l.settings.Chat
	}
	return false
}

// Permission is something a member may or may not do under the settings.
type Permission int

// The permissions settings govern.
const (
	PermShareScreen Permission = iota
	PermUnmute
	PermChat
)
