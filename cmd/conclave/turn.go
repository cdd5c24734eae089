package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"conclave/sfu"
	"conclave/signaling"
	"conclave/turn"
)

// turnOptions configure the embedded TURN server; with no listen address it is off.
type turnOptions struct {
	udp, tcp, tls string
	cert, key     string
	publicIP      string
	host          string
	ttl           time.Duration
}

func (t *turnOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&t.udp, "turn-udp", "", "embedded TURN server's UDP address, e.g. :3478; empty is off")
	fs.StringVar(&t.tcp, "turn-tcp", "", "embedded TURN server's TCP address, e.g. :3478; empty is off")
	fs.StringVar(&t.tls, "turn-tls", "", "embedded TURN server's TLS address, e.g. :5349 (needs -turn-cert and -turn-key); empty is off")
	fs.StringVar(&t.cert, "turn-cert", "", "certificate file (PEM) for -turn-tls")
	fs.StringVar(&t.key, "turn-key", "", "private key file (PEM) for -turn-tls")
	fs.StringVar(&t.publicIP, "turn-public-ip", "", "the address browsers reach the TURN server and its relays at; default the first -public-ip, else the TURN listen address")
	fs.StringVar(&t.host, "turn-host", "", "host name in the turn: URLs given to browsers (the certificate's name for -turn-tls); default the TURN public address")
	fs.DurationVar(&t.ttl, "turn-ttl", turn.DefaultTTL, "how long TURN credentials handed out in a welcome can open a relay")
}

func (t turnOptions) enabled() bool { return t.udp != "" || t.tcp != "" || t.tls != "" }

// check validates what can be checked before anything is opened.
func (t turnOptions) check() error {
	if !t.enabled() {
		return nil
	}
	if t.ttl <= 0 {
		return errors.New("-turn-ttl must be positive")
	}
	if t.tls != "" && (t.cert == "" || t.key == "") {
		return errors.New("-turn-tls needs -turn-cert and -turn-key")
	}
	if t.publicIP != "" {
		if _, err := netip.ParseAddr(t.publicIP); err != nil {
			return fmt.Errorf("-turn-public-ip: %w", err)
		}
	}
	return nil
}

// startTURN starts the TURN server whose relay reaches only the SFU's media UDP
// socket (at each of the SFU's own addresses), and takes the SFU's packets in memory
// (turn.Config.LocalRelay). It returns nil when TURN is off.
func startTURN(t turnOptions, engine *sfu.Engine, publicIPs []string, loopback bool, log *slog.Logger) (*turn.Server, error) {
	if !t.enabled() {
		return nil, nil
	}
	relayIP, err := turnRelayIP(t, publicIPs)
	if err != nil {
		return nil, err
	}
	host := t.host
	if host == "" {
		host = relayIP.String()
	}
	peers, err := sfuPeers(engine.UDPAddr(), publicIPs, relayIP, loopback)
	if err != nil {
		return nil, err
	}
	cfg := turn.Config{UDPAddr: t.udp, TCPAddr: t.tcp, TLSAddr: t.tls, Host: host, RelayIP: relayIP, Peers: peers, TTL: t.ttl, Logger: log,
		BatchUDP: sfu.BatchUDP, LocalRelay: engine.AddLocalRelay, RelayUplink: engine.RelayUplink}
	if t.tls != "" {
		cert, err := tls.LoadX509KeyPair(t.cert, t.key)
		if err != nil {
			return nil, fmt.Errorf("-turn-cert/-turn-key: %w", err)
		}
		cfg.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return turn.New(cfg)
}

// turnRelayIP is the address relayed candidates carry: -turn-public-ip, the first
// -public-ip, or the TURN listen address when it names one.
func turnRelayIP(t turnOptions, publicIPs []string) (netip.Addr, error) {
	if t.publicIP != "" {
		return netip.ParseAddr(t.publicIP)
	}
	for _, s := range publicIPs {
		if ip, err := announcedIP(s); err == nil {
			return ip, nil
		}
	}
	for _, a := range []string{t.udp, t.tcp, t.tls} {
		if host, _, err := net.SplitHostPort(a); err == nil {
			if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
				return ip, nil
			}
		}
	}
	return netip.Addr{}, errors.New("TURN needs the address browsers reach it at: set -turn-public-ip (or -public-ip)")
}

// announcedIP is the address a -public-ip entry announces: the entry, or the external
// half of an external/internal pair.
func announcedIP(s string) (netip.Addr, error) {
	ext, _, _ := strings.Cut(s, "/")
	return netip.ParseAddr(ext)
}

// sfuPeers are the SFU's media addresses a relay may send to: its UDP port at the
// announced public addresses and at the addresses it listens on.
func sfuPeers(mediaUDP net.Addr, publicIPs []string, relayIP netip.Addr, loopback bool) ([]netip.AddrPort, error) {
	u, ok := mediaUDP.(*net.UDPAddr)
	if !ok {
		return nil, errors.New("TURN: the media address is not UDP")
	}
	bound := u.AddrPort()
	port := bound.Port()
	bound = netip.AddrPortFrom(bound.Addr().Unmap(), port)
	var ips []netip.Addr
	for _, s := range publicIPs {
		if ip, err := announcedIP(s); err == nil {
			ips = append(ips, ip)
		}
	}
	if !bound.Addr().IsUnspecified() {
		ips = append(ips, bound.Addr())
	} else {
		// The SFU listens on every address; its host candidates are this machine's.
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil, fmt.Errorf("TURN: list interface addresses: %w", err)
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				ips = append(ips, p.Addr())
			}
		}
		ips = append(ips, relayIP)
	}
	var peers []netip.AddrPort
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.IsLoopback() && !loopback || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
			continue
		}
		peers = append(peers, netip.AddrPortFrom(ip, port))
	}
	if len(peers) == 0 {
		return nil, errors.New("TURN: the SFU has no address a relay could reach (with a loopback media address, add -loopback)")
	}
	return peers, nil
}

// turnICE adapts the TURN server to what signaling asks of an ICE source.
type turnICE struct{ srv *turn.Server }

func (t turnICE) ICEServers(now time.Time, member netip.Addr) []signaling.ICEServer {
	var out []signaling.ICEServer
	for _, s := range t.srv.ICEServersFor(now, member) {
		out = append(out, signaling.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// Revoke ends the credentials of a member that is gone: its relays close.
func (t turnICE) Revoke(servers []signaling.ICEServer) {
	for _, s := range servers {
		t.srv.Revoke(s.Username)
	}
}
