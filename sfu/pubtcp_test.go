package sfu

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/srtp/v3"
)

// framed is b's frames (RFC 4571), each its length and then it.
func framed(frames ...[]byte) []byte {
	var b []byte
	for _, f := range frames {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// readThrough writes in to a pubTCPConn's connection from its peer's end and returns
// what Pion would read from it until the connection ends; only an input cutShort may
// end in an error (a frame cut short).
func readThrough(t testing.TB, c *pubTCPConn, peer net.Conn, in []byte, cutShort bool) []byte {
	t.Helper()
	go func() {
		_, _ = peer.Write(in)
		_ = peer.Close()
	}()
	out, err := io.ReadAll(c)
	if err != nil && !cutShort {
		t.Fatal(err)
	}
	return out
}

// TestPublisherSRTPOverICETCPIsReadHere: on a publish connection over ICE-TCP, the
// SRTP of a stream the SFU reads is served by the connection's reader and never
// reaches Pion, a forged packet of it is dropped (and counted) and reaches Pion
// neither; everything else (the first frame, checks, DTLS, a stream not read here, a
// frame longer than media) reaches Pion unchanged, in order, framed as it came.
func TestPublisherSRTPOverICETCPIsReadHere(t *testing.T) {
	routes, ap := newFuzzRTPIn(t, 0)
	send, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	first := []byte("\x00\x01 a check, the connection's first frame")
	dtls := []byte("\x16\xfe\xfd a DTLS record")
	other := sealAt(t, send, 2, 1, 0, false) // a stream not read here
	forged := sealAt(t, send, 1, 2, 0, false)
	forged[len(forged)-1] ^= 1
	long := bytes.Repeat([]byte{0x80}, maxTCPFrame+1)
	in := framed(sealAt(t, send, 1, 1, 0, false), dtls, forged, other, sealAt(t, send, 1, 3, 0, false), long, sealAt(t, send, 1, 4, 0, false))

	near, peer := net.Pipe()
	c := newPubTCPConn(near, ap, routes, first)
	got := readThrough(t, c, peer, in, false)
	if want := framed(first, dtls, other, long); !bytes.Equal(got, want) {
		t.Fatalf("Pion read %d bytes, want %d: %q", len(got), len(want), got)
	}
	if r, f := routes.read.Load(), routes.refused.Load(); r != 3 || f != 1 {
		t.Fatalf("%d packets read here, %d refused; want 3, 1", r, f)
	}
}

// TestPublisherTCPFromElsewhereGoesToPion: a connection from another address than
// the one the reader is registered for hands everything to Pion, SRTP included.
func TestPublisherTCPFromElsewhereGoesToPion(t *testing.T) {
	routes, ap := newFuzzRTPIn(t, 0)
	send, err := srtp.CreateContext(fuzzRTCPKeys.RemoteMasterKey, fuzzRTCPKeys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	pkt := sealAt(t, send, 1, 1, 0, false)
	if ap != netip.MustParseAddrPort("127.0.0.1:5000") {
		t.Fatalf("the reader is registered for %v", ap)
	}
	near, peer := net.Pipe()
	c := newPubTCPConn(near, netip.MustParseAddrPort("127.0.0.1:5001"), routes, []byte("first"))
	if got := readThrough(t, c, peer, framed(pkt), false); !bytes.Equal(got, framed([]byte("first"), pkt)) {
		t.Fatalf("Pion read %q", got)
	}
	if routes.read.Load() != 0 {
		t.Fatal("a packet from another address was read here")
	}
}

// FuzzPublisherTCPFrames: whatever a peer sends on a publish connection over ICE-TCP,
// Pion reads its whole frames in order, each unchanged, but those the reader served
// (RTP of the stream read here: SSRC 1, each counted read or refused), and nothing of
// a frame cut short.
func FuzzPublisherTCPFrames(f *testing.F) {
	f.Add(framed([]byte("a"), []byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}))
	f.Add(framed([]byte("a"), []byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}))
	f.Add(append(framed(bytes.Repeat([]byte{0x80}, maxTCPFrame+1)), 0x00, 0x05, 1))
	f.Add([]byte{0xff, 0xff, 1, 2, 3})
	f.Add([]byte{0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		routes, ap := newFuzzRTPIn(t, 0)
		near, peer := net.Pipe()
		c := newPubTCPConn(near, ap, routes, nil)
		got := readThrough(t, c, peer, in, true)
		want, served := framed(nil), uint64(0)
		for rest := in; len(rest) >= 2; {
			n := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+n {
				break
			}
			frame := rest[2 : 2+n]
			// A frame the reader served must be a packet of the stream read here; a
			// packet of it may also be handed on (one from before the takeover).
			handedOn := len(want) <= len(got) && bytes.HasPrefix(got[len(want):], rest[:2+n])
			if isRTP(frame) && binary.BigEndian.Uint32(frame[8:12]) == 1 && !handedOn {
				served++
			} else {
				want = append(want, rest[:2+n]...)
			}
			rest = rest[2+n:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Pion read %q of %q, want %q", got, in, want)
		}
		if r := routes.read.Load() + routes.refused.Load(); r != served {
			t.Fatalf("%d frames served, %d counted", served, r)
		}
	})
}
