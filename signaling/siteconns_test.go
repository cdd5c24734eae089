package signaling_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"conclave/internal/conntest"
	"conclave/secret"
	"conclave/signaling"
)

// TestSiteHoldsSiteFactorTimesAnAddressOfWebsockets: the /64s of one IPv6 /48 (one
// customer's network, 65,536 addresses) hold at most secret.SiteFactor times the
// websockets one address may, together; beyond, 429 names the network. Another /48
// and an IPv4 address still connect, and a closed websocket makes room in its site.
// The clients come through a trusted proxy, whose X-Forwarded-For names them: loopback
// has no such addresses. Before, a /48 counted as 65,536 addresses and could take
// every websocket of the server, everyone else refused with 503.
func TestSiteHoldsSiteFactorTimesAnAddressOfWebsockets(t *testing.T) {
	const perAddr = 2
	srv := newTestServerWith(t, signaling.Config{Clock: newClock(), MaxConnsPerAddr: perAddr, MaxConns: 1000, TrustForwardedFor: true})
	dial := func(client string) (*websocket.Conn, int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
		defer cancel()
		ws, resp, err := websocket.DefaultDialer.DialContext(ctx, srv.wsURL, forwardedFor(client))
		if err != nil {
			if resp == nil {
				t.Fatalf("dial as %s: %v", client, err)
			}
			body, _ := io.ReadAll(resp.Body)
			return nil, resp.StatusCode, string(body)
		}
		t.Cleanup(func() { _ = ws.Close() })
		return ws, http.StatusSwitchingProtocols, ""
	}
	var held []*websocket.Conn
	for n := range 3 * secret.SiteFactor { // more /64s of 2001:db8:1::/48 than the site holds
		for range perAddr {
			ws, status, body := dial(fmt.Sprintf("2001:db8:1:%x::1", n))
			switch {
			case ws != nil:
				held = append(held, ws)
			case status != http.StatusTooManyRequests || !strings.Contains(body, "your network"):
				t.Fatalf("a refusal of the /48's websocket: %d %q, want 429 naming the network", status, body)
			}
		}
	}
	if want := secret.SiteFactor * perAddr; len(held) != want {
		t.Fatalf("the /64s of one /48 held %d websockets, want %d (SiteFactor × -max-conns-per-addr)", len(held), want)
	}
	for _, client := range []string{"2001:db8:2::1", "198.51.100.7"} {
		if ws, status, body := dial(client); ws == nil {
			t.Fatalf("%s refused beside a full 2001:db8:1::/48: %d %q", client, status, body)
		}
	}
	_ = held[0].Close()
	conntest.Eventually(t, "a place in the /48 again after one of its websockets closed", func() bool {
		ws, _, _ := dial("2001:db8:1:ff::1")
		return ws != nil
	})
}
