package turn

import (
	"encoding/binary"
	"net/netip"
)

// A Send indication (RFC 8656, section 11.4) is how a client without a channel sends
// to a peer: a STUN indication with the peer's address (XOR-PEER-ADDRESS) and the
// data (DATA). Firefox binds no channel, so every packet a relayed Firefox publishes
// is one (108ed0d: 87 a second for its camera). parseSendIndication reads one for the
// UDP uplink (uplink.go), in place, strictly: what it refuses goes on to pion/turn,
// which relays or drops it as before, so it refuses whatever pion/turn might read
// otherwise than it would.

// sendIndication is what a Send indication asks to be relayed: data, a slice of the
// datagram, to peer.
type sendIndication struct {
	peer netip.AddrPort
	data []byte
}

const (
	stunSendIndication = 0x0016
	stunAttrHeader     = 4
	// attrOptional is the lowest comprehension-optional attribute type (RFC 8489,
	// section 14): a server that does not know one ignores it.
	attrOptional = 0x8000
	// attrOldXORMapped is optional by its number, but pion/turn reads it as
	// XOR-MAPPED-ADDRESS (an old draft's number), which is required.
	attrOldXORMapped = 0x8020
)

// parseSendIndication reads b as a Send indication: the header's type (its first two
// bits 0, which pion/turn does not look at) and magic cookie,
// a length that is the rest of b exactly, attributes each within it and padded, one
// XOR-PEER-ADDRESS of an IPv4 or IPv6 address, one DATA of at least a byte, and no
// other attribute but comprehension-optional ones (SOFTWARE, FINGERPRINT, not the
// old XOR-MAPPED-ADDRESS). A known
// comprehension-required attribute that pion/turn would ignore (DONT-FRAGMENT,
// MESSAGE-INTEGRITY, after which pion/turn drops what follows), an unknown one (the
// indication is then dropped), a second peer or data: all go to pion/turn.
func parseSendIndication(b []byte) (sendIndication, bool) {
	if len(b) < stunHeader || binary.BigEndian.Uint16(b) != stunSendIndication ||
		binary.BigEndian.Uint32(b[4:]) != stunMagicCookie || int(binary.BigEndian.Uint16(b[2:])) != len(b)-stunHeader {
		return sendIndication{}, false
	}
	var (
		ind        sendIndication
		peer, data bool
		txID       = b[8:stunHeader]
		attrs      = b[stunHeader:]
	)
	for len(attrs) > 0 {
		if len(attrs) < stunAttrHeader {
			return sendIndication{}, false
		}
		typ, n := binary.BigEndian.Uint16(attrs), int(binary.BigEndian.Uint16(attrs[2:]))
		padded := (n + 3) &^ 3
		if len(attrs)-stunAttrHeader < padded {
			return sendIndication{}, false
		}
		value := attrs[stunAttrHeader : stunAttrHeader+n]
		attrs = attrs[stunAttrHeader+padded:]
		switch {
		case typ == attrXORPeerAddress:
			if peer {
				return sendIndication{}, false
			}
			a, ok := xorPeerAddress(value, txID)
			if !ok {
				return sendIndication{}, false
			}
			ind.peer, peer = a, true
		case typ == attrData:
			if data || n == 0 {
				return sendIndication{}, false
			}
			ind.data, data = value, true
		case typ < attrOptional || typ == attrOldXORMapped:
			return sendIndication{}, false
		}
	}
	if !peer || !data {
		return sendIndication{}, false
	}
	return ind, true
}

// xorPeerAddress decodes an XOR-PEER-ADDRESS's value (RFC 8489, section 14.2) of the
// message with transaction ID txID; an IPv4-mapped IPv6 address is the IPv4 address,
// as pion/turn keys its permissions.
func xorPeerAddress(v, txID []byte) (netip.AddrPort, bool) {
	if len(v) < 4 || v[0] != 0 {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(v[2:]) ^ (stunMagicCookie >> 16)
	var key [16]byte
	binary.BigEndian.PutUint32(key[:4], stunMagicCookie)
	copy(key[4:], txID)
	switch {
	case v[1] == xorAddressFamilyIP4 && len(v) == 8:
		var ip [4]byte
		for i := range ip {
			ip[i] = v[4+i] ^ key[i]
		}
		return netip.AddrPortFrom(netip.AddrFrom4(ip), port), true
	case v[1] == xorAddressFamilyIP6 && len(v) == 20:
		var ip [16]byte
		for i := range ip {
			ip[i] = v[4+i] ^ key[i]
		}
		return netip.AddrPortFrom(netip.AddrFrom16(ip).Unmap(), port), true
	}
	return netip.AddrPort{}, false
}
