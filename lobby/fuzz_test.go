package lobby

import (
	"fmt"
	"testing"
	"time"
)

// FuzzLobby drives a lobby with random events and keeps its own record of what the
// driver did and what the lobby answered. After every step it checks that the effects
// fully explain the new state and that the access rules held:
//
//	(a) every member was admitted (an Admit effect in its current session);
//	(b) nobody who knocked while the lobby was on got in without AdmitOne/AdmitAll
//	    (moderator secrets aside);
//	(c) nobody got in or waited without the password when one was required;
//	(d) nobody is both waiting and a member;
//	(e) whoever left, was refused, denied, expired, removed or sent back stays out until it
//	    knocks again (no silent readmission);
//	(f) the waiting room never holds more than MaxWaiting;
//	(g) after End nothing is left and every event is refused with ErrEnded;
//	(h) every WaitingList goes to exactly the current moderators (or to one new moderator)
//	    and every change of the waiting list sends one; waiting people always know whether a
//	    moderator is present;
//	(i) members never exceed MaxMembers: a knock or AdmitOne into a full meeting is
//	    refused with ErrFull, and AdmitAll admits the oldest knocks up to the limit and
//	    leaves the rest waiting;
//	(j) DenyAll denies exactly those of its targets that wait, and tells the moderators
//	    in one waiting list.
//
// Refused events must return the predicted error, no effects, and leave the state as it was.
func FuzzLobby(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		b := in.next() // bits 0-1: MaxWaiting-1; the rest: how far below the pool MaxMembers is
		m := newModel(t, 1+int(b%4), len(fuzzPool)-int(b>>2)%len(fuzzPool), fuzzSettings(in.next()))
		for steps := 0; len(in.b) > 0 && steps < 100; steps++ {
			m.step(decode(in, m))
		}
	})
}

// The fuzz ops; each is followed by the bytes listed.
const (
	opKnock     = iota // id, credentials (bit 0 password, bits 1+2 moderator, bits 3+4 time, bit 5: then the id of the knock it replaces)
	opLeave            // id
	opTick             // time step
	opAdmit            // by, target
	opDeny             // by, target
	opAdmitAll         // by
	opSendBack         // by, target
	opRemove           // by, target
	opSetRole          // by, target, role
	opSettings         // by, settings bits
	opMedia            // by, target, command
	opNilAction        // by
	opDenyAll          // by, which of the pool it names (bit i: fuzzPool[i])
	opEnd              // by, guard (ends only if guard%4 == 0)
	opCount
)

// Time moves in quarter minutes, so knocks often expire exactly at the TTL.
const (
	fuzzTTL  = 10 * time.Minute
	fuzzStep = 15 * time.Second
)

var (
	fuzzPool     = []ID{"a", "b", "c", "d", "e", "f"}
	fuzzRoles    = []Role{RoleParticipant, RolePresenter, RoleModerator, "", "owner"}
	fuzzCommands = []Command{CommandAskUnmute, CommandMuteMic, CommandMuteCamera, CommandStopScreen, "unmute", ""}
)

// fuzzSeeds walk through the main flows, so the seed corpus alone covers them.
func fuzzSeeds() [][]byte {
	const a, b, c, d, e = 0, 1, 2, 3, 4
	const pw, mod = 1, 6 // credential bytes: password given; moderator secret
	return [][]byte{
		// Admit, grant presenter, mute, remove, knock again, deny, end.
		seed(3, 0, opKnock, a, mod, opKnock, b, pw, opAdmit, a, b, opSetRole, a, b, 1, opMedia, a, b, 1,
			opRemove, a, b, opMedia, a, b, 0, opKnock, b, pw, opDeny, a, b, opKnock, c, 0, opEnd, a, 0),
		// Lock, a moderator through the lock, send back, unlock, full lobby, admit all.
		seed(2, 0, opKnock, a, mod, opSettings, a, 0x82, opKnock, c, pw, opKnock, d, mod, opSendBack, a, d,
			opSettings, a, 0, opKnock, b, 0, opKnock, c, 0, opKnock, d, 0, opAdmitAll, a),
		// No moderator: wait, a moderator comes and goes, knocks expire.
		seed(4, 0, opKnock, b, 0, opKnock, c, pw, opKnock, a, mod, opLeave, a, opTick, 40, opKnock, d, 0),
		// Two places: a moderator and one admitted; admit and knocks are refused as full,
		// admit all leaves the rest waiting; after a leave, admit all takes the oldest.
		seedCap(4, 2, 0, opKnock, a, mod, opKnock, b, 0, opKnock, c, 8, opKnock, d, 16, opAdmitAll, a,
			opAdmit, a, c, opKnock, e, mod, opLeave, b, opAdmitAll, a),
		// Knocks again on new connections: one continues a knock in its place and time
		// through a lock, past the password and after the lobby went off; one continues
		// a knock that is gone, and a moderator's continues nothing.
		seed(4, 0x20, opKnock, b, pw, opTick, 8, opKnock, c, pw, opKnock, a, mod, opSettings, a, 0xa2,
			opKnock, d, 32, b, opKnock, e, 32, b, opSettings, a, 0x21, opKnock, b, 32, d, opKnock, e, 38, c, opAdmit, a, b),
		// Lobby off with a password: the wrong one is refused, the right one comes straight in;
		// then the lobby goes on and a knock waits again.
		seed(4, 0x21, opKnock, b, 0, opKnock, b, pw, opKnock, a, mod, opSettings, a, 0x20, opKnock, c, pw, opAdmit, a, c),
		// Deny all of some shown (b and d, and e who is not there) while c keeps waiting,
		// then of nobody; a participant's deny all is refused.
		seed(4, 0, opKnock, a, mod, opKnock, b, 0, opKnock, c, 0, opKnock, d, 0, opDenyAll, a, 0x1a,
			opDenyAll, a, 0, opAdmit, a, c, opDenyAll, c, 0x04),
		// Grant and revoke moderator, the last moderator cannot step down, a non-moderator acts, end.
		seed(3, 0, opKnock, a, mod, opKnock, b, 0, opAdmit, a, b, opSetRole, a, b, 2, opSetRole, b, a, 0,
			opSetRole, a, a, 0, opSetRole, b, b, 0, opNilAction, a, opNilAction, b, opEnd, b, 0, opKnock, a, mod),
	}
}

func seed(maxWaiting, settings byte, ops ...byte) []byte {
	return seedCap(maxWaiting, byte(len(fuzzPool)), settings, ops...)
}

// seedCap is seed with a participant limit (1 to the size of the pool).
func seedCap(maxWaiting, maxMembers, settings byte, ops ...byte) []byte {
	return append([]byte{maxWaiting - 1 | (byte(len(fuzzPool))-maxMembers)<<2, settings}, ops...)
}

// fuzzSettings: the lobby is on unless bit 0 is set and bit 6 clear; locked needs bits 1 and 7.
func fuzzSettings(b byte) Settings {
	return Settings{
		Lobby:            b&1 == 0 || b&64 != 0,
		Locked:           b&0x82 == 0x82,
		ScreenShare:      b&4 != 0,
		Unmute:           b&8 != 0,
		Chat:             b&16 != 0,
		PasswordRequired: b&32 != 0,
	}
}

type input struct{ b []byte }

func (in *input) next() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

func (in *input) id() ID { return fuzzPool[int(in.next())%len(fuzzPool)] }

// poolPart is the ids of fuzzPool whose bits are set in b (bit i: fuzzPool[i]).
func poolPart(b byte) []ID {
	out := []ID{}
	for i, id := range fuzzPool {
		if b&(1<<i) != 0 {
			out = append(out, id)
		}
	}
	return out
}

type event struct {
	kind   string // knock, leave, tick, act
	id     ID     // who knocks or leaves, or who acts
	cred   Credentials
	action Action
	now    time.Time
}

func (e event) String() string {
	switch e.kind {
	case "knock":
		return fmt.Sprintf("Knock(%s, %+v)", e.id, e.cred)
	case "leave":
		return fmt.Sprintf("Leave(%s)", e.id)
	case "tick":
		return fmt.Sprintf("Tick(+%v)", e.now.Sub(t0))
	}
	return fmt.Sprintf("Act(%s, %T%+v)", e.id, e.action, e.action)
}

func decode(in *input, m *model) event {
	switch op := in.next() % opCount; op {
	case opKnock:
		id, c := in.id(), in.next()
		m.now = m.now.Add(time.Duration(c>>3%4) * fuzzStep)
		cred := Credentials{PasswordOK: c&1 != 0, Moderator: c&6 == 6}
		if c&32 != 0 {
			cred.Replaces = in.id()
		}
		return event{kind: "knock", id: id, cred: cred, now: m.now}
	case opLeave:
		return event{kind: "leave", id: in.id()}
	case opTick:
		m.now = m.now.Add(time.Duration(in.next()%64) * fuzzStep)
		return event{kind: "tick", now: m.now}
	default:
		ev := event{kind: "act", id: in.id()}
		switch op {
		case opAdmit:
			ev.action = AdmitOne{Target: in.id()}
		case opDeny:
			ev.action = DenyOne{Target: in.id()}
		case opAdmitAll:
			ev.action = AdmitAll{}
		case opSendBack:
			ev.action = SendToLobby{Target: in.id()}
		case opRemove:
			ev.action = Remove{Target: in.id()}
		case opSetRole:
			ev.action = SetRole{Target: in.id(), Role: fuzzRoles[int(in.next())%len(fuzzRoles)]}
		case opSettings:
			ev.action = UpdateSettings{Settings: fuzzSettings(in.next())}
		case opMedia:
			ev.action = Media{Target: in.id(), Command: fuzzCommands[int(in.next())%len(fuzzCommands)]}
		case opNilAction:
			ev.action = nil
		case opDenyAll:
			ev.action = DenyAll{Targets: poolPart(in.next())}
		default:
			if in.next()%4 == 0 {
				ev.action = End{}
			} else {
				ev.action = AdmitAll{}
			}
		}
		return ev
	}
}
