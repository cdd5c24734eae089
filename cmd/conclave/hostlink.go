package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"conclave/e2ee"
	"conclave/signaling"
	"conclave/store"
)

// A host's side of `conclave room -link …`: the host link, and the server's Rooms API
// (signaling/PROTOCOL.md) at its origin, which works whether or not the command runs on
// the server's machine. Nothing here prints or returns the host key or rk in an error.

// hostLink is a parsed host link https://server/#host=<host key>&rk=<room secret>.
type hostLink struct {
	origin  string // scheme://host[:port], where the API and the room links are
	hostKey string
	rk      []byte
}

// errBadLink says what a host link must look like, without echoing it (it holds secrets).
var errBadLink = errors.New("the host link must look like https://server/#host=<host key>&rk=<room secret> (the link the landing page shows to bookmark)")

// parseHostLink reads a host link as the landing page does (rooms-keys.js
// parseHostFragment): the fragment's host and rk, other parts ignored.
func parseHostLink(s string) (hostLink, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return hostLink{}, errBadLink
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		// The host key would cross the network in clear (before any redirect to HTTPS).
		return hostLink{}, fmt.Errorf("%w: http:// only for a server on this machine (localhost); use https://", errBadLink)
	}
	var host, rk string
	for _, part := range strings.Split(u.EscapedFragment(), "&") {
		name, v, ok := strings.Cut(part, "=")
		if !ok || (name != "host" && name != "rk") {
			continue
		}
		if dec, err := url.PathUnescape(v); err == nil {
			v = dec
		}
		if name == "host" {
			host = strings.TrimSpace(v)
		} else {
			rk = strings.TrimSpace(v)
		}
	}
	// The server's own rule for a key's form: a key it would refuse unread (401) is
	// refused here before any request.
	if _, _, ok := signaling.ParseHostKey(host); !ok {
		return hostLink{}, fmt.Errorf("%w: it has no host key (#host=<host id>.<secret>, both base64url)", errBadLink)
	}
	if rk == "" {
		return hostLink{}, fmt.Errorf("%w: it has no room secret (rk); open it in a browser once, and the landing page makes one and shows the full host link to keep", errBadLink)
	}
	root, err := e2ee.ParseRoomSecret(rk)
	if err != nil {
		return hostLink{}, fmt.Errorf("%w: its room secret (rk) is not 43 characters of base64url", errBadLink)
	}
	return hostLink{origin: u.Scheme + "://" + u.Host, hostKey: host, rk: root}, nil
}

// readLinkFile reads a host link from a file ("-": standard input), so that it need not
// stand on a command line (where ps and the shell's history see it).
func readLinkFile(path string, stdin io.Reader) (string, error) {
	data, err := readSmall(path, stdin)
	if err != nil {
		return "", fmt.Errorf("host link: %w", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// readSmall reads at most a few kilobytes of path, or of stdin for "-".
func readSmall(path string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 8<<10+1))
	if err != nil {
		return nil, err
	}
	if len(data) > 8<<10 {
		return nil, fmt.Errorf("%s is longer than 8 KiB", path)
	}
	return data, nil
}

// apiRoom is a room as the Rooms API shows it (roomView in signaling/rooms_api.go).
type apiRoom struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Settings    store.Settings `json:"settings"`
	E2EE        bool           `json:"e2ee"`
	PasswordSet bool           `json:"passwordSet"`
	Created     time.Time      `json:"created"`
	Expires     *time.Time     `json:"expires,omitempty"`
}

// roomsAPIError is a refusal of the Rooms API: its status and the server's message.
type roomsAPIError struct {
	Status  int
	Message string
}

func (e *roomsAPIError) Error() string {
	return fmt.Sprintf("the server refused (HTTP %d): %s", e.Status, e.Message)
}

// roomsClient calls the Rooms API at a host link's origin with its host key.
type roomsClient struct {
	link hostLink
	http *http.Client
}

// newRoomsClient makes a client for link; caFile, if set, is a PEM file of certificates
// to trust besides the system's (a server with a self-signed certificate).
func newRoomsClient(link hostLink, caFile string) (*roomsClient, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a host link names the server; do not send its key through a proxy
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &roomsClient{link: link, http: &http.Client{
		Transport: tr,
		Timeout:   2 * time.Minute, // a password is hashed with argon2id on the server
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("the server redirects to %s://%s; use that address in the host link", req.URL.Scheme, req.URL.Host)
		},
	}}, nil
}

// call sends one request of the Rooms API and decodes a JSON answer into out.
func (c *roomsClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.link.origin+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.link.hostKey)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.link.origin+path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.link.origin+path, err)
	}
	return decodeRoomsAnswer(resp.StatusCode, data, out)
}

// unwrapURLError drops url.Error's repetition of the method and address.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// decodeRoomsAnswer reads an answer of the Rooms API: out for a success, a
// *roomsAPIError for a refusal. Every room in it is checked, since its id goes into the
// links printed.
func decodeRoomsAnswer(status int, data []byte, out any) error {
	if status < 200 || status > 299 {
		var e struct {
			Error string `json:"error"`
		}
		msg := "no reason given"
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = strings.Map(func(r rune) rune { // one line, nothing that moves a terminal's cursor
				if r < 0x20 || r == 0x7f {
					return ' '
				}
				return r
			}, e.Error)
			if len(msg) > 300 {
				msg = msg[:300] + "…"
			}
		}
		return &roomsAPIError{Status: status, Message: msg}
	}
	if out == nil || status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the server's answer is not what the Rooms API sends (%s); is the link's address a Conclave server?", jsonProblemOf(err))
	}
	var rooms []apiRoom
	switch v := out.(type) {
	case *apiRoom:
		rooms = []apiRoom{*v}
	case *roomList:
		rooms = v.Rooms
	case *roomMade:
		rooms = []apiRoom{v.Room}
	}
	for _, r := range rooms {
		if !e2ee.ValidRoomID(r.ID) {
			return errors.New("the server's answer holds a room id that is not 22 characters of base64url")
		}
	}
	return nil
}

func jsonProblemOf(err error) string {
	if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return "a field has the wrong type"
	}
	return "not JSON"
}

// roomList is the answer of GET /api/rooms; roomMade of create and rotate.
type roomList struct {
	Rooms []apiRoom `json:"rooms"`
}

type roomMade struct {
	Room apiRoom `json:"room"`
}

// roomLinks makes a room's two links in the landing page's format (rooms-keys.js
// roomLinks): a room without E2EE carries no k.
func roomLinks(origin, id string, keys e2ee.RoomKeys, withE2EE bool) (participant, moderator string) {
	base := origin + "/m/" + id
	if !withE2EE {
		return base, base + "#mod=" + url.QueryEscape(keys.ModeratorSecret)
	}
	k := "k=" + keys.MeetingSecret
	return base + "#" + k, base + "#" + k + "&mod=" + url.QueryEscape(keys.ModeratorSecret)
}
