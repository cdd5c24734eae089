package sfu

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// srtcpProfiles are the AES-GCM profiles srtcpGCM handles, with their key lengths.
var srtcpProfiles = []struct {
	name    string
	profile srtp.ProtectionProfile
	keyLen  int
}{{"AES-128-GCM", srtp.ProtectionProfileAeadAes128Gcm, 16}, {"AES-256-GCM", srtp.ProtectionProfileAeadAes256Gcm, 32}}

func srtcpTestKey(n int) (key, salt []byte) {
	key = make([]byte, n)
	for i := range key {
		key[i] = 0x3c ^ byte(i*11)
	}
	return key, []byte{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
}

// srtcpPlan is compound RTCP as a subscribe connection sends and receives it: sender
// reports of two SSRCs interleaved, receiver reports with feedback, a keyframe
// request.
func srtcpPlan(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range 9 {
		var pkts []rtcp.Packet
		switch i % 3 {
		case 0:
			pkts = []rtcp.Packet{&rtcp.SenderReport{SSRC: 0x1111, NTPTime: uint64(i) << 32, RTPTime: uint32(i) * 90000, PacketCount: uint32(i), OctetCount: uint32(i) * 1200}}
		case 1:
			pkts = []rtcp.Packet{&rtcp.SenderReport{SSRC: 0x2222, PacketCount: uint32(i)}}
		default:
			pkts = []rtcp.Packet{
				&rtcp.ReceiverReport{SSRC: 0x3333, Reports: []rtcp.ReceptionReport{{SSRC: 0x1111, LastSequenceNumber: uint32(i)}}},
				&rtcp.TransportLayerNack{SenderSSRC: 0x3333, MediaSSRC: 0x1111, Nacks: []rtcp.NackPair{{PacketID: uint16(i)}}},
				&rtcp.PictureLossIndication{SenderSSRC: 0x3333, MediaSSRC: 0x2222},
			}
		}
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestSRTCPGCMWritesWhatPionWrites: for both AES-GCM profiles, every packet srtcpGCM
// seals is byte for byte what Pion's context writes for it, and Pion's context opens
// it to the packet sealed; what Pion seals, srtcpGCM opens.
func TestSRTCPGCMWritesWhatPionWrites(t *testing.T) {
	for _, tc := range srtcpProfiles {
		t.Run(tc.name, func(t *testing.T) {
			key, salt := srtcpTestKey(tc.keyLen)
			ours, err := newSRTCPCipher(key, salt, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ours.(*srtcpGCM); !ok {
				t.Fatalf("%s got %T, want srtcpGCM", tc.name, ours)
			}
			theirs, err := srtp.CreateContext(key, salt, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			peer, err := srtp.CreateContext(key, salt, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			opener, err := newSRTCPGCM(key, salt)
			if err != nil {
				t.Fatal(err)
			}
			for i, plain := range srtcpPlan(t) {
				got, err := ours.seal(plain)
				if err != nil {
					t.Fatal(err)
				}
				want, err := theirs.EncryptRTCP(nil, plain, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("packet %d: sealed\n%x\nPion\n%x", i, got, want)
				}
				dec, err := peer.DecryptRTCP(nil, got, nil)
				if err != nil || !bytes.Equal(dec, plain) {
					t.Fatalf("packet %d: Pion opens %x (%v), want %x", i, dec, err, plain)
				}
				opened, err := opener.open(append([]byte(nil), want...))
				if err != nil || !bytes.Equal(opened, plain) {
					t.Fatalf("packet %d: opened %x (%v), want %x", i, opened, err, plain)
				}
			}
		})
	}
}

// TestSRTCPGCMRefusesWhatPionRefuses: a replayed packet, one older than the window, a
// forged one, one from another key, an unencrypted one and a short one are refused with
// a typed error, and none of them changes what opens next; out of order within the
// window opens.
func TestSRTCPGCMRefusesWhatPionRefuses(t *testing.T) {
	key, salt := srtcpTestKey(16)
	sender, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	plain := srtcpPlan(t)[2] // the subscriber's feedback, SSRC 0x3333
	var sealed [][]byte
	for range 80 {
		b, err := sender.EncryptRTCP(nil, plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, b)
	}
	in, err := newSRTCPGCM(key, salt)
	if err != nil {
		t.Fatal(err)
	}
	open := func(b []byte, want error) {
		t.Helper()
		got, err := in.open(append([]byte(nil), b...))
		if !errors.Is(err, want) {
			t.Fatalf("open: %v, want %v", err, want)
		}
		if want == nil && !bytes.Equal(got, plain) {
			t.Fatalf("opened %x, want %x", got, plain)
		}
	}
	open(sealed[10], nil)
	open(sealed[10], errSRTCPReplayed)
	open(sealed[8], nil) // late, within the window
	open(sealed[8], errSRTCPReplayed)
	open(sealed[79], nil)
	open(sealed[10], errSRTCPReplayed) // 69 behind: older than the window
	forged := append([]byte(nil), sealed[78]...)
	forged[12] ^= 1
	open(forged, errSRTCPAuth)
	other, _ := srtcpTestKey(16)
	other[0] ^= 0xff
	stranger, err := srtp.CreateContext(other, salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	var alien []byte
	for range 85 { // an index past the window's, so only the key tells it apart
		if alien, err = stranger.EncryptRTCP(nil, plain, nil); err != nil {
			t.Fatal(err)
		}
	}
	open(alien, errSRTCPAuth)
	clearE := append([]byte(nil), sealed[77]...)
	clearE[len(clearE)-4] &^= 0x80
	open(clearE, errSRTCPUnencrypted)
	open(sealed[77][:srtcpHeaderLen+srtcpTagLen+srtcpWordLen-1], errSRTCPShort)
	// None of the refused packets marked an index: the forged one's is still fresh.
	open(sealed[78], nil)
	open(sealed[77], nil)
	if len(in.streams) != 1 {
		t.Fatalf("%d streams after packets of one SSRC and refused ones of others", len(in.streams))
	}
}

// TestSRTCPGCMBoundsThePeersStreams: a peer's SRTCP from more SSRCs than any browser
// uses is refused beyond srtcpMaxPeerStreams; the streams it has keep opening.
func TestSRTCPGCMBoundsThePeersStreams(t *testing.T) {
	key, salt := srtcpTestKey(16)
	sender, err := newSRTCPGCM(key, salt)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newSRTCPGCM(key, salt)
	if err != nil {
		t.Fatal(err)
	}
	pli := func(ssrc uint32) []byte {
		b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: ssrc, MediaSSRC: 1}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := sender.seal(b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for ssrc := range uint32(srtcpMaxPeerStreams) {
		if _, err := in.open(pli(ssrc + 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.open(pli(99)); !errors.Is(err, errSRTCPStreams) {
		t.Fatalf("a stream beyond the bound: %v, want %v", err, errSRTCPStreams)
	}
	if _, err := in.open(pli(100)); err != nil {
		t.Fatalf("a known stream after the refusal: %v", err)
	}
}

// TestSRTCPGCMStopsAtTheLastIndex: the sender stops at the 31-bit index's end rather
// than reuse an IV.
func TestSRTCPGCMStopsAtTheLastIndex(t *testing.T) {
	key, salt := srtcpTestKey(16)
	s, err := newSRTCPGCM(key, salt)
	if err != nil {
		t.Fatal(err)
	}
	plain := srtcpPlan(t)[0]
	if _, err := s.seal(plain); err != nil {
		t.Fatal(err)
	}
	s.streams[0].index = srtcpMaxIndex - 1
	if _, err := s.seal(plain); err != nil {
		t.Fatalf("the last index: %v", err)
	}
	if _, err := s.seal(plain); !errors.Is(err, errSRTCPExhausted) {
		t.Fatalf("past the last index: %v, want %v", err, errSRTCPExhausted)
	}
}

// FuzzSRTCPGCMOpen: no input panics, and what opens is the input's RTCP part.
func FuzzSRTCPGCMOpen(f *testing.F) {
	key, salt := srtcpTestKey(16)
	sender, err := newSRTCPGCM(key, salt)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range srtcpPlan(f) {
		b, err := sender.seal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x80, 0xc8, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := newSRTCPGCM(key, salt)
		if err != nil {
			t.Fatal(err)
		}
		orig := append([]byte(nil), b...)
		got, err := in.open(b)
		if err != nil {
			return
		}
		if len(got) != len(orig)-srtcpTagLen-srtcpWordLen || !bytes.Equal(got[:srtcpHeaderLen], orig[:srtcpHeaderLen]) {
			t.Fatalf("opened %x from %x", got, orig)
		}
	})
}
