package turn

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// FuzzUplinkChannelData: whatever a UDP client sends, the uplink serves only
// ChannelData on the client's bound channel whose length fits the datagram, and
// relays exactly its data; everything else goes on to pion/turn.
func FuzzUplinkChannelData(f *testing.F) {
	f.Add([]byte("\x40\x00\x00\x05hello\x00\x00\x00"))
	f.Add([]byte("\x40\x00\x00\x09hello"))
	f.Add([]byte("\x40\x01\x00\x00"))
	f.Add([]byte("\x00\x01\x00\x00\x21\x12\xa4\x42 a STUN message"))
	f.Add([]byte("\x40"))
	client := netip.MustParseAddrPort("192.0.2.1:5000")
	sfu := netip.MustParseAddrPort("127.0.0.1:10000")
	f.Fuzz(func(t *testing.T, b []byte) {
		sock := &recordingPacketConn{}
		relay := &restrictedConn{PacketConn: sock, peers: newPeers([]netip.AddrPort{sfu})}
		u := udpUplink{channels: &udpChannels{}}
		u.channels.add(client, 0x4000, uplinkChannel{relay: relay, peer: relay.peers.at(sfu)})
		served := u.serve(b, client)
		onChannel := len(b) >= 4 && binary.BigEndian.Uint16(b) == 0x4000 && 4+int(binary.BigEndian.Uint16(b[2:])) <= len(b)
		switch {
		case served != onChannel:
			t.Fatalf("%x: served %v, want %v", b, served, onChannel)
		case served && (len(sock.wrote) != 1 || !bytes.Equal(sock.wrote[0], b[4:4+int(binary.BigEndian.Uint16(b[2:]))])):
			t.Fatalf("%x: relayed %x", b, sock.wrote)
		case !served && len(sock.wrote) != 0:
			t.Fatalf("%x: left to pion/turn but relayed %x", b, sock.wrote)
		}
	})
}
