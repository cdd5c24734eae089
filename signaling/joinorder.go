package signaling

import (
	"cmp"
	"slices"

	"conclave/lobby"
)

// joinOrder numbers the members in the order they joined, for the lists of members a
// welcome carries. A page numbers the members whose names look alike ("Anna (1)",
// "Anna (2)", web/static/js/name-marks.js) in the order it learnt of them, those of its
// welcome first: listed in the order of a map, two pages that joined later numbered the
// same two people the other way round. Listed in join order, every page that learns of
// them in the same order (from joins it saw, or from a welcome) numbers them alike.
type joinOrder struct {
	next uint64
	of   map[lobby.ID]uint64 // member -> its place; a resume keeps it (same id)
}

// add gives a new member the next place.
func (o *joinOrder) add(id lobby.ID) {
	if o.of == nil {
		o.of = make(map[lobby.ID]uint64)
	}
	o.next++
	o.of[id] = o.next
}

// remove forgets a member that left.
func (o *joinOrder) remove(id lobby.ID) { delete(o.of, id) }

// membersInJoinOrderLocked is a copy of every member but except, in the order they joined.
func (m *Meeting) membersInJoinOrderLocked(except lobby.ID) []ParticipantInfo {
	ids := make([]lobby.ID, 0, len(m.members))
	for id := range m.members {
		if id != except {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b lobby.ID) int {
		return cmp.Or(cmp.Compare(m.joinOrder.of[a], m.joinOrder.of[b]), cmp.Compare(a, b))
	})
	out := make([]ParticipantInfo, len(ids))
	for i, id := range ids {
		out[i] = *m.members[id]
	}
	return out
}
