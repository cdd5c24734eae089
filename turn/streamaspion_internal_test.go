package turn

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// FuzzStreamUplink checks the uplink against frameStream, a model written beside it.
// The fuzz target here checks it against pion/turn itself: pion/turn's own reader of a
// TCP or TLS connection (its STUNConn, read into a buffer of its 1600 bytes, as its
// read loop reads) reads the client's bytes once straight from the connection and once
// through the uplink, each cut by the socket in its own way. What the uplink relays,
// in its place among what pion/turn gets through it, must be exactly the frames
// pion/turn alone would have had and relayed (ChannelData on the connection's channel,
// Send indications under its permission, parseSendIndication deciding which as
// FuzzSendIndication checks against pion/turn's decoder), and pion/turn must end on
// the same error (the stream's end, a frame it cannot read, one larger than its
// buffer).
//
// The stream ends with bytes no frame begins with (noFrame), enough for pion/turn
// alone to frame a short frame at its end (pionMinFrame), which the uplink relays at
// once when it is ChannelData on the connection's channel.
//
// Left out: ChannelData whose data begins with the magic cookie. pion/turn frames a
// ChannelData message as a STUN message when it holds 20 of its bytes and bytes 4 to 7
// are the cookie, else by its length (padded), so how it cuts such a stream depends on
// how the socket cut it; the uplink frames it by its length, as RFC 8656 does. No
// browser sends such data (an ICE check, DTLS, RTP or RTCP; 0x21 starts none), and
// what the uplink relays of it is ChannelData on the connection's own channel.

// pionReads is what pion/turn's read loop reads off conn: a line for each frame, and
// the error that ends the loop.
func pionReads(conn net.Conn, log *[]string) {
	sc := pionturn.NewSTUNConn(addressedConn{conn})
	buf := make([]byte, pionInboundMTU)
	for {
		n, _, err := sc.ReadFrom(buf)
		if err != nil {
			*log = append(*log, "end: "+err.Error())
			return
		}
		*log = append(*log, fmt.Sprintf("pion/turn reads %x", buf[:n]))
	}
}

// addressedConn is a connection with a client's address (pion/turn's STUNConn reports
// it with each frame).
type addressedConn struct{ net.Conn }

func (addressedConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5000}
}

// loggingPacketConn logs what is written on it, among what pion/turn reads.
type loggingPacketConn struct {
	net.PacketConn // nil: only WriteTo is used
	log            *[]string
}

func (c loggingPacketConn) WriteTo(b []byte, to net.Addr) (int, error) {
	*c.log = append(*c.log, fmt.Sprintf("relayed %x to %v", b, to))
	return len(b), nil
}

// servedOf is what the uplink of uplinkOn relays of frame, as pion/turn read it: the
// data and true for ChannelData on channel 0x4000 and for a Send indication to the
// SFU's address smaller than pion/turn's buffer.
func servedOf(frame []byte) ([]byte, bool) {
	if len(frame) >= pionInboundMTU || len(frame) < channelDataHeader {
		return nil, false
	}
	if frame[0]>>6 == 1 {
		length := int(binary.BigEndian.Uint16(frame[2:]))
		if binary.BigEndian.Uint16(frame) == 0x4000 && length <= maxRelayed && len(frame) == channelDataSize(length) {
			return frame[channelDataHeader : channelDataHeader+length], true
		}
		return nil, false
	}
	if ind, ok := parseSendIndication(frame); ok && ind.peer == uplinkSFU {
		return ind.data, true
	}
	return nil, false
}

// cookieInChannelData reports whether stream holds, anywhere, what pion/turn may
// frame as either ChannelData or STUN (see above).
func cookieInChannelData(stream []byte) bool {
	for i := 0; i+8 <= len(stream); i++ {
		if stream[i]>>6 == 1 && binary.BigEndian.Uint32(stream[i+4:]) == stunMagicCookie {
			return true
		}
	}
	return false
}

// noFrame ends the fuzzed streams: pion/turn frames no byte 0xff.
var noFrame = bytes.Repeat([]byte{0xff}, pionMinFrame)

func FuzzStreamUplinkAsPion(f *testing.F) {
	for _, seed := range streamSeeds(f) {
		f.Add(seed, uint8(0), uint8(7))
		f.Add(seed, uint8(255), uint8(19))
	}
	f.Fuzz(func(t *testing.T, stream []byte, alone, through uint8) {
		if cookieInChannelData(stream) {
			t.Skip("ChannelData with the magic cookie where STUN has it")
		}
		stream = append(bytes.Clone(stream), noFrame...)
		var aloneLog []string
		pionReads(&chunkedConn{data: bytes.Clone(stream), chunk: int(alone) + 1}, &aloneLog)
		var want []string
		// behind: the last frame that went to pion/turn was shorter than it frames,
		// and so goes the next one.
		behind := false
		for _, line := range aloneLog {
			var frame []byte
			if _, err := fmt.Sscanf(line, "pion/turn reads %x", &frame); err == nil {
				if data, ok := servedOf(frame); ok && !behind {
					line = fmt.Sprintf("relayed %x to %v", data, uplinkSFU)
				} else {
					behind = len(frame) < pionMinFrame
				}
			}
			want = append(want, line)
		}

		var got []string
		u := uplinkOn(&chunkedConn{data: bytes.Clone(stream), chunk: int(through)*9 + 1}, loggingPacketConn{log: &got})
		pionReads(u, &got)
		if len(got) != len(want) {
			t.Fatalf("%x: through the uplink\n%q\nwant, as pion/turn alone\n%q", stream, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%x: line %d through the uplink\n%s\nwant, as pion/turn alone\n%s", stream, i, got[i], want[i])
			}
		}
	})
}

// streamSeeds are streams of what clients send on a TCP or TLS connection: pion/turn's
// client's requests with and without their attributes, ChannelData, Send indications
// served and not, around pion/turn's buffer's size, many in one piece, cut short.
func streamSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	build := func(setters ...stun.Setter) []byte {
		m, err := stun.Build(append([]stun.Setter{stun.NewTransactionIDSetter([12]byte{7, 7, 7})}, setters...)...)
		if err != nil {
			tb.Fatal(err)
		}
		return m.Raw
	}
	auth := []stun.Setter{stun.NewUsername("1700000000:user"), stun.NewRealm("conclave"), stun.NewNonce("nonce"),
		stun.NewShortTermIntegrity("password"), stun.Fingerprint}
	request := func(method stun.Method, attrs ...stun.Setter) []byte {
		return build(append(append([]stun.Setter{stun.NewType(method, stun.ClassRequest)}, attrs...), auth...)...)
	}
	allocate := request(stun.MethodAllocate, stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}})
	allocateBare := build(stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	refresh := request(stun.MethodRefresh, stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 2, 0x58}})
	permission := request(stun.MethodCreatePermission, peerAddress(uplinkSFU))
	bind := request(stun.MethodChannelBind, stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{0x40, 0, 0, 0}}, peerAddress(uplinkSFU))
	bindBare := build(stun.NewType(stun.MethodChannelBind, stun.ClassRequest))
	binding := build(stun.BindingRequest)

	channelData := func(number uint16, n int) []byte {
		return appendChannelData(nil, number, bytes.Repeat([]byte{0x80}, n))
	}
	send := func(peer netip.AddrPort, n int) []byte {
		return buildSendIndication(tb, peer, bytes.Repeat([]byte{0x80}, n))
	}
	// sized is a Send indication to the SFU of size bytes, its data not padded when
	// size is not a multiple of 4 (the header's length says so).
	sized := func(size int) []byte {
		m := send(uplinkSFU, (size-44+3)&^3)
		m = m[:size]
		binary.BigEndian.PutUint16(m[2:], uint16(size-stunHeader))
		return m
	}
	otherPort := netip.AddrPortFrom(uplinkSFU.Addr(), uplinkSFU.Port()+1)
	wrongCookie := send(uplinkSFU, 5)
	wrongCookie[7]++

	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	seeds := [][]byte{
		join(allocateBare, allocate, refresh, permission, bindBare, bind, binding),
		join(permission, send(uplinkSFU, 1181), send(uplinkSFU, 1181), channelData(0x4000, 1181), send(otherPort, 3), refresh, send(uplinkSFU, 1)),
		join(bind, channelData(0x4000, 1), channelData(0x4000, 2), channelData(0x4000, 3), channelData(0x4001, 5), channelData(0x4000, maxRelayed+1), send(uplinkSFU, 7)),
		join(send(uplinkSFU, 1181), sized(1596), sized(1599), send(uplinkSFU, 9)),
		join(send(uplinkSFU, 3), sized(1600), send(uplinkSFU, 9)),
		join(send(uplinkSFU, 3), sized(1601), send(uplinkSFU, 9)),
		join(send(uplinkSFU, 3), sized(1604), send(uplinkSFU, 9)),
		join(send(uplinkSFU, 3), wrongCookie, send(uplinkSFU, 9)),
		join(send(uplinkSFU, 3), wrongCookie[:30]), // pion/turn refuses it on its header
		join(send(uplinkSFU, 3), []byte{0xff, 0, 0, 0}, send(uplinkSFU, 9)),
		join(send(uplinkSFU, 3), send(uplinkSFU, 9)[:13]), // a header cut short
		join(send(uplinkSFU, 3), send(uplinkSFU, 9)[:3]),
		join(channelData(0x4000, 2), channelData(0x4000, 9)[:7]),
	}
	// Frames that end where the uplink's first buffer does, and one across its end.
	atEnd := join(channelData(0x4000, 1000), channelData(0x4000, uplinkBufMin-1004-8))
	seeds = append(seeds, join(atEnd, send(uplinkSFU, 1181), send(uplinkSFU, 1181)),
		join(atEnd[:len(atEnd)-4], send(uplinkSFU, 2), send(uplinkSFU, 1181)))
	return seeds
}

// TestStreamUplinkKeepsAShortFrameInItsPlace: pion/turn frames nothing of fewer than 9
// bytes (a ChannelData of 4 bytes of data at most) until bytes of the frames after it
// have come, so the frames after such a frame handed on go to pion/turn too, up to the
// first of 9 bytes or more: were they relayed here they would overtake the short one,
// and pion/turn would hold it until some later frame went to it. After that one
// pion/turn holds nothing, and the frames after it are relayed here again: the
// connection keeps its fast path.
func TestStreamUplinkKeepsAShortFrameInItsPlace(t *testing.T) {
	short := appendChannelData(nil, 0x4001, nil)            // a channel the connection did not bind
	shortOn := appendChannelData(nil, 0x4000, []byte("on")) // its own channel, short too
	send := buildSendIndication(t, uplinkSFU, []byte("media"))
	channel := appendChannelData(nil, 0x4000, []byte("channel"))
	stream := bytes.Join([][]byte{short, shortOn, send, channel, send}, nil)
	var got []string
	pionReads(uplinkOn(&chunkedConn{data: stream, chunk: len(stream)}, loggingPacketConn{log: &got}), &got)
	want := []string{
		fmt.Sprintf("pion/turn reads %x", short),
		fmt.Sprintf("pion/turn reads %x", shortOn),
		fmt.Sprintf("pion/turn reads %x", send),
		fmt.Sprintf("relayed %x to %v", "channel", uplinkSFU),
		fmt.Sprintf("relayed %x to %v", "media", uplinkSFU),
		"end: EOF",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("through the uplink\n%q\nwant\n%q", got, want)
	}
}
