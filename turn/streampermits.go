package turn

import (
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
)

// A client over TCP or TLS that binds no channel (Firefox) sends its media to the SFU
// in Send indications, which its connection's reader serves under the permissions of
// the connection's allocation (streamuplink.go), as the UDP listener serves a UDP
// client's (uplink.go). pion/turn reports each permission it creates and deletes
// (directevents.go); the permissions of a stream's allocation are kept on its record
// here, as its channels are, with the same care as the UDP clients' (udpChannels):
//
// pion/turn reports a permission's creation after it lets go of the allocation's lock,
// so an allocation ending meanwhile on another goroutine may report the permission
// deleted first, and a channel bound while its allocation is being closed may be
// reported after the close listed the channels it deletes. The relay's close, which
// comes after, takes its channels and permissions out (forget), and a report later
// still, for a relay already closed, records nothing. Otherwise the record would pin
// the closed relay while the connection lives, and a new allocation on it would have
// its Send indications swallowed, refused by the closed relay, rather than handed to
// pion/turn.
//
// A deletion takes out only what goes through its own relay: an allocation ending on
// pion/turn's timer may report its permissions and channels deleted after the client
// allocated again on the same connection and permitted the same IPs or bound the
// same numbers (pion/turn takes the old allocation out of its table before it reports
// them), and those of the new allocation must stay.

// streamPermit is a permission a stream's allocation holds: an SFU IP, and the relay
// that writes to it.
type streamPermit struct {
	ip    netip.Addr
	relay *restrictedConn
}

// streamPermits are a stream's permissions, read by its connection's reader without a
// lock and replaced by pion/turn's permission events (under the registry's lock).
type streamPermits struct {
	cur atomic.Pointer[[]streamPermit]
}

// relay is the relay through which the stream's allocation may send to ip, nil if
// it holds no permission for ip.
func (p *streamPermits) relay(ip netip.Addr) *restrictedConn {
	if l := p.cur.Load(); l != nil {
		for _, perm := range *l {
			if perm.ip == ip {
				return perm.relay
			}
		}
	}
	return nil
}

// replace stores the permissions without those del picks, and with add if it is set;
// its callers hold the registry's lock. A new array: the reader may be reading the old.
func (p *streamPermits) replace(del func(streamPermit) bool, add *streamPermit) {
	var next []streamPermit
	if l := p.cur.Load(); l != nil {
		next = slices.DeleteFunc(slices.Clone(*l), del)
	}
	if add != nil {
		next = append(next, *add)
	}
	p.cur.Store(&next)
}

// holdLocked is the record of the connection src–dst, which relay's allocation holds
// a channel or a permission through, nil if there is none or relay is closed: forget,
// which the relay's close calls, has run or will find the record.
func (s *streams) holdLocked(src, dst net.Addr, relay *restrictedConn) *stream {
	if relay.closed.Load() {
		return nil
	}
	st := s.lookupLocked(src, dst)
	if st == nil {
		return nil
	}
	if s.held == nil {
		s.held = map[*restrictedConn]*stream{}
	}
	s.held[relay] = st
	return st
}

// permit records that the allocation of the connection src–dst may send to ip through
// relay, unless relay is closed (checked under the lock forget takes).
func (s *streams) permit(src, dst net.Addr, ip netip.Addr, relay *restrictedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.holdLocked(src, dst, relay); st != nil {
		st.permits.replace(func(p streamPermit) bool { return p.ip == ip }, &streamPermit{ip: ip, relay: relay})
	}
}

// unpermit takes out the permission for ip of the connection src–dst's allocation if
// it goes through relay: an allocation that ended may report its permissions deleted
// after a new one on the same connection permitted the same IPs.
func (s *streams) unpermit(src, dst net.Addr, ip netip.Addr, relay *restrictedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.lookupLocked(src, dst); st != nil {
		st.permits.replace(func(p streamPermit) bool { return p.ip == ip && p.relay == relay }, nil)
	}
}

// forget takes out the channels and permissions through relay, which is closed (its
// close sets closed before it calls forget), whether or not its connection is still
// open.
func (s *streams) forget(relay *restrictedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.held[relay]
	if !ok {
		return
	}
	delete(s.held, relay)
	st.permits.replace(func(p streamPermit) bool { return p.relay == relay }, nil)
	st.channels.drop(relay)
}
