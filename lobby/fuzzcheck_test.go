package lobby

// FuzzLobby's checks after a step: each effect justified by the event and the record
// (apply), then the record compared with the lobby and the access rules (check).

import (
	"maps"
	"reflect"
	"slices"
)

// apply checks that effect e is justified by ev and the record, then records it.
func (m *model) apply(ev event, e Effect, newMods map[ID]bool) {
	knocker := func(id ID) bool { return ev.kind == "knock" && ev.id == id }
	switch e := e.(type) {
	case Admit:
		s := m.sessions[e.ID]
		if s == nil || m.members[e.ID] != "" {
			m.fail("admitted %s: never knocked, or already in", e.ID)
		}
		switch a := ev.action.(type) {
		case AdmitOne, AdmitAll:
			if m.waiting[e.ID] == nil || e.Role != RoleParticipant {
				m.fail("%v admitted %s, who was not waiting, as %s", ev, e.ID, e.Role)
			}
			if one, ok := a.(AdmitOne); ok && one.Target != e.ID {
				m.fail("%v admitted %s", ev, e.ID)
			}
			s.byModerator = true
		default:
			if !knocker(e.ID) || (e.Role == RoleModerator) != ev.cred.Moderator {
				m.fail("%v admitted %s as %s", ev, e.ID, e.Role)
			}
			if !ev.cred.Moderator && (m.settings.Locked || m.settings.Lobby) {
				m.fail("a knock came straight in through a lock or an active lobby") // (b)
			}
		}
		if s.pwRequired && !s.cred.PasswordOK && !s.cred.Moderator {
			m.fail("%s got in without the password", e.ID) // (c)
		}
		if s.lobbyOn && !s.cred.Moderator && !s.byModerator {
			m.fail("%s got past the lobby without a moderator", e.ID) // (b)
		}
		if len(m.members) >= m.maxMem {
			m.fail("%v admitted %s into a full meeting", ev, e.ID) // (i)
		}
		s.admitted = true
		delete(m.waiting, e.ID)
		m.members[e.ID] = e.Role
		if e.Role == RoleModerator {
			newMods[e.ID] = true
		}
	case Wait:
		if ev.cred.Replaces != "" {
			// A knock that continues one (its Refuse came first): in that one's place,
			// whatever the settings say now; it came past them then.
			s := m.sessions[e.ID]
			if !knocker(e.ID) || m.replaced == nil || m.waiting[ev.cred.Replaces] != nil || len(m.waiting) >= m.max {
				m.fail("%v made %s wait", ev, e.ID)
			}
			if s.pwRequired && !s.cred.PasswordOK {
				m.fail("%s waits without the password", e.ID) // (c)
			}
			if e.ModeratorPresent != (len(m.moderators()) > 0) {
				m.fail("%s told ModeratorPresent=%v", e.ID, e.ModeratorPresent)
			}
			m.waiting[e.ID] = &waiter{since: m.replaced.since, told: e.ModeratorPresent}
			break
		}
		if !knocker(e.ID) || ev.cred.Moderator || m.settings.Locked || !m.settings.Lobby || len(m.waiting) >= m.max {
			m.fail("%v made %s wait", ev, e.ID)
		}
		if m.settings.PasswordRequired && !ev.cred.PasswordOK {
			m.fail("%s waits without the password", e.ID) // (c)
		}
		if e.ModeratorPresent != (len(m.moderators()) > 0) {
			m.fail("%s told ModeratorPresent=%v", e.ID, e.ModeratorPresent)
		}
		m.waiting[e.ID] = &waiter{since: ev.now, told: e.ModeratorPresent}
	case Refuse:
		w := m.waiting[e.ID]
		var ok bool
		switch e.Reason {
		case ReasonWrongPassword:
			ok = knocker(e.ID) && m.settings.PasswordRequired && !ev.cred.PasswordOK
		case ReasonLocked:
			ok = knocker(e.ID) && m.settings.Locked
		case ReasonLobbyFull:
			ok = knocker(e.ID) && len(m.waiting) >= m.max
		case ReasonDenied:
			all, isAll := ev.action.(DenyAll)
			ok = w != nil && (ev.action == Action(DenyOne{Target: e.ID}) || isAll && slices.Contains(all.Targets, e.ID))
		case ReasonExpired:
			ok = w != nil && ev.kind == "tick" && ev.now.Sub(w.since) >= fuzzTTL
		case ReasonEnded:
			ok = w != nil && ev.action == Action(End{})
		case ReasonReplaced:
			ok = w != nil && ev.kind == "knock" && ev.cred.Replaces == e.ID
		}
		if !ok {
			m.fail("%v refused %s (%s)", ev, e.ID, e.Reason)
		}
		delete(m.waiting, e.ID)
		m.gone[e.ID] = true
	case Eject:
		var ok bool
		switch e.Reason {
		case ReasonRemoved:
			ok = ev.action == Action(Remove{Target: e.ID})
		case ReasonSentToLobby:
			ok = ev.action == Action(SendToLobby{Target: e.ID})
		case ReasonEnded:
			ok = ev.action == Action(End{})
		}
		if !ok || m.members[e.ID] == "" {
			m.fail("%v ejected %s (%s)", ev, e.ID, e.Reason)
		}
		delete(m.members, e.ID)
		m.gone[e.ID] = true
	case RoleChanged:
		if ev.action != Action(SetRole{Target: e.ID, Role: e.Role}) || m.members[e.ID] == "" {
			m.fail("%v changed the role of %s to %s", ev, e.ID, e.Role)
		}
		m.members[e.ID] = e.Role
		if e.Role == RoleModerator {
			newMods[e.ID] = true
		}
	case SettingsChanged:
		if ev.action != Action(UpdateSettings{Settings: e.Settings}) {
			m.fail("%v changed the settings to %+v", ev, e.Settings)
		}
		m.settings = e.Settings
	case MediaCommand:
		if ev.action != Action(Media{Target: e.Target, Command: e.Command}) || e.By != ev.id || m.members[e.Target] == "" {
			m.fail("%v gave media command %+v", ev, e)
		}
	case ModeratorPresence:
		for _, id := range e.To {
			if w := m.waiting[id]; w != nil {
				w.told = e.Present
			}
		}
	case WaitingList: // checked against the final state
	default:
		m.fail("unknown effect %T", e)
	}
}

// check compares the record with the lobby and checks the invariants.
func (m *model) check(ev event, before snapshot, modsBefore []ID, effects []Effect, newMods map[ID]bool) {
	after := snap(m.l)
	var waitIDs []ID
	for _, k := range after.Waiting {
		waitIDs = append(waitIDs, k.ID)
		if w := m.waiting[k.ID]; w == nil || !w.since.Equal(k.Since) {
			m.fail("%s waits since %v; the effects do not say so", k.ID, k.Since)
		}
	}
	if !maps.Equal(after.Members, m.members) || len(after.Waiting) != len(m.waiting) ||
		after.Settings != m.settings || after.Ended != m.ended {
		m.fail("the effects do not explain the state %+v", after)
	}
	for _, id := range fuzzPool {
		_, member := m.l.Role(id)
		if member && m.l.IsWaiting(id) {
			m.fail("%s is both waiting and a member", id) // (d)
		}
		if member && !m.sessions[id].admitted {
			m.fail("%s is a member without an Admit", id) // (a)
		}
		if m.gone[id] && (member || m.l.IsWaiting(id)) {
			m.fail("%s is back without knocking", id) // (e)
		}
		if !member && (m.l.Can(id, PermChat) || m.l.Can(id, PermUnmute) || m.l.Can(id, PermShareScreen)) {
			m.fail("%s may act without being a member", id)
		}
	}
	if len(after.Members) > m.maxMem {
		m.fail("%d members, at most %d", len(after.Members), m.maxMem) // (i)
	}
	if _, ok := ev.action.(AdmitAll); ok && !m.ended {
		// The oldest were let in: what still waits is the newest part of the list.
		if len(after.Waiting) > 0 && len(after.Members) < m.maxMem {
			m.fail("admit all left %d waiting with room for more", len(after.Waiting)) // (i)
		}
		if !reflect.DeepEqual(norm([]Effect{WaitingList{Waiting: after.Waiting}}), norm([]Effect{WaitingList{Waiting: before.Waiting[len(before.Waiting)-len(after.Waiting):]}})) {
			m.fail("admit all did not take the oldest: %v left of %v", after.Waiting, before.Waiting) // (i)
		}
	}
	if all, ok := ev.action.(DenyAll); ok && !m.ended {
		lists := 0
		for _, e := range effects {
			if _, ok := e.(WaitingList); ok {
				lists++
			}
		}
		for _, k := range after.Waiting {
			if slices.Contains(all.Targets, k.ID) {
				m.fail("deny all left %s waiting", k.ID) // (j)
			}
		}
		if lists != 1 {
			m.fail("deny all sent %d waiting lists, want 1", lists) // (j)
		}
	}
	if len(after.Waiting) > m.max {
		m.fail("%d waiting, at most %d", len(after.Waiting), m.max) // (f)
	}
	if m.ended && (len(after.Members) > 0 || len(after.Waiting) > 0) {
		m.fail("people left after the end") // (g)
	}
	// (h) who sees the waiting list, and what waiting people know.
	mods := m.moderators()
	toAll := false
	presence := 0
	for _, e := range effects {
		switch e := e.(type) {
		case WaitingList:
			single := len(e.To) == 1 && newMods[e.To[0]]
			if !slices.Equal(e.To, mods) && !single {
				m.fail("waiting list to %v, moderators are %v", e.To, mods)
			}
			if !reflect.DeepEqual(norm([]Effect{e}), norm([]Effect{WaitingList{To: e.To, Waiting: after.Waiting}})) {
				m.fail("waiting list %+v, the list is %+v", e.Waiting, after.Waiting)
			}
			toAll = toAll || slices.Equal(e.To, mods)
		case ModeratorPresence:
			presence++
			if !slices.Equal(e.To, waitIDs) || e.Present != (len(mods) > 0) {
				m.fail("presence %+v, waiting %v, moderators %v", e, waitIDs, mods)
			}
		}
	}
	if !m.ended && !reflect.DeepEqual(before.Waiting, after.Waiting) && !toAll {
		m.fail("the waiting list changed and the moderators %v were not told", mods) // (h)
	}
	changed := (len(modsBefore) > 0) != (len(mods) > 0) && len(waitIDs) > 0
	if (changed && presence != 1) || (!changed && presence != 0) {
		m.fail("%d presence effects; presence changed for waiting people: %v", presence, changed)
	}
	for id, w := range m.waiting {
		if w.told != (len(mods) > 0) {
			m.fail("%s believes ModeratorPresent=%v", id, w.told)
		}
		if ev.kind == "tick" && ev.now.Sub(w.since) >= fuzzTTL {
			m.fail("%s still waits after the knock TTL", id)
		}
	}
	for id := range newMods {
		if !slices.ContainsFunc(effects, func(e Effect) bool { w, ok := e.(WaitingList); return ok && slices.Contains(w.To, id) }) {
			m.fail("new moderator %s did not get the waiting list", id)
		}
	}
	for id, r := range m.members {
		share := r != RoleParticipant || m.settings.ScreenShare
		unmute := r != RoleParticipant || m.settings.Unmute
		if m.l.Can(id, PermShareScreen) != share || m.l.Can(id, PermUnmute) != unmute || m.l.Can(id, PermChat) != m.settings.Chat {
			m.fail("%s (%s) has the wrong permissions under %+v", id, r, m.settings)
		}
	}
}
