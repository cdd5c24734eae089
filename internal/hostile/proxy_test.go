package hostile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"conclave/internal/hostile"
)

// backend is a tiny stand-in for the signaling server: a page, and a websocket that
// greets with a welcome naming a fresh participant id and answers every `say` with an
// `e2ee` message from that id. Its upgrader checks the Origin against the Host as the
// real server's does.
func backend(t *testing.T) *httptest.Server {
	t.Helper()
	var n atomic.Int32
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "page for %s", r.Host)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		id := fmt.Sprintf("p-%d", n.Add(1))
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"welcome","payload":{"participantId":"`+id+`"}}`))
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			env, err := hostile.ParseEnvelope(data)
			if err != nil || env.Type != "say" {
				continue
			}
			text, _ := env.PayloadString("data")
			out, _ := json.Marshal(map[string]any{"type": "e2ee", "payload": map[string]string{"from": id, "data": text}})
			_ = ws.WriteMessage(websocket.TextMessage, out)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func start(t *testing.T) (*hostile.Proxy, *httptest.Server) {
	t.Helper()
	srv := backend(t)
	p, err := hostile.Start(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, srv
}

// dial connects a plain websocket client through the proxy, as a page of the proxy's origin.
func dial(t *testing.T, p *hostile.Proxy) *websocket.Conn {
	t.Helper()
	u := strings.Replace(p.URL(), "http://", "ws://", 1) + "/ws"
	ws, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {p.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

func read(t *testing.T, ws *websocket.Conn) hostile.Envelope {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second)) // only a hung test meets it
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	env, err := hostile.ParseEnvelope(data)
	if err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	return env
}

func say(t *testing.T, ws *websocket.Conn, text string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"say","payload":{"data":"`+text+`"}}`)); err != nil {
		t.Fatal(err)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestHTTPPassesThrough(t *testing.T) {
	p, srv := start(t)
	resp, err := http.Get(p.URL() + "/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	host := strings.TrimPrefix(p.URL(), "http://")
	if string(body) != "page for "+host {
		t.Fatalf("body %q, want the page for the proxy's host %s", body, host)
	}
	if got := p.Via(srv.URL + "/m/abc?x=1#k=2"); got != p.URL()+"/m/abc?x=1#k=2" {
		t.Fatalf("Via: %q", got)
	}
	if _, err := hostile.Start("ftp://nowhere"); err == nil {
		t.Fatal("a target that is not http:// was taken")
	}
}

func TestRecordsBothWaysAndKnowsTheParticipant(t *testing.T) {
	p, _ := start(t)
	a := dial(t, p)
	if env := read(t, a); env.Type != "welcome" {
		t.Fatalf("first message %q", env.Type)
	}
	say(t, a, "hello")
	if env := read(t, a); env.Type != "e2ee" {
		t.Fatalf("answer %q", env.Type)
	}
	c, ok := p.ConnOf("p-1")
	if !ok || c.ID() != 1 {
		t.Fatalf("ConnOf(p-1) = %v, %v", c, ok)
	}
	var dirs []string
	for _, m := range p.Messages() {
		if m.Conn != 1 || m.Dropped || m.Injected || m.Original != nil {
			t.Fatalf("unexpected %+v", m)
		}
		env, _ := hostile.ParseEnvelope(m.Data)
		dirs = append(dirs, m.Dir.String()+" "+env.Type)
	}
	want := []string{"server→client welcome", "client→server say", "server→client e2ee"}
	if strings.Join(dirs, ",") != strings.Join(want, ",") {
		t.Fatalf("log %v, want %v", dirs, want)
	}
	k, ok := hostile.ParseE2EE(p.Messages()[2].Data)
	if !ok || k.From != "p-1" || k.Data != "hello" {
		t.Fatalf("e2ee %+v", k)
	}
}

func TestDropRewriteInjectReplay(t *testing.T) {
	p, _ := start(t)
	a, b := dial(t, p), dial(t, p)
	// The proxy dials the backend for each client on its own, so which of them the
	// backend numbers first is not fixed: take the ids from the welcomes.
	idA, idB := welcomeID(t, read(t, a)), welcomeID(t, read(t, b))

	// Dropped on the way to the server: no answer comes, the log says so.
	remove := p.Drop(func(m hostile.Message) bool {
		return m.Dir == hostile.ToServer && strings.Contains(string(m.Data), "secret")
	})
	say(t, a, "secret")
	say(t, a, "open")
	if k, _ := hostile.ParseE2EE(mustData(t, read(t, a))); k.Data != "open" {
		t.Fatalf("got %q, want only the message that was not dropped", k.Data)
	}
	remove()
	if len(p.Find(func(m hostile.Message) bool { return m.Dropped })) != 1 {
		t.Fatal("the dropped message is not in the log")
	}

	// Rewritten on the way to the client: b's answer claims to come from p-9.
	remove = p.Rewrite(func(m hostile.Message) ([]byte, bool) {
		env, err := hostile.ParseEnvelope(m.Data)
		if err != nil || m.Dir != hostile.ToClient || env.Type != "e2ee" {
			return nil, false
		}
		return env.With("from", "p-9").Marshal(), true
	})
	say(t, b, "mine")
	k, _ := hostile.ParseE2EE(mustData(t, read(t, b)))
	if k.From != "p-9" || k.Data != "mine" {
		t.Fatalf("rewritten %+v", k)
	}
	remove()
	rw := p.Find(func(m hostile.Message) bool { return m.Original != nil })
	if len(rw) != 1 || !strings.Contains(string(rw[0].Original), `"`+idB+`"`) {
		t.Fatalf("rewrite not logged with its original: %+v", rw)
	}

	// Replayed: a's first answer delivered again, to b.
	first, err := p.Wait(ctx(t), 0, func(m hostile.Message) bool {
		k, ok := hostile.ParseE2EE(m.Data)
		return ok && m.Dir == hostile.ToClient && k.From == idA
	})
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := p.ConnOf(idB)
	if err := p.Replay(first, cb.ID()); err != nil {
		t.Fatal(err)
	}
	if k, _ := hostile.ParseE2EE(mustData(t, read(t, b))); k.From != idA || k.Data != "open" {
		t.Fatalf("replayed %+v", k)
	}

	// Injected towards the server: the server answers it as b's own.
	if err := cb.Inject(hostile.ToServer, []byte(`{"type":"say","payload":{"data":"forged"}}`)); err != nil {
		t.Fatal(err)
	}
	if k, _ := hostile.ParseE2EE(mustData(t, read(t, b))); k.From != idB || k.Data != "forged" {
		t.Fatalf("injected %+v", k)
	}
	if n := len(p.Find(func(m hostile.Message) bool { return m.Injected })); n != 2 {
		t.Fatalf("%d injected messages logged, want 2", n)
	}

	// A closed connection takes no more.
	_ = b.Close()
	select {
	case <-cb.Done():
	case <-ctx(t).Done():
		t.Fatal("the proxy never saw the client close")
	}
	if err := cb.Inject(hostile.ToClient, []byte(`{}`)); err == nil {
		t.Fatal("inject into a closed connection succeeded")
	}
}

func welcomeID(t *testing.T, env hostile.Envelope) string {
	t.Helper()
	id, ok := env.PayloadString("participantId")
	if env.Type != "welcome" || !ok || id == "" {
		t.Fatalf("not a welcome: %+v", env)
	}
	return id
}

func mustData(t *testing.T, env hostile.Envelope) []byte {
	t.Helper()
	b := env.Marshal()
	if b == nil {
		t.Fatal("marshal")
	}
	return b
}

func TestEnvelope(t *testing.T) {
	for _, bad := range []string{``, `[]`, `{}`, `{"type":1}`, `{"type":"x","payload":[1]}`, `{"type":"x","payload":"s"}`} {
		if _, err := hostile.ParseEnvelope([]byte(bad)); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
	env, err := hostile.ParseEnvelope([]byte(`{"type":"e2ee","ref":"r","payload":{"from":"p-1","to":"p-2","data":"{\"v\":1,\"t\":\"key\"}","n":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	again, err := hostile.ParseEnvelope(env.With("from", "p-7").Marshal())
	if err != nil || again.Ref != "r" || again.Payload["n"] != 3.0 {
		t.Fatalf("%+v %v", again, err)
	}
	if env.Payload["from"] != "p-1" {
		t.Fatal("With changed the original")
	}
	k, ok := hostile.ParseE2EE(again.Marshal())
	if !ok || k.From != "p-7" || k.To != "p-2" || k.KeyMessageKind() != "key" {
		t.Fatalf("%+v", k)
	}
}

// FuzzParseEnvelope: whatever comes off a websocket, parsing never panics, and what
// parses writes back to something that parses the same.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{`{"type":"welcome","payload":{"participantId":"p-1"}}`, `{"type":"e2ee","payload":{"from":"a","data":"{}"}}`, `{"type":""}`, `null`, `{"type":"x","payload":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := hostile.ParseEnvelope(data)
		if err != nil {
			return
		}
		again, err := hostile.ParseEnvelope(env.Marshal())
		if err != nil || again.Type != env.Type || len(again.Payload) != len(env.Payload) {
			t.Fatalf("%q: round trip %+v -> %+v (%v)", data, env, again, err)
		}
		_, _ = hostile.ParseE2EE(data)
	})
}
