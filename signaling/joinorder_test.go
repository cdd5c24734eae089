package signaling_test

import (
	"fmt"
	"slices"
	"testing"

	"conclave/internal/testclient"
	"conclave/signaling"
)

// infoIDs are the ids of a welcome's members, in its order.
func infoIDs(ps []signaling.ParticipantInfo) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// A page numbers namesakes ("Anna (1)", "Anna (2)") in the order it learnt of them, its
// welcome's members first (web/static/js/name-marks.js): the welcome lists the members
// in the order they joined, the order a page that was there saw them come in, so that
// pages agree. Listed in a map's order, 12 members came in order about once in 12!.
// A resume's welcome lists the others in join order too, the resumed member left out.
func TestWelcomeListsMembersInJoinOrder(t *testing.T) {
	f := newResumeFixture(t)
	want := []string{f.mod.ParticipantID}
	var members []*testclient.Client
	for i := range 11 {
		c := f.srv.admitted(t, f.mod, f.meeting.MeetingID, fmt.Sprintf("Anna %d", i))
		members = append(members, c)
		want = append(want, c.ParticipantID)
	}
	late := f.srv.admitted(t, f.mod, f.meeting.MeetingID, "Anna")
	if got := resumedWelcome(t, late).Participants; !slices.Equal(infoIDs(got), want) {
		t.Fatalf("a late joiner's welcome listed %v, want the join order %v", infoIDs(got), want)
	}

	// The fourth member drops and resumes: its welcome lists everyone else in join order.
	away := members[3]
	id, secret := away.ParticipantID, away.ResumeSecret
	dropAndSeeReconnecting(t, away, f.mod)
	back := f.resume(t, id, secret)
	others := slices.DeleteFunc(append(slices.Clone(want), late.ParticipantID), func(o string) bool { return o == id })
	if got := resumedWelcome(t, back).Participants; !slices.Equal(infoIDs(got), others) {
		t.Fatalf("a resume's welcome listed %v, want the join order %v", infoIDs(got), others)
	}
}
