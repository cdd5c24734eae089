package main

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestTURNFlags(t *testing.T) {
	none := func(string) string { return "" }
	o, err := parseOptions(nil, none, io.Discard)
	if err != nil || o.turn.enabled() {
		t.Fatalf("TURN on by default (%+v, %v)", o.turn, err)
	}
	if o.turn.ttl != 10*time.Minute {
		t.Fatalf("-turn-ttl default %v", o.turn.ttl)
	}
	o, err = parseOptions(nil, func(k string) string { return map[string]string{"CONCLAVE_TURN_UDP": ":3478"}[k] }, io.Discard)
	if err != nil || o.turn.udp != ":3478" {
		t.Fatalf("CONCLAVE_TURN_UDP: %+v, %v", o.turn, err)
	}
	for _, bad := range [][]string{
		{"-turn-tls", ":5349"},
		{"-turn-tls", ":5349", "-turn-cert", "c.pem"},
		{"-turn-udp", ":3478", "-turn-public-ip", "not-an-ip"},
		{"-turn-udp", ":3478", "-turn-ttl", "0s"},
	} {
		if _, err := parseOptions(bad, none, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestTURNRelayIP(t *testing.T) {
	for _, c := range []struct {
		opts   turnOptions
		public []string
		want   string
	}{
		{turnOptions{udp: ":3478", publicIP: "203.0.113.7"}, []string{"198.51.100.1"}, "203.0.113.7"},
		{turnOptions{udp: ":3478"}, []string{"198.51.100.1"}, "198.51.100.1"},
		{turnOptions{udp: "127.0.0.1:3478"}, nil, "127.0.0.1"},
	} {
		got, err := turnRelayIP(c.opts, c.public)
		if err != nil || got.String() != c.want {
			t.Errorf("turnRelayIP(%+v, %v) = %v, %v; want %s", c.opts, c.public, got, err, c.want)
		}
	}
	if _, err := turnRelayIP(turnOptions{udp: ":3478"}, nil); err == nil || !strings.Contains(err.Error(), "-turn-public-ip") {
		t.Fatalf("no address: %v", err)
	}
}

func TestSFUPeersAreTheMediaPort(t *testing.T) {
	media := &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 10000}
	peers, err := sfuPeers(media, []string{"203.0.113.7"}, netip.MustParseAddr("203.0.113.7"), true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"203.0.113.7:10000": true, "127.0.0.1:10000": true}
	if len(peers) != len(want) {
		t.Fatalf("peers %v", peers)
	}
	for _, p := range peers {
		if !want[p.String()] {
			t.Fatalf("peers %v", peers)
		}
	}
	if _, err := sfuPeers(media, nil, netip.MustParseAddr("127.0.0.1"), false); err == nil {
		t.Fatal("a loopback SFU without -loopback has a relay peer")
	}
	all, err := sfuPeers(&net.UDPAddr{IP: net.IPv4zero, Port: 10000}, nil, netip.MustParseAddr("203.0.113.7"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if p.Port() != 10000 || p.Addr().IsLoopback() {
			t.Fatalf("peer %v", p)
		}
	}
}
