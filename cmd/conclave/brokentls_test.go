package main

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// brokenTLSHandshakes sends, from the person's address, TLS 1.3 ClientHellos that an
// OpenSSL server refuses for reasons nginx does not count among the clients' usual
// ones, and so logs at crit with the client's address (nginx 1.22 with OpenSSL 3.0,
// measured): an X25519 key share of zeros ("bad key share"), one of 31 bytes ("bad
// ecpoint"), a server name with a NUL and a malformed list of groups ("bad
// extension"). Each is answered with an alert and the connection closed, which nginx
// does after it has logged the failure.
func brokenTLSHandshakes(t *testing.T, addr string) {
	t.Helper()
	hello := tls13ClientHello(t)
	zeros := append([]byte{0, 36, 0x00, 0x1d, 0, 32}, make([]byte, 32)...)
	short := append([]byte{0, 35, 0x00, 0x1d, 0, 31}, bytes.Repeat([]byte{9}, 31)...)
	for _, c := range []struct {
		what string
		ext  uint16
		body []byte
	}{
		{"an X25519 key share of zeros", 0x0033, zeros},
		{"an X25519 key share of 31 bytes", 0x0033, short},
		{"a server name with a NUL", 0x0000, []byte{0, 6, 0, 0, 3, 'a', 0, 'b'}},
		{"a list of groups of odd length", 0x000a, []byte{0, 3, 0x00, 0x1d, 7}},
	} {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: proxiedPerson}}
		conn, err := dialer.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(conntest.Wait)) // a bound on hanging, not a verdict
		if _, err := conn.Write(withHelloExtension(t, hello, c.ext, c.body)); err != nil {
			t.Fatal(err)
		}
		answer, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || len(answer) == 0 || answer[0] != 0x15 {
			t.Fatalf("a ClientHello with %s: answered %x (%v), want an alert and the connection closed", c.what, answer, err)
		}
	}
}

// tls13ClientHello is the record of a TLS 1.3 ClientHello of crypto/tls that offers
// X25519 alone, as written to a connection that answers nothing.
func tls13ClientHello(t *testing.T) []byte {
	t.Helper()
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		tc := tls.Client(client, &tls.Config{ServerName: "meet.example.org", MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}})
		_ = tc.Handshake() // ends when server closes
	}()
	_ = server.SetReadDeadline(time.Now().Add(conntest.Wait))
	header := make([]byte, 5)
	if _, err := io.ReadFull(server, header); err != nil {
		t.Fatal(err)
	}
	record := make([]byte, 5+int(binary.BigEndian.Uint16(header[3:])))
	copy(record, header)
	if _, err := io.ReadFull(server, record[5:]); err != nil {
		t.Fatal(err)
	}
	return record
}

// withHelloExtension returns the ClientHello record hello with the body of its
// extension ext replaced, and its lengths made to fit.
func withHelloExtension(t *testing.T, hello []byte, ext uint16, body []byte) []byte {
	t.Helper()
	msg := hello[5+4:] // after the record's and the handshake message's headers
	p := 2 + 32        // version, random
	p += 1 + int(msg[p])
	p += 2 + int(binary.BigEndian.Uint16(msg[p:]))
	p += 1 + int(msg[p])
	exts := msg[p+2:]
	var out []byte
	found := false
	for len(exts) >= 4 {
		typ, n := binary.BigEndian.Uint16(exts), int(binary.BigEndian.Uint16(exts[2:]))
		b := exts[4 : 4+n]
		if typ == ext {
			b, found = body, true
		}
		out = binary.BigEndian.AppendUint16(out, typ)
		out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
		out = append(out, b...)
		exts = exts[4+n:]
	}
	if !found {
		t.Fatalf("the ClientHello has no extension %#04x to replace", ext)
	}
	m := append([]byte{}, msg[:p]...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(out)))
	m = append(m, out...)
	rec := []byte{hello[0], hello[1], hello[2], 0, 0, hello[5], byte(len(m) >> 16), byte(len(m) >> 8), byte(len(m))}
	binary.BigEndian.PutUint16(rec[3:], uint16(4+len(m)))
	return append(rec, m...)
}
