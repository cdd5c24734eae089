package sfu

import "strings"

// A microphone in silence sends fifty Opus packets a second of it, which the SFU
// forwards to every other member: in a class of thirty where one speaks, the others'
// quiet rooms were some forty thousand forwarded packets a second (a muted microphone
// of the web client sends nothing; one muted by a client that only disables its track
// sends silence too). Opus's discontinuous transmission (RFC 7587's "usedtx") sends, in
// silence, a packet every 400 ms instead; a receiver's decoder fills the gaps with
// comfort noise. Browsers encode with it when the answer to their offer asks for it,
// but Pion's answer repeats the parameters of the offer, which browsers make without
// it: askForDTX adds the ask to the publish answer.

// askForDTX returns the SDP with usedtx=1 in the format parameters of every Opus payload
// type of its audio sections (a parameter line added where the type had none, a usedtx
// of another value replaced). Everything else is left as it was, line for line.
func askForDTX(sdp string) string {
	lines := strings.SplitAfter(sdp, "\n")
	opus := opusTypes(lines)
	if len(opus) == 0 {
		return sdp
	}
	var b strings.Builder
	b.Grow(len(sdp) + 16*len(opus))
	section := -1
	for _, line := range lines {
		if strings.HasPrefix(line, "m=") {
			section++
		}
		body, end := splitEnd(line)
		if pt, params, ok := attribute(body, "a=fmtp:"); ok && isOpus(opus, section, pt) {
			b.WriteString("a=fmtp:" + pt + " " + withDTX(params) + end)
			continue
		}
		b.WriteString(line)
		if pt, _, ok := attribute(body, "a=rtpmap:"); ok {
			if hasFmtp, isOpus := opus[sectionType{section, pt}]; isOpus && !hasFmtp {
				if end == "" {
					end = "\r\n"
					b.WriteString(end) // the last line had no end; the new one follows it
				}
				b.WriteString("a=fmtp:" + pt + " usedtx=1" + end)
			}
		}
	}
	return b.String()
}

// sectionType is a payload type in one media section (sections counted from 0).
type sectionType struct {
	section int
	pt      string
}

// opusTypes finds the Opus payload types of the audio sections, each with whether it
// has a line of format parameters.
func opusTypes(lines []string) map[sectionType]bool {
	found := map[sectionType]bool{}
	section, audio := -1, false
	for _, line := range lines {
		body, _ := splitEnd(line)
		if strings.HasPrefix(body, "m=") {
			section++
			audio = strings.HasPrefix(body, "m=audio ")
			continue
		}
		if !audio {
			continue
		}
		if pt, codec, ok := attribute(body, "a=rtpmap:"); ok && strings.HasPrefix(strings.ToLower(codec), "opus/") {
			found[sectionType{section, pt}] = false
		}
	}
	section = -1
	for _, line := range lines {
		body, _ := splitEnd(line)
		if strings.HasPrefix(body, "m=") {
			section++
		}
		if pt, _, ok := attribute(body, "a=fmtp:"); ok && isOpus(found, section, pt) {
			found[sectionType{section, pt}] = true
		}
	}
	return found
}

// isOpus says whether pt is an Opus payload type of the section.
func isOpus(types map[sectionType]bool, section int, pt string) bool {
	_, ok := types[sectionType{section, pt}]
	return ok
}

// attribute splits "a=name:<pt> <rest>" into the payload type and the rest.
func attribute(line, prefix string) (pt, rest string, ok bool) {
	v, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return "", "", false
	}
	pt, rest, ok = strings.Cut(v, " ")
	if !ok || pt == "" {
		return "", "", false
	}
	return pt, rest, true
}

// withDTX is Opus format parameters with usedtx=1 in them.
func withDTX(params string) string {
	var kept []string
	for _, p := range strings.Split(params, ";") {
		name, _, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(name, "usedtx") || strings.TrimSpace(p) == "" {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(append(kept, "usedtx=1"), ";")
}

// splitEnd splits a line into its text and its line ending ("\r\n", "\n" or none).
func splitEnd(line string) (body, end string) {
	switch {
	case strings.HasSuffix(line, "\r\n"):
		return line[:len(line)-2], "\r\n"
	case strings.HasSuffix(line, "\n"):
		return line[:len(line)-1], "\n"
	}
	return line, ""
}
