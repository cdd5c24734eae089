package sfu

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// capturedConn is a media socket that keeps what is written to it.
type capturedConn struct {
	net.PacketConn
	got [][]byte
}

func (c *capturedConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.got = append(c.got, bytes.Clone(b))
	return len(b), nil
}

// TestOwnSubscribeSRTCPForgetsRetiredStreams: a subscriber sent one track after
// another through a long meeting, each with its sender reports, holds the SRTCP
// indexes of the tracks it is sent now only (those keep theirs: a track that goes
// before a later one is not the last stream held), and a report under a retired SSRC (the
// writer had loaded the binding just before the track left) is refused, not sealed
// from index 1 again: no SSRC and SRTCP index, the AES-GCM nonce, goes out twice, and
// the peer opens every report that does.
func TestOwnSubscribeSRTCPForgetsRetiredStreams(t *testing.T) {
	const tracks = 40
	profile := srtp.ProtectionProfileAeadAes128Gcm
	r := newRetireRig(t, profile)
	conn := &capturedConn{}
	r.sub.own.e = &Engine{udpConn: conn}
	r.sub.route.Store(&route{ap: netip.MustParseAddrPort("127.0.0.1:5004")})
	key, salt := bytes.Repeat([]byte{3}, 16), bytes.Repeat([]byte{5}, 12)
	sc, err := newSRTCPCipher(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	r.sub.own.useSRTCP(sc)
	report := func(b *binding) error {
		return r.sub.writeSubscribeRTCP([]rtcp.Packet{&rtcp.SenderReport{SSRC: b.ssrc, PacketCount: 1}})
	}
	camera := r.add()
	var retired []*binding
	// Each track leaves after the next came (a share handed on), so the stream that
	// goes is not the cipher's last: the last takes its place, its index with it.
	going := r.add()
	for i := range tracks {
		share := r.add()
		for range 2 {
			if err := errors.Join(report(camera.binding.Load()), report(going.binding.Load()), report(share.binding.Load())); err != nil {
				t.Fatalf("track %d: %v", i, err)
			}
		}
		retired = append(retired, going.binding.Load())
		r.sub.own.removeTrack(going)
		going = share
	}
	if n := len(sc.(*srtcpGCM).streams); n != 2 {
		t.Fatalf("after %d tracks came and went beside two that stayed, the SRTCP cipher holds %d streams, want 2", tracks, n)
	}
	sent, sealed := len(conn.got), 0
	var first error
	for _, b := range retired {
		if err := report(b); !errors.Is(err, errSSRCRetired) {
			sealed++
			first = cmp.Or(first, err)
		}
	}
	if err := errors.Join(report(camera.binding.Load()), report(going.binding.Load())); err != nil {
		t.Fatal(err)
	}
	if sealed > 0 || len(conn.got) != sent+2 {
		t.Errorf("%d of %d reports under retired SSRCs not refused (the first: %v), %d sent; want errSSRCRetired and none sent",
			sealed, tracks, first, len(conn.got)-sent-2)
	}
	peer, err := srtp.CreateContext(key, salt, profile, srtp.SRTCPReplayProtection(srtcpReplayWindow))
	if err != nil {
		t.Fatal(err)
	}
	nonces := map[[2]uint32]bool{}
	for i, b := range conn.got {
		n := [2]uint32{binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[len(b)-4:]) &^ srtcpEFlag}
		if nonces[n] {
			t.Fatalf("report %d sealed under SSRC %#x and SRTCP index %d again", i, n[0], n[1])
		}
		nonces[n] = true
		if _, err := peer.DecryptRTCP(nil, b, nil); err != nil {
			t.Fatalf("report %d: the peer cannot open it: %v", i, err)
		}
	}
}
