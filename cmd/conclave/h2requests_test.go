package main

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// blurRuntime is the largest asset the web port serves, some 5.7 MB.
const blurRuntime = "/static/vendor/selfie-segmentation/selfie_segmentation_solution_simd_wasm_bin.wasm"

// h2Window is the window the tests' clients grant each stream: a stream whose handler
// runs gets that much of the blur runtime and then waits for more, for as long as the
// client likes (httpWriteWait).
const h2Window = 16 << 10

// h2Answers opens HTTP/2 on conn, asks for path n times at once (streams 1, 3, …) with a
// window of h2Window a stream and a large one for the connection, and reads until each
// request has either been answered in full (running false: the refusal's few bytes) or
// has got its window's worth and waits for more (running true: its handler runs).
func h2Answers(t *testing.T, conn net.Conn, authority, path string, n int) (running int) {
	t.Helper()
	_, running = h2Ask(t, conn, authority, path, n)
	return running
}

// h2Ask is h2Answers, and returns the TLS connection over conn as well, to send more on.
func h2Ask(t *testing.T, conn net.Conn, authority, path string, n int) (c *tls.Conn, running int) {
	t.Helper()
	c = tls.Client(conn, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) // a test's own certificate
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(conntest.Wait)) // a bound on hanging, not a verdict
	settings := make([]byte, 6)
	binary.BigEndian.PutUint16(settings, h2SettingInitialWindowSize)
	binary.BigEndian.PutUint32(settings[2:], h2Window)
	window := make([]byte, 4)
	binary.BigEndian.PutUint32(window, 1<<30)
	out := append([]byte(h2Preface), h2Frame(h2Settings, 0, 0, settings)...)
	out = append(out, h2Frame(h2Settings, h2FlagAck, 0, nil)...)
	out = append(out, h2Frame(h2WindowUpdate, 0, 0, window)...)
	for i := range n {
		out = append(out, h2Frame(h2Headers, h2FlagEndHeaders|h2FlagEndStream, uint32(2*i+1), h2GetOf(authority, path))...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	got := map[uint32]int{} // bytes of each stream's body
	done := map[uint32]bool{}
	for len(done) < n {
		typ, flags, stream, payload, err := readH2Frame(r)
		if err != nil {
			t.Fatalf("after %d of %d answers: %v", len(done), n, err)
			return nil, 0
		}
		switch typ {
		case h2RSTStream, h2GoAway:
			t.Fatalf("stream %d: frame type %d %x", stream, typ, payload)
		case h2Headers, h2Data:
			if done[stream] {
				continue
			}
			if typ == h2Data {
				got[stream] += len(payload)
			}
			if flags&h2FlagEndStream != 0 {
				done[stream] = true
			} else if got[stream] >= h2Window {
				done[stream] = true
				running++
			}
		}
	}
	return c, running
}

// TestH2RequestsInFlightAreBoundedPerAddress: from one address HTTP/2 runs as many
// requests at once as the browsers its bound of connections lets in over HTTP/1.1 (at
// most browserConnsPerHost connections each) may ask for on their one HTTP/2
// connection each: with -max-conns-per-addr 3, 12 connections, two browsers, and each
// asks for the blur runtime h2MaxStreams times at once, granting each answer a small
// window and reading no further; both are served in full. A third connection's
// requests are answered at once (503). Someone at another address is served meanwhile,
// and the address is served again once a connection of it is gone.
func TestH2RequestsInFlightAreBoundedPerAddress(t *testing.T) {
	const perAddr = 3 // -max-conns-per-addr: the web port holds 12 connections from one address
	const browsers = 4 * perAddr / browserConnsPerHost
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	out := start(t, "-https", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile,
		"-max-conns-per-addr", strconv.Itoa(perAddr)).stdout
	m := regexp.MustCompile(`Open https://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout %q", out)
	}
	addr := m[1]
	var first net.Conn
	for b := range browsers {
		c := conntest.DialFrom(t, "127.0.0.1", addr)
		if b == 0 {
			first = c
		}
		if n := h2Answers(t, c, addr, blurRuntime, h2MaxStreams); n != h2MaxStreams {
			t.Fatalf("browser %d of %d at one address (%d connections over HTTP/1.1): %d of its %d requests run at once on HTTP/2, want all", b+1, browsers, 4*perAddr, n, h2MaxStreams)
		}
	}
	if n := h2Answers(t, conntest.DialFrom(t, "127.0.0.1", addr), addr, blurRuntime, h2MaxStreams); n != 0 {
		t.Fatalf("%d more requests from one address run at once beyond %d browsers' %d, want none", n, browsers, browsers*h2MaxStreams)
	}
	if n := h2Answers(t, conntest.DialFrom(t, "127.0.0.2", addr), addr, blurRuntime, 1); n != 1 {
		t.Fatal("a person at another address was refused the blur runtime while one address held its bound")
	}
	_ = first.Close()
	conntest.Eventually(t, "the address served again after a connection of it closed", func() bool {
		c := conntest.DialFrom(t, "127.0.0.1", addr)
		defer c.Close()
		return h2Answers(t, c, addr, blurRuntime, 1) == 1
	})
}

// TestH2RequestsResetGiveTheirPlacesBack: a browser that cancels its requests (the page
// navigated away: RST_STREAM with CANCEL) while their answers wait for its window, on
// a connection it keeps, gives their places back: once their handlers end, as many
// requests run again from the address as before. A place that stayed taken would
// shrink the address's bound for as long as the server runs.
func TestH2RequestsResetGiveTheirPlacesBack(t *testing.T) {
	const perAddr = 3 // 12 connections, two browsers, 64 requests in flight from one address
	const bound = (4*perAddr + browserConnsPerHost - 1) / browserConnsPerHost * h2MaxStreams
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	out := start(t, "-https", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile,
		"-max-conns-per-addr", strconv.Itoa(perAddr)).stdout
	m := regexp.MustCompile(`Open https://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stdout %q", out)
	}
	addr := m[1]
	var held []*tls.Conn
	for range bound / h2MaxStreams {
		c, n := h2Ask(t, conntest.DialFrom(t, "127.0.0.1", addr), addr, blurRuntime, h2MaxStreams)
		if n != h2MaxStreams {
			t.Fatalf("%d of %d requests run at once, want all", n, h2MaxStreams)
		}
		held = append(held, c)
	}
	var resets []byte
	for i := range h2MaxStreams {
		resets = append(resets, h2Frame(h2RSTStream, 0, uint32(2*i+1), []byte{0, 0, 0, 0x8})...) // CANCEL
	}
	for _, c := range held {
		if _, err := c.Write(resets); err != nil {
			t.Fatal(err)
		}
	}
	// The connections stay open: only the resets can give the places back.
	conntest.Eventually(t, "every place of the requests reset given back", func() bool {
		ran := 0
		for range bound / h2MaxStreams {
			c := conntest.DialFrom(t, "127.0.0.1", addr)
			defer c.Close()
			ran += h2Answers(t, c, addr, blurRuntime, h2MaxStreams)
		}
		return ran == bound
	})
}
