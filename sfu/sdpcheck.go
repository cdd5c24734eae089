package sfu

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// Limits on what one publish offer may carry. A client's labels are only claims: the
// offer is what Pion will act on, so the labels are checked against it before it is
// applied, and an offer that does not fit is refused whole.
const (
	// MaxMediaSections bounds the m-sections of a publish offer, inactive ones included
	// (unified plan never removes a section, so this bounds every transceiver ever made).
	MaxMediaSections = 16
	// MaxSendingTracks is one sending track per source.
	MaxSendingTracks = 3
)

// kindOf is the media kind a source must be carried by.
func kindOf(s Source) string {
	if s == SourceMicrophone {
		return "audio"
	}
	return "video"
}

// checkPublishOffer parses offer and checks it against sources (mid → source):
// every sending audio or video section has exactly one label of a source of its kind,
// each source labels at most one sending section, every label names a section of the
// offer, and the offer has at most MaxMediaSections sections. Unparsable SDP is
// ErrBadSDP; anything else is ErrTracks.
func checkPublishOffer(offer string, sources map[string]Source) error {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if n := len(d.MediaDescriptions); n > MaxMediaSections {
		return fmt.Errorf("%w: %d media sections, at most %d", ErrTracks, n, MaxMediaSections)
	}
	sessionDir := directionOf(d.Attributes, "sendrecv")
	seen := make(map[string]bool, len(d.MediaDescriptions))
	used := make(map[Source]bool, MaxSendingTracks)
	// Errors name only mids from sources (bounded by the caller) and section numbers,
	// never other text of the offer.
	for i, m := range d.MediaDescriptions {
		kind := m.MediaName.Media
		mid, _ := m.Attribute("mid")
		if mid != "" {
			if seen[mid] {
				return fmt.Errorf("%w: duplicate mid", ErrBadSDP)
			}
			seen[mid] = true
		}
		src, labelled := sources[mid]
		if mid == "" {
			labelled = false
		}
		if labelled && kindOf(src) != kind {
			return fmt.Errorf("%w: track %q is not %s, as a %s track must be", ErrTracks, mid, kindOf(src), src)
		}
		if kind != "audio" && kind != "video" {
			continue // no media of ours (Pion refuses what it does not know)
		}
		if !sending(directionOf(m.Attributes, sessionDir)) {
			continue
		}
		if !labelled {
			return fmt.Errorf("%w: sending %s section %d has no source", ErrTracks, kind, i)
		}
		if used[src] {
			return fmt.Errorf("%w: more than one sending %s track", ErrTracks, src)
		}
		used[src] = true
		if err := checkSimulcast(m, src); err != nil {
			return err
		}
	}
	for mid := range sources {
		if !seen[mid] {
			return fmt.Errorf("%w: no media section %q in the offer", ErrTracks, mid)
		}
	}
	return nil
}

// directionOf is the direction attribute among attrs, or def.
func directionOf(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return def
}

// sending reports whether a section sends media to us. The port does not matter: Pion
// receives on a section with port 0 too (and bundle-only sections have port 0).
func sending(dir string) bool {
	return dir == "sendonly" || dir == "sendrecv"
}

// checkSimulcast: only the camera may send layers (PROTOCOL.md, "Simulcast"), at most
// maxLayers of them, named by the RIDs the protocol knows, each once.
func checkSimulcast(m *sdp.MediaDescription, src Source) error {
	_, simulcast := m.Attribute("simulcast")
	seen := map[string]bool{}
	for _, a := range m.Attributes {
		if a.Key != "rid" {
			continue
		}
		f := strings.Fields(a.Value)
		if len(f) < 2 || f[1] != "send" {
			return fmt.Errorf("%w: a layer that is not sent", ErrTracks)
		}
		if _, ok := layerIndex(f[0]); !ok || f[0] == "" {
			return fmt.Errorf("%w: layers are named q, h and f", ErrTracks)
		}
		if seen[f[0]] {
			return fmt.Errorf("%w: a layer named twice", ErrTracks)
		}
		seen[f[0]] = true
	}
	if (simulcast || len(seen) > 0) && src != SourceCamera {
		return fmt.Errorf("%w: only the camera is sent in layers", ErrTracks)
	}
	if simulcast && len(seen) == 0 {
		return fmt.Errorf("%w: simulcast without layers", ErrTracks)
	}
	return nil
}
