package turn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/stun/v4"
)

// chunkedConn is a stream that returns data at most chunk bytes a read, then io.EOF.
type chunkedConn struct {
	net.Conn // nil: only Read is used
	data     []byte
	chunk    int
}

func (c *chunkedConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// countingPacketConn counts what is written on it without keeping it.
type countingPacketConn struct {
	net.PacketConn // nil: only WriteTo is used
	writes         int
}

func (c *countingPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.writes++
	return len(b), nil
}

// uplinkSFU is the SFU's address in the tests of a stream uplink on its own.
var uplinkSFU = netip.MustParseAddrPort("127.0.0.1:10000")

// uplinkOn is a stream uplink reading conn whose allocation bound channel 0x4000 to the
// SFU's address and holds a permission for its IP, relaying on sock.
func uplinkOn(conn net.Conn, sock net.PacketConn) *streamUplink {
	relay := &restrictedConn{PacketConn: sock, peers: newPeers([]netip.AddrPort{uplinkSFU})}
	st := &stream{counts: &uplinkCounts{}}
	st.channels.set(0x4000, &uplinkChannel{relay: relay, peer: relay.peers.at(uplinkSFU)})
	st.permits.replace(func(streamPermit) bool { return false }, &streamPermit{ip: uplinkSFU.Addr(), relay: relay})
	return &streamUplink{Conn: conn, st: st}
}

// frameStream is what a stream uplink should do with stream, frame by frame as RFC
// 8656 frames a stream and pion/turn's STUNConn frames a STUN message (its header and
// length, no padding): the data of the ChannelData it relays (channel 0x4000, at most
// maxRelayed bytes, whole) and of the Send indications (to the SFU's address, smaller
// than pion/turn's buffer; which ones are read as pion/turn reads them is
// FuzzSendIndication's), and the bytes it hands pion/turn. A frame cut short by the
// stream's end is handed on as far as it goes when pion/turn has it, and lost when the
// uplink would have waited for it whole (the connection is gone either way); a Send
// indication without the magic cookie is handed on at once (pion/turn closes the
// connection as soon as it has the header); after a frame handed on that is shorter
// than pion/turn frames (pionMinFrame), the frames after it are, up to the first that
// is not shorter.
func frameStream(stream []byte) (relayed [][]byte, passed []byte) {
	behind := false
	for b := stream; len(b) > 0; {
		if len(b) < channelDataHeader {
			return relayed, passed
		}
		length := int(binary.BigEndian.Uint16(b[2:]))
		var size int
		switch b[0] >> 6 {
		case 0:
			size = stunHeader + length
			if !behind && binary.BigEndian.Uint16(b) == stunSendIndication && size < pionInboundMTU &&
				(len(b) < 8 || binary.BigEndian.Uint32(b[4:]) == stunMagicCookie) {
				if len(b) < size {
					return relayed, passed
				}
				if ind, ok := parseSendIndication(b[:size]); ok && ind.peer == uplinkSFU {
					relayed = append(relayed, ind.data)
					b = b[size:]
					continue
				}
			}
		case 1:
			size = channelDataSize(length)
			if !behind && binary.BigEndian.Uint16(b) == 0x4000 && length <= maxRelayed {
				if len(b) < size {
					return relayed, passed
				}
				relayed = append(relayed, b[channelDataHeader:channelDataHeader+length])
				b = b[size:]
				continue
			}
		default:
			return relayed, append(passed, b...)
		}
		behind = size < pionMinFrame
		size = min(size, len(b))
		passed = append(passed, b[:size]...)
		b = b[size:]
	}
	return relayed, passed
}

// FuzzStreamUplink: whatever a client sends on its TCP or TLS connection, however the
// socket cuts it, the uplink relays exactly the ChannelData on the connection's
// channel and the Send indications under its permission, each whole, and hands
// pion/turn every other byte, in order.
func FuzzStreamUplink(f *testing.F) {
	channelData := func(number uint16, data string) []byte {
		return appendChannelData(nil, number, []byte(data))
	}
	binding := []byte("\x00\x01\x00\x04\x21\x12\xa4\x42twelve bytes" + "\x00\x00\x00\x00")
	f.Add(bytes.Join([][]byte{channelData(0x4000, "hello"), binding, channelData(0x4001, "other"), channelData(0x4000, "again")}, nil), uint8(3), uint8(7))
	f.Add(channelData(0x4000, string(make([]byte, maxRelayed+1))), uint8(200), uint8(255))
	f.Add(append(channelData(0x4000, "x"), 0xff, 1, 2, 3, 4), uint8(1), uint8(1))
	f.Add([]byte("\x40\x00\x05\xdc"), uint8(4), uint8(16))
	send := func(peer netip.AddrPort, data string) []byte {
		m, err := stun.Build(stun.NewTransactionIDSetter([12]byte{1, 2, 3}), stun.NewType(stun.MethodSend, stun.ClassIndication),
			stun.RawAttribute{Type: stun.AttrData, Value: []byte(data)}, peerAddress(peer), stun.Fingerprint)
		if err != nil {
			f.Fatal(err)
		}
		return m.Raw
	}
	f.Add(bytes.Join([][]byte{send(uplinkSFU, "hello"), channelData(0x4000, "chan"), send(netip.AddrPortFrom(uplinkSFU.Addr(), 9), "port"),
		binding, send(uplinkSFU, "again")}, nil), uint8(6), uint8(30))
	f.Add(send(uplinkSFU, string(make([]byte, pionInboundMTU-stunHeader-12-4-8))), uint8(255), uint8(255)) // fills pion/turn's buffer
	f.Add([]byte("\x00\x16\x00\x40\x21\x12\xa4\x43twelve bytes"), uint8(9), uint8(40))                     // no magic cookie, cut short
	f.Add(send(uplinkSFU, "cut short")[:30], uint8(4), uint8(8))
	f.Fuzz(func(t *testing.T, stream []byte, chunk, readSize uint8) {
		sock := &recordingPacketConn{}
		u := uplinkOn(&chunkedConn{data: bytes.Clone(stream), chunk: int(chunk) + 1}, sock)
		var passed []byte
		p := make([]byte, int(readSize)+1)
		for {
			n, err := u.Read(p)
			if n == 0 && err == nil {
				t.Fatal("a read returned nothing and no error")
			}
			passed = append(passed, p[:n]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		wantRelayed, wantPassed := frameStream(stream)
		if !bytes.Equal(passed, wantPassed) {
			t.Fatalf("%x: pion/turn got %x, want %x", stream, passed, wantPassed)
		}
		if len(sock.wrote) != len(wantRelayed) {
			t.Fatalf("%x: relayed %d datagrams, want %d", stream, len(sock.wrote), len(wantRelayed))
		}
		for i := range wantRelayed {
			if !bytes.Equal(sock.wrote[i], wantRelayed[i]) {
				t.Fatalf("%x: relayed %x, want %x", stream, sock.wrote[i], wantRelayed[i])
			}
		}
		if got := u.st.counts.channelData.Load() + u.st.counts.sends.Load(); got != uint64(len(wantRelayed)) {
			t.Fatalf("served counted %d, want %d", got, len(wantRelayed))
		}
	})
}

// TestStreamUplinkRelaysWithoutAllocating: a burst of ChannelData read off a stream in
// one read is relayed without an allocation (pion/turn's reader made two a read).
func TestStreamUplinkRelaysWithoutAllocating(t *testing.T) {
	frame := appendChannelData(nil, 0x4000, make([]byte, 1181))
	binding := []byte("\x00\x01\x00\x00\x21\x12\xa4\x42twelve bytes")
	burst := append(bytes.Repeat(frame, 8), binding...)
	conn := &chunkedConn{chunk: 64 << 10}
	sock := &countingPacketConn{}
	u := uplinkOn(conn, sock)
	p := make([]byte, 1600)
	read := func() {
		conn.data = burst
		if n, err := u.Read(p); err != nil || !bytes.Equal(p[:n], binding) {
			t.Fatalf("read %x, %v; want the Binding request", p[:n], err)
		}
	}
	read() // the buffer grows to its size
	read()
	if len(u.buf) != uplinkBufMax {
		t.Fatalf("buffer of %d bytes after bursts of %d, want it grown to %d", len(u.buf), len(burst), uplinkBufMax)
	}
	if allocs := testing.AllocsPerRun(100, read); allocs != 0 {
		t.Fatalf("%v allocations a burst, want 0", allocs)
	}
	if sock.writes != 8*103 {
		t.Fatalf("%d datagrams relayed, want %d", sock.writes, 8*103)
	}
}
