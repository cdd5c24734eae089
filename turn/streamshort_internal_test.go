package turn

import (
	"testing"
)

// TestShortFrameKeepsTheConnectionsFastPath: a ChannelData message of 4 bytes of data
// or less on a channel the connection did not bind (RFC 8656, section 12.6: the server
// discards it) is shorter than pion/turn frames, so the uplink hands it on with the
// frame after it (streamUplink.behind); the frames after those are served before
// pion/turn again, through the real TCP listener with pion/turn's client. Before, the
// uplink handed pion/turn the rest of the connection, and that client's ChannelData and
// Send indications went through pion/turn's reader for as long as it was connected.
func TestShortFrameKeepsTheConnectionsFastPath(t *testing.T) {
	r := newReallocRig(t, "tcp")
	r.permit(t)
	number := r.bind(t)
	for _, data := range [][]byte{nil, []byte("four")} {
		r.write(t, appendChannelData(nil, number+1, data))
		r.served(t, "ChannelData after a short frame", appendChannelData(nil, number, []byte("on the channel")), []byte("on the channel"))
		r.write(t, appendChannelData(nil, number+1, data))
		r.served(t, "a Send indication after a short frame", buildSendIndication(t, r.sfu, []byte("in a Send indication")), []byte("in a Send indication"))
	}
	// Two short frames in one write, and ChannelData on the connection's channel
	// right behind them: it goes to pion/turn (it frames the short ones only with
	// bytes of a frame after them), which relays it in its place.
	short := appendChannelData(nil, number+1, []byte("x"))
	on := appendChannelData(nil, number, []byte("behind them"))
	r.write(t, append(append(append([]byte(nil), short...), short...), on...))
	if got := nextTaken(t, r.taken); string(got.b) != "behind them" {
		t.Fatalf("the SFU took %q after two short frames, want %q", got.b, "behind them")
	}
	r.served(t, "ChannelData after two short frames", appendChannelData(nil, number, []byte("on the channel")), []byte("on the channel"))
}
