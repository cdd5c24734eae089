package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"conclave/internal/browsertest"
	"conclave/internal/testlog"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/turn"
)

// relayOnlyJS runs before the page's own scripts: every RTCPeerConnection the page
// makes uses only relayed candidates (iceTransportPolicy "relay"), as a browser behind
// a firewall that lets nothing but TURN through would, and is kept for getStats. With
// transport set, only the TURN URLs of that transport are kept (a firewall that also
// blocks UDP). It is the test's own script; the web client has no such switch.
func relayOnlyJS(transport string) string {
	return watchedPCsJS(pcOptions{relayOnly: true, transport: transport})
}

// pcOptions say what watchedPCsJS does to the page's peer connections.
type pcOptions struct {
	relayOnly bool   // iceTransportPolicy "relay"
	transport string // keep only the TURN URLs of this transport ("": all)
	// servers, when set, replace the TURN servers the page was given (a test's own
	// relay for this tab only, e.g. a shaped one: downlink_test.go).
	servers []turnServerJS
}

// turnServerJS is one RTCIceServer as a page gives it to RTCPeerConnection.
type turnServerJS struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

// watchedPCsJS keeps every RTCPeerConnection the page makes for the test
// (window.relayTest), changed as o says.
func watchedPCsJS(o pcOptions) string {
	servers, _ := json.Marshal(o.servers)
	return fmt.Sprintf(`(() => {
	const transport = %q, relayOnly = %t, replace = %s;
	const Page = window.RTCPeerConnection;
	const made = [];
	const only = (servers) => (replace || servers || []).map((s) => ({ ...s,
		urls: [].concat(s.urls).filter((u) => !transport || u.endsWith("?transport=" + transport)) }));
	class Watched extends Page {
		constructor(config, ...rest) {
			config = { ...(config || {}), iceServers: only(config && config.iceServers) };
			super(relayOnly ? { ...config, iceTransportPolicy: "relay" } : config, ...rest);
			// What the browser says of a TURN server that refused or never answered
			// an allocation: a relay that cannot be had ends settled() at once.
			const turnErrors = [];
			this.addEventListener("icecandidateerror", (e) =>
				turnErrors.push(e.url + ": " + e.errorCode + " " + e.errorText));
			made.push({ pc: this, iceServers: config.iceServers, turnErrors });
		}
	}
	window.RTCPeerConnection = Watched;
	window.relayTest = {
		// Whether the page's connections have come to an end either way: at least want
		// of them open and all connected, or a TURN error on any.
		settled(want) {
			if (made.some((m) => m.turnErrors.length > 0)) return true;
			const open = made.filter((m) => m.pc.connectionState !== "closed");
			return open.length >= want && open.every((m) => m.pc.connectionState === "connected");
		},
		turnErrors() { return made.flatMap((m) => m.turnErrors); },
		// For every open connection: its state, the TURN URLs it was given, and the
		// candidate types of its selected pair (local and remote).
		async selected() {
			const out = [];
			for (const { pc, iceServers } of made) {
				if (pc.connectionState === "closed") continue;
				const stats = await pc.getStats();
				const ids = new Set();
				stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) ids.add(s.selectedCandidatePairId); });
				const pairs = [];
				stats.forEach((s) => {
					if (s.type === "candidate-pair" && (ids.has(s.id) || s.selected === true)) {
						const l = stats.get(s.localCandidateId), r = stats.get(s.remoteCandidateId);
						pairs.push({ local: l ? l.candidateType : "", relayProtocol: (l && l.relayProtocol) || "",
							remote: r ? r.candidateType : "" });
					}
				});
				out.push({ state: pc.connectionState, urls: iceServers.flatMap((s) => [].concat(s.urls)), pairs });
			}
			return out;
		},
	};
})()`, o.transport, o.relayOnly, servers)
}

// turnICE hands the embedded TURN server's credentials to signaling, as cmd/conclave does.
type turnICE struct{ srv *turn.Server }

func (t turnICE) ICEServers(now time.Time, member netip.Addr) []signaling.ICEServer {
	var out []signaling.ICEServer
	for _, s := range t.srv.ICEServersFor(now, member) {
		out = append(out, signaling.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

func (t turnICE) Revoke(servers []signaling.ICEServer) {
	for _, s := range servers {
		t.srv.Revoke(s.Username)
	}
}

// startTURN runs the embedded TURN server on loopback (UDP and TCP), its relay allowed
// to reach only the SFU's media address, wired to the SFU as the server wires it (its
// UDP socket batched, the SFU's packets handed to its relays in memory and theirs to
// the SFU).
func startTURN(t *testing.T, engine *sfu.Engine) signaling.ICESource {
	t.Helper()
	srv, err := turn.New(turn.Config{
		UDPAddr:     "127.0.0.1:0",
		TCPAddr:     "127.0.0.1:0",
		Host:        "127.0.0.1",
		RelayIP:     netip.MustParseAddr("127.0.0.1"),
		RelayBind:   "127.0.0.1",
		Peers:       []netip.AddrPort{engine.UDPAddr().(*net.UDPAddr).AddrPort()},
		BatchUDP:    sfu.BatchUDP,
		LocalRelay:  engine.AddLocalRelay,
		RelayUplink: engine.RelayUplink,
		Logger:      testlog.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return turnICE{srv}
}

// TestRelayOnlyMeeting: a Chromium tab and a Firefox tab whose peer connections may use
// nothing but the TURN relay over UDP (iceTransportPolicy "relay", the welcome's UDP
// URL only) meet in one end-to-end encrypted meeting, using the TURN credentials of
// their welcome: each decodes the other's camera (the SFU handing its packets to the
// relays in memory), and every connection's selected candidate pair is relayed over
// UDP on the browser's side. Given the TCP URL as well, a browser whose UDP relay
// failed (as when the UDP 401's realm, clientrealm.go, is one the server then refuses)
// relays over TCP and the meeting works all the same; nor can the test ask for UDP
// then, as Chromium keeps the first TURN allocation that succeeds and drops the others
// (seen here on a busy machine: a connection whose TCP relay was ready first ended its
// gathering without the UDP one, which the server had granted). TCP has its own test.
func TestRelayOnlyMeeting(t *testing.T) {
	t.Parallel()
	relayOnlyMeeting(t, "udp")
}

// TestRelayOnlyOverTCP: the same through TURN over TCP only, as behind a firewall that
// blocks all UDP.
func TestRelayOnlyOverTCP(t *testing.T) {
	t.Parallel()
	relayOnlyMeeting(t, "tcp")
}

// TestRelayOnlyOverUDPOrTCP: the same given both TURN URLs, UDP and TCP, as a real
// welcome gives them: each browser keeps whichever relay is ready first (Chromium drops
// the others), and the meeting works over either; each connection's selected pair is
// relayed, over UDP or TCP.
func TestRelayOnlyOverUDPOrTCP(t *testing.T) {
	t.Parallel()
	relayOnlyMeeting(t, "")
}

// relayOnlyMeeting meets a relay-only Chromium tab and Firefox tab through TURN over
// transport only ("udp" or "tcp"), or given both ("").
func relayOnlyMeeting(t *testing.T, transport string) {
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServerWith(t, serverOptions{ice: startTURN})
	meeting := srv.createMeeting(t)
	ctx, cancel := testContext()
	defer cancel()

	url := srv.pageURL(meeting, meeting.fragment())
	preload := joinOptions{preload: relayOnlyJS(transport)}
	ann := joinWithOptions(ctx, t, browsertest.KindChromium, url, "Ann", preload)
	fay := joinWithOptions(ctx, t, browsertest.KindFirefox, url, "Fay", preload)

	// A relay the browsers cannot open fails here, in their words, not at the deadline.
	for _, p := range []*participant{ann, fay} {
		waitFor(ctx, t, p, "publish and subscribe connected, or a TURN error", `window.relayTest.settled(2)`)
		var turnErrors []string
		if err := p.tab.Eval(ctx, `window.relayTest.turnErrors()`, &turnErrors); err != nil {
			t.Fatal(err)
		}
		if len(turnErrors) > 0 {
			t.Errorf("%s (%s): TURN over %q failed: %q", p.name, p.kind, transport, turnErrors)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	waitSameColour(ctx, t, ann, fay, "camera")
	waitSameColour(ctx, t, fay, ann, "camera")
	// The SFU's packets to the relays went over in memory (sfu/localrelay.go).
	if srv.engine.Stats().DatagramsToRelays == 0 {
		t.Fatal("no datagram handed to a relay in memory")
	}
	// And the relays wrote them to their clients themselves (turn/directwrite.go), and
	// handed what the browsers sent the SFU to it in memory.
	if srv.ice.(turnICE).srv.DirectWrites() == 0 {
		t.Fatal("no packet written by a relay to its client directly")
	}
	if srv.engine.Stats().DatagramsFromRelays == 0 {
		t.Fatal("no datagram handed by a relay to the SFU in memory")
	}
	// Firefox binds no channel: its media came in Send indications, which the TURN
	// listener (UDP or TCP) relayed before pion/turn read them (turn/uplink.go,
	// streamuplink.go). Each is counted before its relay's write, so Fay's camera
	// decoded by Ann has been counted.
	channelData, sends := srv.ice.(turnICE).srv.UplinkServed()
	t.Logf("served before pion/turn: %d ChannelData, %d Send indications", channelData, sends)
	if sends == 0 {
		t.Fatal("no Send indication served before pion/turn: Firefox's media went through its slow path")
	}

	type conn struct {
		State string   `json:"state"`
		URLs  []string `json:"urls"`
		Pairs []struct {
			Local         string `json:"local"`
			RelayProtocol string `json:"relayProtocol"`
			Remote        string `json:"remote"`
		} `json:"pairs"`
	}
	for _, p := range []*participant{ann, fay} {
		var conns []conn
		if err := p.tab.Eval(ctx, `window.relayTest.selected()`, &conns); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (%s): %+v", p.name, p.kind, conns)
		if len(conns) < 2 {
			t.Fatalf("%s (%s): %d peer connections, want publish and subscribe: %+v", p.name, p.kind, len(conns), conns)
		}
		for _, c := range conns {
			desc := fmt.Sprintf("%s (%s): %+v", p.name, p.kind, c)
			if c.State != "connected" || len(c.URLs) == 0 || len(c.Pairs) == 0 {
				t.Fatalf("%s: want a connected connection with TURN URLs and a selected pair", desc)
			}
			if transport == "" && len(c.URLs) != 2 {
				t.Fatalf("%s: want the welcome's UDP and TCP URLs", desc)
			}
			for _, pair := range c.Pairs {
				if pair.Local != "relay" {
					t.Fatalf("%s: selected pair is not relayed", desc)
				}
				switch {
				case transport != "" && pair.RelayProtocol != transport:
					t.Fatalf("%s: relayed over %q, want %s", desc, pair.RelayProtocol, transport)
				case transport == "" && pair.RelayProtocol != "udp" && pair.RelayProtocol != "tcp":
					t.Fatalf("%s: relayed over %q, want UDP or TCP", desc, pair.RelayProtocol)
				}
			}
		}
	}
}

// TestRelayOnlyResume: a relay-only Chromium tab whose websocket is cut resumes with
// the TURN credentials of its new welcome, those of its old one revoked at the resume
// (signaling's completeHandover): its new connections are relayed again, and it and a
// relay-only Firefox tab decode each other's camera again.
func TestRelayOnlyResume(t *testing.T) {
	t.Parallel()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServerWith(t, serverOptions{ice: startTURN, resumeGrace: 60 * time.Second})
	meeting := srv.createMeeting(t)
	line := startCutProxy(t, srv.url)
	ctx, cancel := testContext()
	defer cancel()

	preload := joinOptions{preload: relayOnlyJS("udp")}
	ann := joinWithOptions(ctx, t, browsertest.KindChromium, line.url(srv.pageURL(meeting, meeting.fragment())), "Ann", preload)
	fay := joinWithOptions(ctx, t, browsertest.KindFirefox, srv.pageURL(meeting, meeting.fragment()), "Fay", preload)
	waitSameColour(ctx, t, ann, fay, "camera")
	waitSameColour(ctx, t, fay, ann, "camera")

	line.cut(5 * time.Second)
	seesReconnecting(ctx, t, fay, ann)
	backInMeeting(ctx, t, ann, fay, "participant")
	waitSameColour(ctx, t, fay, ann, "camera")
	waitSameColour(ctx, t, ann, fay, "camera")

	var conns []struct {
		State string `json:"state"`
		Pairs []struct {
			Local string `json:"local"`
		} `json:"pairs"`
	}
	if err := ann.tab.Eval(ctx, `window.relayTest.selected()`, &conns); err != nil {
		t.Fatal(err)
	}
	connected := 0
	for _, c := range conns {
		if c.State != "connected" {
			continue
		}
		connected++
		for _, pair := range c.Pairs {
			if pair.Local != "relay" {
				t.Fatalf("Ann after her resume: a selected pair is not relayed: %+v", conns)
			}
		}
	}
	if connected < 2 {
		t.Fatalf("Ann after her resume: %d connected peer connections: %+v", connected, conns)
	}
}
