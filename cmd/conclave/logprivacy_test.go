package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"conclave/internal/conntest"
	"conclave/internal/testclient"
)

// TestLogAboveDebugNamesNobody: the server's log, at every level above debug, holds no
// address, name, meeting id, password, chat text or credential after a meeting and the
// things a stranger does to its ports. The server runs (run, the binary's own wiring of
// every package's logger: signaling, sfu, turn, Pion's, net/http's) at -log-level debug,
// so that the test can see that the scenario did reach code that writes the stranger's
// address (at debug); each line's level is its own, so the lines above debug are those a
// server at the default level writes. Everyone comes from 127.0.0.7 (the server listens
// on 127.0.0.1), the media of the Go clients from 127.0.0.1.
func TestLogAboveDebugNamesNobody(t *testing.T) {
	r := start(t, "-log-level", "debug", "-media-tcp", "127.0.0.1:0", "-turn-udp", "127.0.0.1:0", "-turn-tcp", "127.0.0.1:0")
	person := net.IPv4(127, 0, 0, 7)
	from := func(network string) *net.Dialer {
		if network == "udp" {
			return &net.Dialer{LocalAddr: &net.UDPAddr{IP: person}}
		}
		return &net.Dialer{LocalAddr: &net.TCPAddr{IP: person}}
	}
	browser := &http.Client{Transport: &http.Transport{DialContext: from("tcp").DialContext}}
	defer browser.CloseIdleConnections()
	key := regexp.MustCompile(`#host=(\S+)`).FindStringSubmatch(r.stdout)[1]
	const password = "Correct-Horse-Battery-7731"
	post := func(bearer string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, r.url+"api/meetings", strings.NewReader(`{"e2ee":false,"password":"`+password+`","settings":{"lobby":false}}`))
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	post(key + "x").Body.Close() // a wrong host key
	resp := post(key)
	var created struct {
		MeetingID       string `json:"meetingId"`
		ModeratorSecret string `json:"moderatorSecret"`
	}
	err := json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create a meeting: %s %v", resp.Status, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(r.url, "http") + "ws"
	join := func(name, pw string) (*testclient.Client, error) {
		c, err := testclient.DialFrom(ctx, wsURL, person)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c, c.JoinWith(ctx, map[string]any{"version": 1, "meetingId": created.MeetingID, "name": name, "password": pw})
	}
	if _, err := join("Mallory Wrongpass", "guess"); err == nil {
		t.Fatal("a wrong password was let in")
	}
	alice, err := join("Alice Liddell", password)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := join("Bob Builder", password)
	if err != nil {
		t.Fatal(err)
	}
	pubs, err := alice.Publish(ctx, "microphone", "camera")
	if err != nil {
		t.Fatal(err)
	}
	conntest.Eventually(t, "Bob receiving Alice's camera", func() bool {
		for _, p := range pubs {
			_ = p.Send([]byte("a frame"))
		}
		got := bob.Received(alice.ParticipantID, "camera")
		return got != nil && got.Count() >= 5
	})
	const chat = "the chat says pineapple-7731"
	if _, err := alice.Send("chat", map[string]any{"text": chat}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Expect(ctx, "chat"); err != nil {
		t.Fatal(err)
	}

	// A stranger at the media and TURN ports: a STUN check and a DTLS record at the
	// media socket, a STUN frame over ICE-TCP, an allocation at the TURN server with
	// credentials it never gave.
	media := regexp.MustCompile(`Media: UDP (\S+), ICE-TCP (\S+)\n`).FindStringSubmatch(r.stdout)
	turnURL := regexp.MustCompile(`TURN: turn:(\S+)\?transport=udp`).FindStringSubmatch(r.stdout)
	if media == nil || turnURL == nil {
		t.Fatalf("no media or TURN addresses in %q", r.stdout)
	}
	stun := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if c, err := from("udp").Dial("udp", media[1]); err == nil {
		_, _ = c.Write(stun)
		_, _ = c.Write([]byte{0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0})
		c.Close()
	} else {
		t.Fatal(err)
	}
	if c, err := from("tcp").Dial("tcp", media[2]); err == nil {
		_, _ = c.Write(append([]byte{0, byte(len(stun))}, stun...))
		_, _ = c.Read(make([]byte, 1)) // closed by the server
		c.Close()
	} else {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", person.String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	client, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: turnURL[1], TURNServerAddr: turnURL[1],
		Username: fmt.Sprint(time.Now().Add(time.Hour).Unix()) + ":forged", Password: "forged", Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	if relay, err := client.Allocate(); err == nil {
		relay.Close()
		t.Error("the TURN server gave a relay to forged credentials")
	}
	client.Close()
	conn.Close()

	// Everyone leaves by the server's stop.
	r.stop(t)
	lines := strings.Split(r.stderr.String(), "\n")
	var debugNamesThem bool
	secrets := map[string]string{"an address": person.String(), "a meeting id": created.MeetingID, "the host key": key,
		"the moderator secret": created.ModeratorSecret, "the password": password, "the chat": "pineapple",
		"a name": "Liddell", "another name": "Builder", "the refused name": "Mallory", "a participant id": alice.ParticipantID}
	for _, line := range lines {
		if strings.Contains(line, "level=DEBUG") {
			debugNamesThem = debugNamesThem || strings.Contains(line, person.String())
			continue
		}
		for what, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("a line above debug holds %s (%s): %s", what, s, line)
			}
		}
	}
	if !debugNamesThem {
		t.Errorf("no debug line names %s: the scenario did not reach what would log the address\n%s", person, r.stderr.String())
	}
}
