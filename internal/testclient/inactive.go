package testclient

import "strings"

// Pion stops a transceiver whose section a remote offer makes inactive
// (SetRemoteDescription calls RTPTransceiver.Stop), where a browser keeps it: only a
// rejected section (port 0) stops a transceiver (RFC 8829 §5.10). Pion gives the
// stopped transceiver a fresh receiver only while the old one holds a track, so a
// second inactive offer for the section stops that fresh receiver for good, and when
// the server reuses the section for the next person's track (sfu ownSub.addTrack, a
// new SSRC under the same mid) Pion starts nothing on it: no OnTrack, no media, though
// the offer was answered. A long meeting offers a freed section as inactive as often
// as it renegotiates before the section is taken again.
//
// So the client hands Pion an inactive media section as a sendonly one that names no
// SSRC (the transceiver and its receiver are kept, and nothing is announced to be
// received on it) and answers it as inactive, as a browser would.

// keepInactive is offer with its inactive audio and video sections made sendonly,
// and the mids of those sections.
func keepInactive(offer string) (string, map[string]bool) {
	mids := map[string]bool{}
	parts := strings.Split(offer, "\r\nm=")
	for i := 1; i < len(parts); i++ {
		p := parts[i]
		if !strings.HasPrefix(p, "audio ") && !strings.HasPrefix(p, "video ") {
			continue
		}
		mid, ok := sectionMid(p)
		if !ok || !hasLine(p, "a=inactive") {
			continue
		}
		mids[mid] = true
		parts[i] = replaceLine(p, "a=inactive", "a=sendonly")
	}
	return strings.Join(parts, "\r\nm="), mids
}

// answerInactive is answer with the sections of mids, those keepInactive made
// sendonly, answered as inactive.
func answerInactive(answer string, mids map[string]bool) string {
	if len(mids) == 0 {
		return answer
	}
	parts := strings.Split(answer, "\r\nm=")
	for i := 1; i < len(parts); i++ {
		if mid, ok := sectionMid(parts[i]); ok && mids[mid] {
			parts[i] = replaceLine(parts[i], "a=recvonly", "a=inactive")
		}
	}
	return strings.Join(parts, "\r\nm=")
}

// sectionMid is the mid a media section (its text after "m=") names.
func sectionMid(section string) (string, bool) {
	for _, l := range strings.Split(section, "\r\n") {
		if mid, ok := strings.CutPrefix(l, "a=mid:"); ok {
			return mid, true
		}
	}
	return "", false
}

func hasLine(section, line string) bool {
	for _, l := range strings.Split(section, "\r\n") {
		if l == line {
			return true
		}
	}
	return false
}

func replaceLine(section, line, with string) string {
	lines := strings.Split(section, "\r\n")
	for i, l := range lines {
		if l == line {
			lines[i] = with
		}
	}
	return strings.Join(lines, "\r\n")
}
