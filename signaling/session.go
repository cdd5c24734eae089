package signaling

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"conclave/e2ee"
	"conclave/lobby"
	"conclave/sfu"
)

// Session timing and queue bounds (PROTOCOL.md, "Transport"). Ping, pong, join and
// message timeouts run on the server's Clock (conn.go); the write timeout
// (Config.WriteTimeout) is a real-time backstop for a peer whose TCP window stays full.
const (
	pingInterval   = 20 * time.Second
	silentPings    = 2 // intervals between pings in a row with nothing heard: the peer is closed
	pongWait       = silentPings * pingInterval
	messageTimeout = 10 * time.Second // from a message's first frame to its last
	sendQueueLen   = 256
	maxErrorsInRow = 20
	sdpTimeout     = 10 * time.Second
	fanoutRate     = 5  // chat, media_state and update_settings messages per second, sustained
	fanoutBurst    = 20 // and in a burst
)

type sessionState int

const (
	stateConnected sessionState = iota
	stateLobby
	stateJoined
	stateClosed
)

// eventKind is something the meeting tells a session's owner goroutine.
type eventKind int

const (
	evAdmitted    eventKind = iota // a moderator (or the policy) let the session in
	evRefused                      // the knock is over without admission
	evEjected                      // the member was removed, sent back, or the meeting ended
	evPermissions                  // role or settings changed: re-check what is allowed
	evMedia                        // a moderator acted on this member's media
	evReplaced                     // a resume on a new connection took the membership over
)

type event struct {
	kind    eventKind
	role    lobby.Role
	reason  string
	command lobby.Command
	by      string
	all     bool   // evMedia: part of a moderator's action on everyone
	gen     uint64 // evOfferTimeout: which offer
}

// eventQueueLen bounds undelivered events; a session that falls this far behind is cut.
const eventQueueLen = 64

// Session is one websocket connection. A read pump feeds inbound messages to run, the one
// goroutine that owns all session state; a write pump drains a bounded queue. When the
// queue overflows the peer is too slow and is disconnected rather than waited for.
type Session struct {
	srv  *Server
	conn *websocket.Conn
	held *heldConn // conn's connection; nil: each message is written alone (tests)
	log  *slog.Logger

	addr      string        // source address: password throttling, and the TURN server's welcome (ICESource); never logged
	serial    uint64        // the order the server took the connection in, before answering its handshake (serveWS): a page's later attempt has a higher one
	group     string        // addrGroup(addr): the unit of the per-address caps
	queue     outQueue      // for the write pump
	events    chan *event   // pointers: the channel is sized for bursts and kept per member
	closing   chan struct{} // closed by abort: the connection is going
	closeOnce sync.Once
	closed    chan struct{} // closed once the connection is closed
	readDone  chan struct{}
	shutdown  chan struct{}
	shutOnce  sync.Once

	// Connection upkeep (conn.go), shared by the pumps, the watchdog and the closer.
	wmu      sync.Mutex   // held while a frame is written; the closer waits for it
	pingDue  atomic.Bool  // the watchdog asks the write pump to ping
	heardNow atomic.Bool  // the peer was heard since the last ping tick
	silent   atomic.Int32 // ping ticks in a row that found the peer not heard (pingTick)
	writer   writerState  // whether a write pump runs (writer.go)
	// readLimit is the largest message the read pump takes next: MaxMessageBytes, and
	// for a member of an end-to-end encrypted meeting the size of its largest key batch
	// (widenReadLimit).
	readLimit atomic.Int64
	knocked   atomic.Bool // the join was accepted: the join timeout no longer applies
	joining   atomic.Bool // a join is being checked: the join timeout waits for it
	timerMu   sync.Mutex
	joinStop  func() bool // cancels the join timeout
	pingStop  func() bool // cancels the next ping

	// Owned by run.
	state          sessionState
	errorsInRow    int
	meeting        *Meeting
	id             string
	name           string
	media          MediaState
	peer           *sfu.Participant
	fanout         tokenBucket // chat, media_state and update_settings
	permsDue       atomic.Bool // an evPermissions is queued (recheckPermissions)
	keys           tokenBucket // e2ee key messages
	reactions      tokenBucket // reactions (hands.go)
	joinRef        string      // id of the join message, for the reply
	askedUnmute    bool        // a moderator asked this member to unmute since its last mute
	askedCamera    bool        // the same, for the camera
	neg            negotiation // publish_offer and ice limits, subscribe offer deadline
	member         bool        // got a welcome: a dropped connection parks (parking.go)
	unconfirmed    bool        // welcomed (joined, resumed or taken over), and no message read since (confirmWelcome)
	saidBye        bool        // the server ended the session on purpose: no parking
	carry          carried     // moderators' blocks, handed on to a resume
	claimed        memberClaim // a membership claimed (a resume, a knock's takeover) and not yet welcomed (handover.go); read by park
	knock          knockState  // the knock's nonce and proof (knock.go), guarded by the meeting's lock once knocked
	knockSecret    string      // lets the page's next knock replace this one (reknock.go); set before the knock (a replacing knock's under the meeting's lock)
	knocksReplaced []lobby.ID  // the knocks this one took the place of, the first first (reknock.go); under the meeting's lock
	reknocks       tokenBucket // replacements left to this knock and those it replaced (reknock.go); set before the knock, then under the meeting's lock
	lobbyKeys      tokenBucket // lobby_key messages (lobbykey.go)
	views          tokenBucket // view messages (view.go)
	pings          tokenBucket // ping messages, in every state (heartbeat.go)

	// The change of the meeting's password under way on this connection
	// (passwordchange.go), and a resume's hand-over (evReplaced) taken meanwhile, for
	// after it; owned by run.
	pwChange      *passwordChange
	replacedLater *event

	// A moderator's waiting lists, paced (waitingpace.go).
	waitingPace waitingPacer

	// The member's downlink state, paced (downlink.go); owned by run.
	downlink    downlinkPacer
	downlinkDue chan struct{} // a paced downlink message is due

	done chan struct{} // closed once cleanup let go of the meeting and the media
	// tookFrom is the connection whose admission (claimByKnock) or membership
	// (takeLocked) this one took before its welcome, under the meeting's lock: done
	// closes only once that one's has (cleanup). Forgotten once this one has waited for
	// it (waitedFor).
	tookFrom *Session
}

// outMsg is a message for the write pump; a non-zero closeCode ends the connection
// after everything queued before it has been written.
type outMsg struct {
	data      []byte
	closeCode int
	closeText string
	snapshot  snapshotKind // non-zero: the whole state of its kind (outQueue.push)
	// spare: a relayed key message, dropped rather than queued once the queue is half
	// full (outQueue.push): a member's relay budget is bigger than another member's
	// queue in a large meeting, and must not get that member cut as a slow consumer.
	// A key message that does not arrive is asked for again (FORMAT.md, "Key requests").
	spare bool
}

// snapshotKind names a message that states the whole of something, so that a newer one
// makes an older one still queued worthless.
type snapshotKind uint8

// snapshotWaitingList is the waiting list a moderator gets at every knock and every
// leave of the lobby: sent each time, a never-admitted client knocking and leaving in
// a loop filled a moderator's queue with lists of up to the lobby's size until the
// server cut the moderator as a slow consumer.
const snapshotWaitingList snapshotKind = 1

type inbound struct {
	data   []byte
	binary bool
}

func newSession(srv *Server, conn *websocket.Conn, addr string, serial uint64) *Session {
	s := &Session{
		srv:       srv,
		conn:      conn,
		addr:      addr,
		serial:    serial,
		group:     addrGroup(addr),
		closed:    make(chan struct{}),
		done:      make(chan struct{}),
		events:    make(chan *event, eventQueueLen),
		log:       srv.log,
		closing:   make(chan struct{}),
		readDone:  make(chan struct{}),
		shutdown:  make(chan struct{}),
		fanout:    newTokenBucket(fanoutRate, fanoutBurst),
		keys:      newTokenBucket(e2ee.RelayLimits(2)), // resized to the meeting at each use (batch.go)
		reactions: newTokenBucket(reactionRate, reactionBurst),
		lobbyKeys: newTokenBucket(lobbyKeyRate, lobbyKeyBurst),
		views:     newTokenBucket(viewRate, viewBurst),
		pings:     newTokenBucket(pingRate, pingBurst),
		neg:       newNegotiation(),

		waitingPace: newWaitingPacer(),

		downlinkDue: make(chan struct{}, 1),
	}
	s.readLimit.Store(MaxMessageBytes)
	return s
}

// widenReadLimit lets a member of an end-to-end encrypted meeting send a key batch for
// the largest meeting the server allows (batchWireBytes). It applies from the message
// after the one the read pump is waiting for; a member's first message after its
// welcome is its identity, far below MaxMessageBytes.
func (s *Session) widenReadLimit() {
	s.readLimit.Store(int64(s.srv.batchReadLimit))
}

// send queues a message without blocking; a full queue disconnects the peer. A nil
// session is a parked member (parking.go): nothing reaches it until it is back.
func (s *Session) send(msg []byte) {
	if s == nil {
		return
	}
	s.enqueue(&outMsg{data: msg})
}

// sendSpare queues msg, a relayed key message, unless the queue is half full already
// (outMsg.spare): then it is dropped, and the peer stays connected.
func (s *Session) sendSpare(msg []byte) {
	if s == nil {
		return
	}
	s.enqueue(&outMsg{data: msg, spare: true})
}

// sendSnapshot queues msg, a message of kind that states the whole state: one of its
// kind still queued is replaced (outQueue.push).
func (s *Session) sendSnapshot(msg []byte, kind snapshotKind) {
	if s == nil {
		return
	}
	s.enqueue(&outMsg{data: msg, snapshot: kind})
}

func (s *Session) enqueue(m *outMsg) {
	select {
	case <-s.closing:
		return
	default:
	}
	if !s.queue.push(m) {
		s.log.Debug("session: slow consumer disconnected")
		s.abort(CloseSlowConsumer, "slow consumer")
		return
	}
	s.kickWriter()
}

// deliver hands an event to the owner goroutine without blocking.
// A nil session is a parked member: events for it are dropped (see applyLocked).
func (s *Session) deliver(ev event) {
	if s == nil {
		return
	}
	select {
	case s.events <- &ev:
	default:
		s.abort(CloseSlowConsumer, "slow consumer")
	}
}

// recheckPermissions asks the owner goroutine to re-check what the member may do
// (evPermissions), once for however many changes come before it does: a moderator's
// burst of settings put an event each into every member's queue, and a member whose
// owner was busy a moment (a password of its own being hashed) was cut off as a slow
// consumer. A nil session is a parked member, as for deliver.
func (s *Session) recheckPermissions() {
	if s == nil || !s.permsDue.CompareAndSwap(false, true) {
		return
	}
	s.deliver(event{kind: evPermissions})
}

// requestShutdown asks the session to say goodbye and close (server shutdown).
func (s *Session) requestShutdown() {
	s.shutOnce.Do(func() { close(s.shutdown) })
}

// serve runs the session until the connection ends.
func (s *Session) serve() {
	// A member's messages come one at a time (an answer, its candidates, a key batch):
	// a few may wait for the owner; beyond that the read pump waits, as TCP does.
	in := make(chan inbound, 4)
	go func() {
		s.readPump(in)
		// Not deferred in readPump: the defers would take stack in the frame that
		// waits between messages (readMessage's comment).
		close(in)
		close(s.readDone)
	}()
	s.startWriter()
	s.startWatchdog()
	s.run(in)
	<-s.readDone
	<-s.closed
	s.stopWriter()
	s.stopWatchdog()
	s.forgetWaitingList()
}

// run is the session's owner goroutine.
func (s *Session) run(in <-chan inbound) {
	defer s.cleanup()
	for s.replacedNow(); s.state != stateClosed; s.replacedNow() {
		var negotiate, encodings, downlink <-chan struct{}
		if s.peer != nil {
			negotiate = s.peer.NegotiationNeeded()
			encodings = s.peer.EncodingsChanged()
			downlink = s.peer.DownlinkChanged()
		}
		turnEnd, hashed := s.passwordEvents()
		select {
		case msg, ok := <-in:
			if !ok {
				s.state = stateClosed
				s.abort(0, "")
				return
			}
			if s.replacedLater == nil { // a replaced connection's page speaks on the new one
				s.handle(msg)
			}
		case <-turnEnd:
			s.pwChange.turnEnd = nil
			s.passwordGoesOn(s.nextPasswordStep)
		case r := <-hashed:
			s.passwordGoesOn(func() *Error { return s.passwordHashed(r) })
		case <-negotiate:
			s.offerSubscribe()
		case <-encodings:
			s.sendEncodings()
		case <-downlink:
			s.downlinkChanged()
		case <-s.downlinkDue:
			s.sendDownlink()
		case ev := <-s.events:
			s.takeEvent(ev)
		case <-s.shutdown:
			s.finish(TypeBye, ByePayload{Reason: "shutdown"}, CloseGoingAway, "server shutting down")
		case <-s.closing:
			s.state = stateClosed
		}
	}
}

// finish sends a last message and then the close frame, and ends the session.
func (s *Session) finish(typ string, payload any, code int, text string) {
	if typ != "" {
		s.send(encode(typ, "", payload))
	}
	s.enqueue(&outMsg{closeCode: code, closeText: text})
	s.state = stateClosed
	s.saidBye = true
}

// cleanup leaves the meeting, or parks the membership for a resume, and releases the
// media (parking.go).
func (s *Session) cleanup() {
	defer close(s.done)
	if s.pwChange != nil {
		s.endPasswordChange() // given up with its connection
	}
	s.letGo()
	if s.tookFrom != nil {
		// A connection that took the admission or the membership from this one sets up
		// the media under the same id once done closes. This one may have gone while
		// the connection it took them from still held that media: the next waits for
		// that one too.
		<-s.tookFrom.done
	}
}

// offerSubscribe sends the next subscribe offer if one is due.
func (s *Session) offerSubscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), sdpTimeout)
	defer cancel()
	offer, err := s.peer.NextSubscribeOffer(ctx)
	if err != nil {
		if !errors.Is(err, sfu.ErrClosed) {
			s.log.Debug("session: subscribe offer failed", "err", err)
		}
		return
	}
	if offer == nil {
		return
	}
	s.sendSubscribeOffer(offer)
}
