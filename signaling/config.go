package signaling

import (
	"log/slog"
	"net/netip"
	"time"

	"conclave/lobby"
	"conclave/secret"
	"conclave/sfu"
)

// What a Server is made with: its configuration, its hosts and its defaults.

// Host is someone allowed to create meetings: an entry of the server's configuration.
type Host struct {
	ID      string // the part of the host key before the dot
	Name    string
	KeyHash string // hash of the part after the dot: secret.KeyedHash, or argon2id (older entries)
}

// Config wires a Server.
type Config struct {
	Engine *sfu.Engine
	Logger *slog.Logger
	// Clock drives every limiter, timer and timeout; nil means the wall clock (read
	// through Now, when that is set).
	Clock Clock
	// Now is the clock's reading when Clock is nil; nil means time.Now.
	Now func() time.Time
	// Hosts may create meetings and rooms, besides the hosts in Store (both are asked).
	Hosts []Host
	// Store keeps the rooms (and the hosts `conclave host add` made); nil means an
	// empty store.Memory, gone when the process ends.
	Store RoomStore
	// Hasher checks and makes password hashes; nil means argon2id's defaults with one
	// hash per CPU at a time.
	Hasher *secret.Hasher
	// TrustForwardedFor takes the client address, for password throttling, from the
	// right-most X-Forwarded-For hop that is not one of TrustedProxies, when the request
	// comes from one of them (set it behind a reverse proxy that sets the header).
	TrustForwardedFor bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed; nil means
	// DefaultTrustedProxies (loopback).
	TrustedProxies []netip.Prefix
	// MaxMeetings bounds live meetings (default 1000); MaxParticipants bounds one
	// meeting's members (default DefaultMaxParticipants).
	MaxMeetings     int
	MaxParticipants int
	// Lobby bounds waiting rooms (its MaxMembers is MaxParticipants).
	Lobby lobby.Config
	// MaxWaitingPerAddr bounds one address's knocks waiting in one meeting, so that one
	// address cannot fill a waiting room (default DefaultMaxWaitingPerAddr).
	MaxWaitingPerAddr int
	// MaxConns bounds open websockets (default DefaultMaxConns); MaxConnsPerAddr bounds
	// those of one address, an IPv4 address or an IPv6 /64 (default
	// DefaultMaxConnsPerAddr). Both are checked before the upgrade.
	MaxConns        int
	MaxConnsPerAddr int
	// JoinTimeout is how long a new websocket may take to send an accepted join before
	// it is closed with 4408 (default DefaultJoinTimeout, on Clock).
	JoinTimeout time.Duration
	// WriteTimeout bounds one write to a peer whose TCP window stays full, in real time
	// (a socket deadline); the peer is then cut off without a close frame. Default
	// DefaultWriteTimeout. A slow consumer is normally found sooner, by its full queue.
	WriteTimeout time.Duration
	// EmptyMeetingGrace is how long a meeting that had members outlives its last
	// connection (a reload, a network change); 0 ends it at once. NewServer's callers
	// choose; cmd/conclave uses DefaultEmptyMeetingGrace.
	EmptyMeetingGrace time.Duration
	// ResumeGrace is how long an admitted member whose connection dropped stays in the
	// meeting as reconnecting, so that a new connection can take it back with its
	// resumption secret (resume.go); 0 makes a drop a leave at once. NewServer's callers
	// choose; cmd/conclave uses DefaultResumeGrace. On Clock.
	ResumeGrace time.Duration
	// ICE, when set, gives every welcome its ICE servers (the embedded TURN server with
	// fresh short-lived credentials). The credentials go to that one session and are
	// never logged.
	ICE ICESource
}

// ICESource hands out the ICE servers of one welcome; now is the server's clock,
// member the address the member's websocket comes from (as the password throttling
// sees it; invalid if unreadable), which the TURN server answers beyond the bound in
// all a flood of forged requests spends (turn.Server.ICEServersFor); it is kept in
// memory only and never logged. Revoke ends credentials it handed out: the member
// they went to is gone (left, was removed or sent back to the waiting room, or the
// meeting ended), or the welcome they were made for did not go out; whatever relays
// they opened close, and the TURN server counts a member less at their address. It
// must not block: it is called under a meeting's lock (turn.Server.Revoke ends the
// relays at once and closes their sockets later, on a goroutine of its own).
type ICESource interface {
	ICEServers(now time.Time, member netip.Addr) []ICEServer
	Revoke(servers []ICEServer)
}

// DefaultEmptyMeetingGrace lets a moderator reload the page without ending the meeting.
const DefaultEmptyMeetingGrace = time.Minute

// Defaults of the connection and admission caps. A school or an office behind one NAT
// address is one address: 200 websockets per address and 40 knocks per address per
// meeting leave room for several classes at once and a whole class knocking, while one
// address still cannot fill a waiting room (100) or the server (10,000).
const (
	DefaultMaxMeetings       = 1000 // live meetings per server (PROTOCOL.md, "Limits")
	DefaultMaxParticipants   = 100
	DefaultMaxWaitingPerAddr = 40
	DefaultMaxConns          = 10000
	DefaultMaxConnsPerAddr   = 200
	DefaultJoinTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
)
