package lobby

import (
	"fmt"
	"time"
)

// Effect is something the caller must carry out after an event.
type Effect interface{ effect() }

// Admit: id is now a member with Role; give it the meeting.
type Admit struct {
	ID   ID
	Role Role
}

// Wait: id is in the waiting room; tell it whether a moderator is there to decide.
type Wait struct {
	ID               ID
	ModeratorPresent bool
}

// Refuse: id's knock is over (it never got in); tell it why and close it.
type Refuse struct {
	ID     ID
	Reason Reason
}

// Eject: member id is out; tell it why and close it. Its media must stop at once.
type Eject struct {
	ID     ID
	Reason Reason
}

// WaitingList: the moderators To must now see this list of knocks.
type WaitingList struct {
	To      []ID
	Waiting []Knock
}

// ModeratorPresence: the waiting people To must be told whether a moderator is present.
type ModeratorPresence struct {
	To      []ID
	Present bool
}

// RoleChanged: member ID now has Role; tell every member.
type RoleChanged struct {
	ID   ID
	Role Role
}

// SettingsChanged: tell every member the new settings.
type SettingsChanged struct{ Settings Settings }

// MediaCommand: a moderator acted on Target's media.
type MediaCommand struct {
	Target  ID
	By      ID
	Command Command
	All     bool // part of a MediaAll: the moderator acted on everyone
}

func (Admit) effect()             {}
func (Wait) effect()              {}
func (Refuse) effect()            {}
func (Eject) effect()             {}
func (WaitingList) effect()       {}
func (ModeratorPresence) effect() {}
func (RoleChanged) effect()       {}
func (SettingsChanged) effect()   {}
func (MediaCommand) effect()      {}

// Reason says why someone is refused or ejected.
type Reason string

// The reasons.
const (
	ReasonWrongPassword Reason = "wrong_password"
	ReasonLocked        Reason = "locked"
	ReasonLobbyFull     Reason = "lobby_full"
	ReasonDenied        Reason = "denied"
	ReasonExpired       Reason = "expired"
	ReasonRemoved       Reason = "removed"
	ReasonSentToLobby   Reason = "sent_to_lobby"
	ReasonEnded         Reason = "ended"
	// ReasonReplaced: the same person knocked again on a new connection (Credentials.Replaces).
	ReasonReplaced Reason = "replaced"
)

// Command is a moderator's action on someone's media.
type Command string

// The media commands. There is no force-unmute: a moderator may only ask.
const (
	CommandAskUnmute  Command = "ask_unmute"
	CommandMuteMic    Command = "mute_microphone"
	CommandMuteCamera Command = "mute_camera"
	CommandStopScreen Command = "stop_screen"
)

// Knock: someone asks to come in. Nobody may knock while the meeting has MaxMembers
// members (ErrFull), not even a moderator. A moderator secret lets them straight in as a
// moderator; otherwise the password (if set) must be right, the meeting unlocked, and
// then they wait for a moderator (or come straight in when the lobby is off). A knock
// that replaces one still waiting (Credentials.Replaces; ErrUnknownTarget when that one
// no longer waits) continues it: the checks it passed are not made again, and it waits
// from that knock's time, in its place.
func (l *Lobby) Knock(id ID, name string, cred Credentials, now time.Time) ([]Effect, error) {
	if l.ended {
		return nil, ErrEnded
	}
	if _, ok := l.waiting[id]; ok {
		return nil, ErrDuplicateID
	}
	if _, ok := l.members[id]; ok {
		return nil, ErrDuplicateID
	}
	if cred.Replaces != "" {
		return l.replaceKnock(id, name, cred, now)
	}
	if l.full() {
		return nil, ErrFull
	}
	if cred.Moderator {
		return l.admit(id, RoleModerator), nil
	}
	if l.settings.PasswordRequired && !cred.PasswordOK {
		return []Effect{Refuse{ID: id, Reason: ReasonWrongPassword}}, nil
	}
	if l.settings.Locked {
		return []Effect{Refuse{ID: id, Reason: ReasonLocked}}, nil
	}
	if !l.settings.Lobby {
		return l.admit(id, RoleParticipant), nil
	}
	if len(l.waiting) >= l.cfg.MaxWaiting {
		return []Effect{Refuse{ID: id, Reason: ReasonLobbyFull}}, nil
	}
	return l.wait(Knock{ID: id, Name: name, Since: now}), nil
}

// replaceKnock is Knock for a knock that continues cred.Replaces.
func (l *Lobby) replaceKnock(id ID, name string, cred Credentials, now time.Time) ([]Effect, error) {
	if cred.Moderator {
		return nil, ErrInvalid // a moderator's knock never waits, so it has nothing to continue
	}
	old, ok := l.waiting[cred.Replaces]
	if !ok {
		return nil, ErrUnknownTarget
	}
	if now.Sub(old.Since) >= l.cfg.KnockTTL {
		// Its time is up (Tick has not run yet): nothing is left to continue.
		return nil, ErrUnknownTarget
	}
	delete(l.waiting, old.ID)
	effects := []Effect{Refuse{ID: old.ID, Reason: ReasonReplaced}}
	return append(effects, l.wait(Knock{ID: id, Name: name, Since: old.Since})...), nil
}

// wait puts k in the waiting room and tells the knocker and the moderators.
func (l *Lobby) wait(k Knock) []Effect {
	l.waiting[k.ID] = k
	mods := l.moderators()
	return []Effect{
		Wait{ID: k.ID, ModeratorPresent: len(mods) > 0},
		WaitingList{To: mods, Waiting: l.Waiting()},
	}
}

// admit makes id a member; a new moderator also learns the waiting list, and waiting
// people learn that a moderator is now there.
func (l *Lobby) admit(id ID, role Role) []Effect {
	hadModerator := len(l.moderators()) > 0
	l.members[id] = role
	effects := []Effect{Admit{ID: id, Role: role}}
	if role == RoleModerator {
		effects = append(effects, WaitingList{To: []ID{id}, Waiting: l.Waiting()})
		if !hadModerator && len(l.waiting) > 0 {
			effects = append(effects, ModeratorPresence{To: l.waiterIDs(), Present: true})
		}
	}
	return effects
}

// Leave: id's connection ended, whether it was waiting or a member.
func (l *Lobby) Leave(id ID) []Effect {
	if _, ok := l.waiting[id]; ok {
		delete(l.waiting, id)
		return []Effect{WaitingList{To: l.moderators(), Waiting: l.Waiting()}}
	}
	role, ok := l.members[id]
	if !ok {
		return nil
	}
	delete(l.members, id)
	return append(l.dropHand(id), l.afterModeratorLoss(role)...)
}

func (l *Lobby) afterModeratorLoss(lost Role) []Effect {
	if lost == RoleModerator && len(l.moderators()) == 0 && len(l.waiting) > 0 {
		return []Effect{ModeratorPresence{To: l.waiterIDs(), Present: false}}
	}
	return nil
}

// Tick expires knocks older than the knock TTL.
func (l *Lobby) Tick(now time.Time) []Effect {
	var effects []Effect
	for _, k := range l.Waiting() {
		if now.Sub(k.Since) >= l.cfg.KnockTTL {
			delete(l.waiting, k.ID)
			effects = append(effects, Refuse{ID: k.ID, Reason: ReasonExpired})
		}
	}
	if len(effects) > 0 {
		effects = append(effects, WaitingList{To: l.moderators(), Waiting: l.Waiting()})
	}
	return effects
}

// Action is a moderator's request.
type Action interface{ action() }

// The moderator actions.
type (
	AdmitOne struct{ Target ID }
	DenyOne  struct{ Target ID }
	// AdmitAll admits the people waiting, oldest first, up to the limit: only those of
	// Only still waiting when Only is not nil (the ones the moderator saw and chose; a
	// knock that came meanwhile keeps waiting).
	AdmitAll struct{ Only []ID }
	// DenyAll refuses, in one step, those of Targets still waiting (the knocks the
	// moderator saw and chose; a knock that came meanwhile keeps waiting): each is told
	// it was denied, and the moderators get one waiting list, not one per knock. There
	// is no "everyone waiting": a deny names whom it denies.
	DenyAll     struct{ Targets []ID }
	SendToLobby struct{ Target ID }
	Remove      struct{ Target ID }
	SetRole     struct {
		Target ID
		Role   Role
	}
	UpdateSettings struct{ Settings Settings }
	Media          struct {
		Target  ID
		Command Command
	}
	End struct{}
)

func (AdmitOne) action()       {}
func (DenyOne) action()        {}
func (AdmitAll) action()       {}
func (DenyAll) action()        {}
func (SendToLobby) action()    {}
func (Remove) action()         {}
func (SetRole) action()        {}
func (UpdateSettings) action() {}
func (Media) action()          {}
func (End) action()            {}

// Act applies a moderator action by member by. Every action needs the moderator role.
func (l *Lobby) Act(by ID, a Action) ([]Effect, error) {
	if l.ended {
		return nil, ErrEnded
	}
	if l.members[by] != RoleModerator {
		return nil, ErrNotModerator
	}
	switch a := a.(type) {
	case AdmitOne:
		if _, ok := l.waiting[a.Target]; !ok {
			return nil, ErrUnknownTarget
		}
		if l.full() {
			return nil, ErrFull
		}
		delete(l.waiting, a.Target)
		effects := l.admit(a.Target, RoleParticipant)
		return append(effects, WaitingList{To: l.moderators(), Waiting: l.Waiting()}), nil
	case DenyOne:
		if _, ok := l.waiting[a.Target]; !ok {
			return nil, ErrUnknownTarget
		}
		delete(l.waiting, a.Target)
		return []Effect{Refuse{ID: a.Target, Reason: ReasonDenied}, WaitingList{To: l.moderators(), Waiting: l.Waiting()}}, nil
	case AdmitAll:
		// Oldest first, up to the participant limit; the rest keep waiting.
		var chosen map[ID]bool
		if a.Only != nil {
			chosen = make(map[ID]bool, len(a.Only))
			for _, id := range a.Only {
				chosen[id] = true
			}
		}
		var effects []Effect
		for _, k := range l.Waiting() {
			if chosen != nil && !chosen[k.ID] {
				continue
			}
			if l.full() {
				break
			}
			delete(l.waiting, k.ID)
			effects = append(effects, l.admit(k.ID, RoleParticipant)...)
		}
		return append(effects, WaitingList{To: l.moderators(), Waiting: l.Waiting()}), nil
	case DenyAll:
		return l.denyAll(a.Targets), nil
	case SendToLobby:
		return l.eject(by, a.Target, ReasonSentToLobby)
	case Remove:
		return l.eject(by, a.Target, ReasonRemoved)
	case SetRole:
		if !a.Role.Valid() {
			return nil, ErrInvalid
		}
		old, ok := l.members[a.Target]
		if !ok {
			return nil, ErrUnknownTarget
		}
		if old == a.Role {
			return nil, nil
		}
		if a.Target == by && len(l.moderators()) == 1 {
			return nil, fmt.Errorf("%w: the last moderator cannot step down", ErrInvalid)
		}
		l.members[a.Target] = a.Role
		effects := []Effect{RoleChanged{ID: a.Target, Role: a.Role}}
		if a.Role == RoleModerator {
			effects = append(effects, WaitingList{To: []ID{a.Target}, Waiting: l.Waiting()})
		}
		return effects, nil
	case UpdateSettings:
		l.settings = a.Settings
		return []Effect{SettingsChanged{Settings: a.Settings}}, nil
	case Media:
		if _, ok := l.members[a.Target]; !ok {
			return nil, ErrUnknownTarget
		}
		switch a.Command {
		case CommandAskUnmute, CommandMuteMic, CommandMuteCamera, CommandStopScreen:
		default:
			return nil, ErrInvalid
		}
		return []Effect{MediaCommand{Target: a.Target, By: by, Command: a.Command}}, nil
	case End:
		return l.end(), nil
	case LowerHand, LowerAllHands, MediaAll:
		return l.actOnHands(by, a)
	}
	return nil, ErrInvalid
}

// denyAll refuses those of targets still waiting, oldest first, and sends the
// moderators one fresh list (also when none of them still waits: their pages showed
// knocks that are gone).
func (l *Lobby) denyAll(targets []ID) []Effect {
	chosen := make(map[ID]bool, len(targets))
	for _, id := range targets {
		chosen[id] = true
	}
	var effects []Effect
	for _, k := range l.Waiting() {
		if chosen[k.ID] {
			delete(l.waiting, k.ID)
			effects = append(effects, Refuse{ID: k.ID, Reason: ReasonDenied})
		}
	}
	return append(effects, WaitingList{To: l.moderators(), Waiting: l.Waiting()})
}

// EndByServer ends the meeting without a moderator (its room was deleted, rotated or
// expired): everyone waiting is refused and every member ejected, reason ended.
func (l *Lobby) EndByServer() []Effect {
	if l.ended {
		return nil
	}
	return l.end()
}

func (l *Lobby) end() []Effect {
	l.ended = true
	var effects []Effect
	for _, k := range l.Waiting() {
		effects = append(effects, Refuse{ID: k.ID, Reason: ReasonEnded})
	}
	for _, id := range l.Members() {
		effects = append(effects, Eject{ID: id, Reason: ReasonEnded})
	}
	l.waiting = map[ID]Knock{}
	l.members = map[ID]Role{}
	l.hands = nil
	return effects
}

// eject removes a member (not oneself: leaving is Leave).
func (l *Lobby) eject(by, target ID, reason Reason) ([]Effect, error) {
	role, ok := l.members[target]
	if !ok {
		return nil, ErrUnknownTarget
	}
	if target == by {
		return nil, fmt.Errorf("%w: use leave to leave", ErrInvalid)
	}
	delete(l.members, target)
	effects := append([]Effect{Eject{ID: target, Reason: reason}}, l.dropHand(target)...)
	return append(effects, l.afterModeratorLoss(role)...), nil
}
