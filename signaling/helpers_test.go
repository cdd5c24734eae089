package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"conclave/internal/conntest"
	"conclave/internal/fakeclock"
	"conclave/internal/testclient"
	"conclave/internal/testlog"
	"conclave/secret"
	"conclave/sfu"
	"conclave/signaling"
)

type testServer struct {
	sig    *signaling.Server
	http   *httptest.Server
	wsURL  string
	engine *sfu.Engine // the server's SFU

	bookOnce sync.Once
	book     *testclient.KnockBook // who knocked under which nonce (knockerName)
}

// newTestServer runs a real server (SFU on loopback UDP and TCP) on 127.0.0.1:0.
func newTestServer(t testing.TB) *testServer {
	t.Helper()
	return newTestServerWith(t, signaling.Config{})
}

// newTestServerWith is newTestServer with some of the server's settings. The SFU
// runs without the subscribers' bandwidth estimation (the operator's default is on):
// these tests are about something else, and with the server and several clients in
// one process under -race on a busy machine, the process itself is often the
// bottleneck: packets queue or drop on their way in, estimates fall and video pauses.
// The tests of the estimate (downlink_test.go, sfu's) turn it on.
func newTestServerWith(t testing.TB, cfg signaling.Config) *testServer {
	t.Helper()
	return newTestServerOn(t, cfg, sfu.Config{NoBandwidthEstimation: true})
}

// newTestServerOn is newTestServerWith with some of the SFU's settings too (its
// addresses, loopback and logger are the test's).
func newTestServerOn(t testing.TB, cfg signaling.Config, ecfg sfu.Config) *testServer {
	t.Helper()
	return newTestServerWrapped(t, cfg, ecfg, nil)
}

// newTestServerWrapped is newTestServerOn whose HTTP listener is wrap's (nil: as it is),
// for tests that need to see or shape the server's side of its connections.
func newTestServerWrapped(t testing.TB, cfg signaling.Config, ecfg sfu.Config, wrap func(net.Listener) net.Listener) *testServer {
	t.Helper()
	log := testlog.New(t)
	ecfg.UDPAddr, ecfg.TCPAddr, ecfg.Loopback, ecfg.Logger = "127.0.0.1:0", "127.0.0.1:0", true, log
	engine, err := sfu.NewEngine(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Engine, cfg.Logger = engine, log
	if cfg.Hasher == nil {
		cfg.Hasher = testHasher
	}
	cfg.Hosts = append(cfg.Hosts, testHost(t))
	sig := signaling.NewServer(cfg)
	mux := http.NewServeMux()
	sig.Register(mux)
	hs := httptest.NewUnstartedServer(mux)
	if wrap != nil {
		hs.Listener = wrap(hs.Listener)
	}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sig.Shutdown(ctx)
		hs.Close()
		_ = engine.Close()
	})
	return &testServer{sig: sig, http: hs, wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", engine: engine}
}

// createMeeting makes a meeting without a waiting room over the HTTP API, for tests
// about media and protocol rather than admission.
func (s *testServer) createMeeting(t testing.TB) string {
	t.Helper()
	m := s.createMeetingWith(t, `{"settings":{"lobby":false}}`)
	return m.MeetingID
}

type createdMeeting struct {
	MeetingID       string `json:"meetingId"`
	ModeratorSecret string `json:"moderatorSecret"`
	URL             string `json:"url"`
	ModeratorURL    string `json:"moderatorUrl"`
}

// createMeetingWith makes a meeting with the given request body, as the test host.
func (s *testServer) createMeetingWith(t testing.TB, body string) createdMeeting {
	t.Helper()
	resp, err := s.post(body, "Bearer "+testHostKey)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create meeting: %s", resp.Status)
	}
	var out createdMeeting
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// post sends POST /api/meetings with an Authorization header.
func (s *testServer) post(body, auth string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, s.http.URL+"/api/meetings", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Close = true // no idle keep-alive connection outlives the call
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return http.DefaultClient.Do(req)
}

// Tests hash with cheap argon2id parameters: the code path is the real one.
var (
	testHasher  = secret.NewHasher(secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}, 4)
	testHostKey = "testhost." + "c2VjcmV0LWZvci10ZXN0cy1vbmx5"
)

// testHost is the host whose key is testHostKey.
func testHost(t testing.TB) signaling.Host {
	t.Helper()
	return signaling.Host{ID: "testhost", Name: "test", KeyHash: secret.KeyedHash(strings.TrimPrefix(testHostKey, "testhost."))}
}

func (s *testServer) dial(t testing.TB) *testclient.Client {
	t.Helper()
	return s.dialFrom(t, nil)
}

// dialFrom is dial from another loopback address (nil: the default one), so that a test
// can stand for clients on different machines.
func (s *testServer) dialFrom(t testing.TB, local net.IP) *testclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	c, err := testclient.DialFrom(ctx, s.wsURL, local)
	if err != nil {
		t.Fatal(err)
	}
	c.UseKnockBook(s.knockBook())
	t.Cleanup(c.Close)
	return c
}

// knockBook is the book the server's clients record their knocks in (knockerName).
func (s *testServer) knockBook() *testclient.KnockBook {
	s.bookOnce.Do(func() { s.book = testclient.NewKnockBook() })
	return s.book
}

func (s *testServer) join(t testing.TB, meeting, name string) *testclient.Client {
	t.Helper()
	c := s.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	if err := c.Join(ctx, meeting, name); err != nil {
		t.Fatalf("%s join: %v", name, err)
	}
	return c
}

// expectError waits for an error message and returns its code and ref.
func expectError(t testing.TB, c *testclient.Client) (code, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	m, err := c.Expect(ctx, "error")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p.Code, m.Ref
}

// newFakeClock is a clock that moves only when the test advances it.
func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

// settled returns once each of cs has received everything the server sent it for what
// the test saw answered before: what was queued for it directly (under the meeting's
// lock, before the answer that the test saw), and what its own session sent carrying
// out an event handed to it meanwhile (an admission, a refusal, a removal, a
// moderator's media command). It waits until no session holds an event it has not
// taken, and then syncs on each of cs with a ping (Client.Sync). A client whose
// connection has closed has received all it will. Messages that came before a pong are
// taken from that client's inbox: read them with All.
func settled(t testing.TB, srv *testServer, cs ...*testclient.Client) {
	t.Helper()
	conntest.Eventually(t, "every event handed to a session taken", func() bool { return signaling.EventsQueued(srv.sig) == 0 })
	for _, c := range cs {
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		_, err := c.Sync(ctx)
		if err != nil && !errors.Is(err, testclient.ErrNotPong) {
			select { // the connection is going: it has received all it will once it has gone
			case <-c.Done():
				err = nil
			case <-ctx.Done():
			}
		}
		cancel()
		if err != nil {
			t.Fatalf("syncing on a client: %v", err)
		}
	}
}
