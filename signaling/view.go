package signaling

import (
	"conclave/sfu"
)

// What a subscriber shows, and what a simulcast publisher should send (PROTOCOL.md,
// "Simulcast and what is shown"). The server forwards video only for the remote tiles a
// client names in `view`, each in the simulcast layer that fits its size (sfu.SetView),
// and tells publishers with `encodings` which layers anyone needs.

// Message types of views and encodings.
const (
	TypeView      = "view"      // client: the remote video tiles it shows and their sizes
	TypeEncodings = "encodings" // server: the simulcast layers a publisher should send
)

// View limits.
const (
	MaxViewTracks = 64   // entries in one view
	MaxTileSide   = 7680 // device pixels, either side
	viewRate      = 5    // view messages per second, sustained
	viewBurst     = 10   // and in a burst
)

// ViewTrack is one remote video tile: whose, which source, and its size in device
// pixels.
type ViewTrack struct {
	ParticipantID string `json:"participantId"`
	Source        string `json:"source"`
	Width         int    `json:"width"`
	Height        int    `json:"height"`
}

// ViewPayload is the complete set of remote video tiles a client shows.
type ViewPayload struct {
	Tracks *[]ViewTrack `json:"tracks"`
}

// EncodingsPayload tells a publisher which layers of a source to send.
type EncodingsPayload struct {
	Source string   `json:"source"`
	Active []string `json:"active"`
}

// ParseView reads a view payload: tracks is required (it may be empty: nothing shown),
// at most MaxViewTracks entries, each a participant id, "camera" or "screen", and a size
// of 1 to MaxTileSide on both sides, each (participantId, source) once. Whether the
// participants exist is not checked here.
func ParseView(env Envelope) ([]ViewTrack, *Error) {
	p, err := decodePayload[ViewPayload](env)
	if err != nil {
		return nil, err
	}
	if p.Tracks == nil {
		return nil, errorf(CodeInvalidField, "tracks is required")
	}
	tracks := *p.Tracks
	if len(tracks) > MaxViewTracks {
		return nil, errorf(CodeInvalidField, "at most %d tracks", MaxViewTracks)
	}
	type key struct{ id, source string }
	seen := make(map[key]bool, len(tracks))
	for _, t := range tracks {
		if t.ParticipantID == "" || len(t.ParticipantID) > maxIDBytes {
			return nil, errorf(CodeInvalidField, "participantId must be 1 to %d bytes", maxIDBytes)
		}
		if t.Source != "camera" && t.Source != "screen" {
			return nil, errorf(CodeInvalidField, `source must be "camera" or "screen"`)
		}
		if t.Width < 1 || t.Width > MaxTileSide || t.Height < 1 || t.Height > MaxTileSide {
			return nil, errorf(CodeInvalidField, "width and height must be 1 to %d", MaxTileSide)
		}
		k := key{t.ParticipantID, t.Source}
		if seen[k] {
			return nil, errorf(CodeInvalidField, "a track is named twice")
		}
		seen[k] = true
	}
	return tracks, nil
}

// view hands the client's tiles to the SFU.
func (s *Session) view(env Envelope) *Error {
	tracks, err := ParseView(env)
	if err != nil {
		return err
	}
	if !s.views.allow(s.srv.now()) {
		return errorf(CodeRateLimited, "too many view messages; slow down")
	}
	tiles := make([]sfu.Tile, len(tracks))
	for i, t := range tracks {
		tiles[i] = sfu.Tile{ParticipantID: t.ParticipantID, Source: sfu.Source(t.Source), Width: t.Width, Height: t.Height}
	}
	s.peer.SetView(tiles)
	return nil
}

// sendEncodings tells the client the layers its simulcast tracks should send now.
func (s *Session) sendEncodings() {
	for _, e := range s.peer.Encodings() {
		active := e.Active
		if active == nil {
			active = []string{}
		}
		s.send(encode(TypeEncodings, "", EncodingsPayload{Source: string(e.Source), Active: active}))
	}
}
