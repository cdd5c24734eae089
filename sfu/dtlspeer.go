package sfu

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	dtlsfp "github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/logging"
	"github.com/pion/srtp/v3"
	"github.com/pion/transport/v5/deadline"
)

// dtlsPeer runs the DTLS handshake (RFC 5764, DTLS-SRTP) of a connection whose ICE the
// server runs itself (icelite.go), over the datagrams the media socket's reader hands
// it, and derives the connection's SRTP keys from it, in either role. Pion's
// DTLSTransport does the same behind a PeerConnection and keeps the connection, its
// two goroutines and its buffers for as long as the connection lives; here the keys
// are all the server needs, so once they are known and the peer has had time to get
// the last flight (it retransmits its own until it does), the reads end, the
// handshake's goroutines with them, and the connection is dropped.
//
// dtlsPeer is the net.PacketConn pion/dtls reads and writes: reads come from deliver,
// writes go through send to wherever the peer is now (its selected path, or before
// the selection the newest that answered the server: iceLite.dst).
type dtlsPeer struct {
	in    chan []byte // copies of the peer's datagrams; when full, one is dropped (DTLS retransmits)
	send  func(b []byte) error
	local net.Addr

	read     *deadline.Deadline
	done     chan struct{} // closed by stop: reads end with net.ErrClosed
	stopOnce sync.Once
	// conn is the handshake's connection, closed by stop: pion/dtls's read loop hands
	// a record of application data (or an alert) to a reader of the connection, and
	// nobody reads it, so from the second such record a peer sent the loop waits for
	// the connection's close, not for the next read, and a failed read never ends it.
	conn atomic.Pointer[dtls.Conn]
	// reads counts the datagrams pion/dtls read (for the tests: what it has seen).
	reads atomic.Uint64
	// stopWait stops the wait that would stop the peer (stopAfter), under waitMu: stop
	// calls it, so a peer stopped sooner leaves no wait on the engine's clock. done is
	// closed under waitMu too, after the wait is stopped.
	waitMu   sync.Mutex
	stopWait func() bool
}

// dtlsQueue is how many of the peer's datagrams may wait for the handshake: a flight
// is a few datagrams.
const dtlsQueue = 8

// dtlsRecord tells DTLS from RTP, RTCP and STUN on one socket (RFC 7983: a first byte
// of 20–63).
func dtlsRecord(b []byte) bool { return len(b) > 0 && b[0] >= 20 && b[0] <= 63 }

func newDTLSPeer(local net.Addr, send func([]byte) error) *dtlsPeer {
	return &dtlsPeer{in: make(chan []byte, dtlsQueue), send: send, local: local, read: deadline.New(), done: make(chan struct{})}
}

// errNoPath: the peer has not been reached yet; a write is dropped as a network
// would (DTLS sends it again).
var errNoPath = errors.New("sfu: no path to the peer yet")

// dtlsRemote is the address pion/dtls is told the peer has: the path may change
// under it (a nomination, ICE-TCP), which the writes follow.
var dtlsRemote = &net.UDPAddr{IP: net.IPv4zero, Port: 9}

// deliver hands the peer a datagram read from an address it answered from; it never
// waits (the socket's reader calls it).
func (d *dtlsPeer) deliver(b []byte) {
	select {
	case <-d.done:
		return
	default:
	}
	select {
	case d.in <- append([]byte(nil), b...):
	default:
		return
	}
	select {
	case <-d.done: // stopped meanwhile: what stop emptied stays empty
		d.drain()
	default:
	}
}

// drain drops the datagrams still queued: after stop nobody reads them, and the peer
// lives as long as its subscriber (a peer that keeps sending records would otherwise
// park dtlsQueue copies of them there).
func (d *dtlsPeer) drain() {
	for {
		select {
		case <-d.in:
		default:
			return
		}
	}
}

// stop ends the reads and closes the connection: the handshake's goroutines leave,
// and later datagrams are dropped. The close runs on a goroutine of its own: it waits
// for pion/dtls's loops, and the socket's reader calls stop (rtcpSeen). The peer
// lets go of the connection: it holds the handshake's flights, certificates and
// ciphers (about 10 KB), and the peer lives as long as the subscriber.
func (d *dtlsPeer) stop() {
	d.stopOnce.Do(func() {
		// The wait is stopped before done is closed, so that whoever sees the reads
		// ended knows no wait is left (a test's verdict without a bound on its time).
		// Its stop is the clock's, which takes a lock of its own and waits for nothing.
		d.waitMu.Lock()
		if d.stopWait != nil {
			d.stopWait()
			d.stopWait = nil
		}
		close(d.done)
		d.waitMu.Unlock()
		d.closeConn()
		d.drain()
	})
}

// stopAfter stops the peer once after has passed on the clock that arm's waits run on
// (the engine's after), unless it is stopped sooner: then stop stops that wait too,
// which would otherwise be kept for the whole of after, holding the peer.
func (d *dtlsPeer) stopAfter(after time.Duration, arm func(time.Duration, func()) func() bool) {
	stopWait := arm(after, d.stop)
	d.waitMu.Lock()
	defer d.waitMu.Unlock()
	select {
	case <-d.done: // stopped before the wait was kept: nobody else stops it
		stopWait()
	default:
		d.stopWait = stopWait
	}
}

// closeConn closes the connection once and drops it.
func (d *dtlsPeer) closeConn() {
	if c := d.conn.Swap(nil); c != nil {
		go c.Close() //nolint:errcheck // the close alert cannot go out any more
	}
}

// errDTLSFingerprint: the peer's certificate is not the one its answer named.
var errDTLSFingerprint = errors.New("sfu: the peer's DTLS certificate does not match its fingerprint")

// handshake runs the handshake as the DTLS client or server with cert, accepting only
// a peer certificate with one of the fingerprints ("sha-256" → "AB:CD:…") of its
// answer, and returns the connection's SRTP keys: the local ones are the server's
// own. It leaves the peer reading, for the peer's retransmissions; stop ends that.
func (d *dtlsPeer) handshake(ctx context.Context, client bool, cert tls.Certificate, fingerprints map[string]string, logs logging.LoggerFactory) (srtp.SessionKeys, srtp.ProtectionProfile, error) {
	opts := []dtls.Option{
		dtls.WithCertificates(cert),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
		// The certificate is self-signed; what vouches for it is its fingerprint in
		// the answer, which came over the member's authenticated signaling.
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyFingerprint(raw, fingerprints)
		}),
		dtls.WithLoggerFactory(logs),
	}
	var (
		conn *dtls.Conn
		err  error
	)
	raddr := dtlsRemote
	if client {
		copts := make([]dtls.ClientOption, len(opts))
		for i, o := range opts {
			copts[i] = o
		}
		conn, err = dtls.ClientWithOptions(d, raddr, copts...)
	} else {
		sopts := make([]dtls.ServerOption, 0, len(opts)+2)
		for _, o := range opts {
			sopts = append(sopts, o)
		}
		// ICE proved the peer's address before DTLS starts (newSubscribeConnection),
		// so the cookie round trip goes.
		sopts = append(sopts, dtls.WithClientAuth(dtls.RequireAnyClientCert), dtls.WithInsecureSkipVerifyHello(true))
		conn, err = dtls.ServerWithOptions(d, raddr, sopts...)
	}
	if err != nil {
		return srtp.SessionKeys{}, 0, err
	}
	d.conn.Store(conn)
	select {
	case <-d.done: // stopped before the connection was there to close
		d.closeConn()
	default:
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		d.stop()
		return srtp.SessionKeys{}, 0, err
	}
	state, ok := conn.ConnectionState()
	id, ok2 := conn.SelectedSRTPProtectionProfile()
	if !ok || !ok2 {
		d.stop()
		return srtp.SessionKeys{}, 0, errKeysIncomplete
	}
	profile := srtp.ProtectionProfile(id)
	cfg := srtp.Config{Profile: profile}
	// The server's keys are the local ones whichever role it took.
	if err := cfg.ExtractSessionKeysFromDTLS(&state, client); err != nil {
		d.stop()
		return srtp.SessionKeys{}, 0, err
	}
	return cfg.Keys, profile, nil
}

// verifyFingerprint accepts the peer's certificate when one of the answer's
// fingerprints is its own.
func verifyFingerprint(raw [][]byte, fingerprints map[string]string) error {
	if len(raw) == 0 {
		return errDTLSFingerprint
	}
	cert, err := x509.ParseCertificate(raw[0])
	if err != nil {
		return err
	}
	for alg, want := range fingerprints {
		h, err := dtlsfp.HashFromString(alg)
		if err != nil {
			continue
		}
		got, err := dtlsfp.Fingerprint(cert, h)
		if err == nil && strings.EqualFold(got, want) {
			return nil
		}
	}
	return errDTLSFingerprint
}

// ReadFrom gives pion/dtls the peer's next datagram.
func (d *dtlsPeer) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case <-d.done: // first: after stop, queued datagrams are not read
		return 0, nil, net.ErrClosed
	default:
	}
	select {
	case <-d.done:
		return 0, nil, net.ErrClosed
	case <-d.read.Done():
		return 0, nil, os.ErrDeadlineExceeded
	case b := <-d.in:
		d.reads.Add(1)
		return copy(p, b), dtlsRemote, nil
	}
}

// WriteTo sends to the peer's present path; with none yet, the datagram is dropped as
// a network would.
func (d *dtlsPeer) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-d.done:
		return 0, net.ErrClosed
	default:
	}
	if err := d.send(p); err != nil && !errors.Is(err, errNoPath) {
		return 0, err
	}
	return len(p), nil
}

// Close is pion/dtls closing its connection: the reads end.
func (d *dtlsPeer) Close() error { d.stop(); return nil }

func (d *dtlsPeer) LocalAddr() net.Addr { return d.local }

func (d *dtlsPeer) SetDeadline(t time.Time) error { return d.SetReadDeadline(t) }

func (d *dtlsPeer) SetReadDeadline(t time.Time) error { d.read.Set(t); return nil }

// SetWriteDeadline: writes never wait.
func (d *dtlsPeer) SetWriteDeadline(time.Time) error { return nil }
