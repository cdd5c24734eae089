// Package e2e runs the whole server (SFU, signaling, web client) against real headless
// browsers: what a person does in a meeting, checked on decoded pixels.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"conclave/internal/browsertest"
	"conclave/internal/freshport"
	"conclave/internal/hostile"
	"conclave/internal/testlog"
	"conclave/secret"
	"conclave/sfu"
	"conclave/signaling"
	"conclave/web"
)

// TestMain: the tests run two at a time (go test's -parallel default on this
// machine class) except the few that measure sound or draw with WebGL, which stay
// sequential and so run first, alone. Two browser tests together keep both cores
// busy (each tab encodes its camera and decodes the others' in software); more
// would only slow each of them down.
func TestMain(m *testing.M) { browsertest.Main(m) }

// startHostile puts the hostile-server proxy (internal/hostile) in front of srv: a
// man in the middle that records, drops, rewrites and injects websocket messages.
func startHostile(t *testing.T, srv *server) *hostile.Proxy {
	t.Helper()
	proxy, err := hostile.Start(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	return proxy
}

// hostileMeeting starts a server with a meeting without a waiting room and the
// hostile-server proxy in front of it, for a test of what a lying server can do; both
// browsers are started.
func hostileMeeting(t *testing.T) (*server, meetingLinks, *hostile.Proxy) {
	t.Helper()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	links := srv.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	return srv, links, startHostile(t, srv)
}

// encryptedMeeting starts a server of the test's own and creates an encrypted meeting
// on it (createMeeting), with both shared browsers launched first, as a test of the two
// browsers begins: the test's context (testContext) is taken after, so that launching
// them does not count against it.
func encryptedMeeting(t *testing.T) (*server, meetingLinks) {
	t.Helper()
	browsertest.Shared(t, browsertest.KindChromium)
	browsertest.Shared(t, browsertest.KindFirefox)
	srv := startServer(t)
	return srv, srv.createMeeting(t)
}

// testContext bounds one browser test. The bound is generous on purpose: a step
// waits as long as the browsers take on a loaded machine, so the verdict never
// depends on the machine's speed; only a hung test meets it.
func testContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 6*time.Minute)
}

type server struct {
	url    string
	client *http.Client // for the API: one that trusts the server's certificate over TLS
	sig    *signaling.Server
	engine *sfu.Engine
	ice    signaling.ICESource // serverOptions.ice's, nil without
}

// startServer wires the server as cmd/conclave does, on loopback only.
func startServer(t *testing.T) *server { return startServerWithTap(t, nil) }

// startServerWithTap is startServer with a tap on every packet the SFU receives.
func startServerWithTap(t *testing.T, tap func(sfu.TapPacket)) *server {
	return startServerWith(t, serverOptions{tap: tap})
}

// serverOptions are the extras of startServerWith.
type serverOptions struct {
	tap func(sfu.TapPacket) // sees every packet the SFU receives
	// ice, when set, makes the ICE servers every welcome carries, given the SFU's media
	// address (the embedded TURN server: turn_test.go).
	ice func(t *testing.T, engine *sfu.Engine) signaling.ICESource
	// notice is the operator's privacy notice.
	notice web.Notice
	// resumeGrace lets a dropped member come back (reconnect_test.go); 0: a drop is a leave.
	resumeGrace time.Duration
	// pageSpeakers turns the SFU's speaker detection off (it is on by default, as the
	// operator's is): the pages then tell who speaks from the audio themselves.
	pageSpeakers bool
	// tls serves the pages, the API and the websocket over HTTPS only (httptest's
	// certificate for 127.0.0.1, which the shared browsers accept: browsertest doc).
	tls bool
	// bandwidth turns the subscribers' bandwidth estimation on (the operator's default;
	// downlink_test.go). Off elsewhere: with browsers and a server under -race on two
	// cores the machine itself is the bottleneck often enough that packets queue or
	// are dropped on their way into a tab, the estimate falls and layers go, which
	// tests about something else must not depend on.
	bandwidth bool
}

// startServerWith is startServer with options.
func startServerWith(t *testing.T, o serverOptions) *server {
	t.Helper()
	log := testlog.New(t)
	engine, err := sfu.NewEngine(sfu.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Loopback: true, Logger: log, Tap: o.tap, SpeakerDetection: !o.pageSpeakers,
		NoBandwidthEstimation: !o.bandwidth})
	if err != nil {
		t.Fatal(err)
	}
	var ice signaling.ICESource
	if o.ice != nil {
		ice = o.ice(t, engine)
	}
	hasher := secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 4)
	keyHash, err := hasher.Hash(context.Background(), hostSecret)
	if err != nil {
		t.Fatal(err)
	}
	sig := signaling.NewServer(signaling.Config{Engine: engine, Logger: log, Hasher: hasher,
		Hosts: []signaling.Host{{ID: "e2ehost", Name: "e2e", KeyHash: keyHash}}, ICE: ice, ResumeGrace: o.resumeGrace})
	mux := http.NewServeMux()
	sig.Register(mux)
	// A server built for tests: it also serves the test-only hooks (frame hashes,
	// key export), which a test imports into a page with loadTestHooks.
	webClient := web.Handler(web.Options{TestHooks: true, Notice: o.notice})
	mux.Handle("/", webClient)
	mux.Handle(web.NoticePath, webClient)
	var hs *httptest.Server
	if o.tls {
		hs = &httptest.Server{Listener: freshListener(t), Config: &http.Server{Handler: mux}}
		hs.StartTLS()
		t.Cleanup(hs.Close)
	} else {
		hs = freshServer(t, mux) // an origin no earlier test's pages had
	}
	t.Cleanup(func() {
		ctx, cancel := testContext()
		defer cancel()
		_ = sig.Shutdown(ctx)
		hs.Close()
		_ = engine.Close()
	})
	return &server{url: hs.URL, client: hs.Client(), sig: sig, engine: engine, ice: ice}
}

// The e2e host's key is "e2ehost." + hostSecret.
const hostSecret = "ZTJlLXRlc3QtaG9zdC1rZXk"

type meetingLinks struct {
	MeetingID       string `json:"meetingId"`
	URL             string `json:"url"`
	ModeratorURL    string `json:"moderatorUrl"`
	ModeratorSecret string `json:"moderatorSecret"`
	// Key is the meeting's E2EE secret (unpadded base64url) that the creating browser
	// would put into the links' fragment (#k=…); "" for a meeting without E2EE. The
	// server never sees it.
	Key string `json:"-"`
}

// newMeetingKey makes a random 16-byte meeting secret, as the landing page does.
func newMeetingKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// fragment is the participant link's fragment: "k=<key>", or "" without E2EE.
func (m meetingLinks) fragment() string {
	if m.Key == "" {
		return ""
	}
	return "k=" + m.Key
}

// moderatorFragment is the moderator link's fragment: "k=<key>&mod=<secret>".
func (m meetingLinks) moderatorFragment() string {
	mod := "mod=" + m.ModeratorSecret
	if m.ModeratorSecret == "" {
		mod = fragmentOf(m.ModeratorURL)
	}
	if m.Key == "" {
		return mod
	}
	return "k=" + m.Key + "&" + mod
}

// pageURL is the meeting page with a fragment (e.g. "k=…&mod=…"). A name never goes
// into a URL: the tests type it into the pre-join screen (knock).
func (s *server) pageURL(m meetingLinks, fragment string) string {
	return s.pageURLWith(m, "", fragment)
}

// pageURLWith is pageURL with a query of the page's hooks (page-hooks.js: "camera=0",
// "mic=0"), or none for "".
func (s *server) pageURLWith(m meetingLinks, query, fragment string) string {
	u := fmt.Sprintf("%s/m/%s", s.url, m.MeetingID)
	if query != "" {
		u += "?" + query
	}
	if fragment != "" {
		u += "#" + fragment
	}
	return u
}

// cameraOffURL is pageURL with the camera off from the start (?camera=0, page-hooks.js),
// for a participant whose picture no check looks at: an open meeting tab's camera is
// encoded, encrypted and sent, and decoded and drawn by every other tab, for as long as
// the tab is open (a Firefox tab's camera was about half of what the tab costs), and the
// browser suite is short of CPU. The microphone stays on: the participant still
// publishes.
func (s *server) cameraOffURL(m meetingLinks, fragment string) string {
	return s.pageURLWith(m, "camera=0", fragment)
}

// createMeeting makes an end-to-end encrypted meeting without a waiting room where
// anyone may share a screen.
func (s *server) createMeeting(t *testing.T) meetingLinks {
	return s.createMeetingWith(t, `{"settings":{"lobby":false,"screenShare":true}}`)
}

// createMeetingWith makes a meeting over the API as the e2e host. Unless the body
// says "e2ee": false, the meeting is end-to-end encrypted and gets a Key, as the
// landing page would make it.
func (s *server) createMeetingWith(t *testing.T, body string) meetingLinks {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/meetings", strings.NewReader(body))
	req.Close = true
	req.Header.Set("Authorization", "Bearer e2ehost."+hostSecret)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create meeting: %s", resp.Status)
	}
	var out meetingLinks
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var req2 struct {
		E2EE *bool `json:"e2ee"`
	}
	if err := json.Unmarshal([]byte(body), &req2); err != nil {
		t.Fatalf("create meeting: body %s: %v", body, err)
	}
	if req2.E2EE == nil || *req2.E2EE {
		out.Key = newMeetingKey(t)
	}
	return out
}

func tileSel(id, source string) string {
	return fmt.Sprintf(`.tile[data-participant-id="%s"][data-source="%s"] video`, id, source)
}

// waitSameColour polls until the receiver's tile of sender's source shows a real picture
// of the colour the sender's own preview shows at the same moment: the decoded pixels
// are the sender's camera, not a grey or black frame.
func waitSameColour(ctx context.Context, t *testing.T, recv, send *participant, source string) {
	t.Helper()
	selfSel := fmt.Sprintf(`.tile[data-self="true"][data-source="%s"] video`, source)
	// The last samples that worked and the last error: a failure names them, not the
	// zero values of a sample that met the deadline (one CI failure said only that
	// the sender's Firefox did not answer in time).
	var got, want browsertest.VideoColor
	var lastErr error
	sample := func(tab browsertest.Tab, sel string, into *browsertest.VideoColor) bool {
		// A sample is bounded on its own: one evaluation the browser is slow to answer
		// must not take the whole test's time.
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, err := browsertest.SampleVideo(sctx, tab, sel)
		if err != nil {
			if ctx.Err() == nil {
				lastErr = err
			}
			return false
		}
		*into = c
		return true
	}
	for {
		okGot := sample(recv.tab, tileSel(send.id, source), &got)
		okWant := sample(send.tab, selfSel, &want)
		if okGot && okWant && got.HasPicture() && want.HasPicture() && got.Brightness() > 20 && got.Distance(want) < 45 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never showed %s's %s: last received %v, last sender's preview %v (last error: %v)", recv.name, send.name, source, got, want, lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freshServer serves h on a port no earlier test of this process had (freshport),
// closed when the test ends.
func freshServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv, err := freshport.NewServer(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// freshListener listens on 127.0.0.1 on a port no earlier test of this process had
// (freshport): every listener a test's pages load from, so that the shared browsers'
// storage of one test's origin is never another's.
func freshListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := freshport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
