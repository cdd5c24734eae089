package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"conclave/store"
)

// The admin socket: while the server runs it holds the data directory's database, so
// `conclave host` and `conclave room` (without -link) ask the server instead, over a
// unix socket in the data directory (README "Data"). The socket is the directory's own:
// mode 0600 in a 0700 directory, so only the server's user (and root) can connect, as
// only they could open the database. The API is tiny HTTP with JSON bodies, not for
// anything but the commands:
//
//	GET    /hosts            [hostRow]
//	POST   /hosts            {id, name, keyHash, created} → 201; 409 exists
//	DELETE /hosts/{ref}      {host: hostRow, rooms: n}; 404
//	GET    /rooms?host=REF   [roomRow]; 404 for an unknown host
//	GET    /rooms/{id}       roomRow; 404
//	DELETE /rooms/{id}       204; 404
//
// A host key never crosses it: `host add` makes the key and sends only its keyed hash.

// adminSocketName is the socket's file name in the data directory.
const adminSocketName = "admin.sock"

// maxSocketPath is the longest unix socket path every platform takes (sun_path).
const maxSocketPath = 104

// maxAdminBody bounds a request body of the admin API; maxAdminAnswer an answer, which
// comes from the server itself and may list every room (hosts are many, each with up
// to 1000 rooms: 4 MiB cut a list of some 15,000 rooms short).
const (
	maxAdminBody   = 4 << 20
	maxAdminAnswer = 256 << 20
)

// adminServer is the running server's side of the socket.
type adminServer struct {
	srv  *http.Server
	ln   net.Listener
	path string
}

// startAdmin listens on the admin socket of data directory dir, whose database this
// process holds (so a socket file left there is stale: no other server can be running).
// A path too long for a socket is logged and skipped: the commands then work only while
// the server is stopped.
func startAdmin(dir string, op *storeOperator, log *slog.Logger) (*adminServer, error) {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved // as the store followed it: the socket beside the database
	}
	path := filepath.Join(dir, adminSocketName)
	if len(path)+16 > maxSocketPath { // the socket is made in a temporary directory first
		log.Warn("the data directory's path is too long for the admin socket; conclave host and room work only while the server is stopped", "path", path)
		return nil, nil
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin socket %s: a file that is not a socket is in the way; move it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket %s: %w", path, err)
		}
	}
	ln, err := listenPrivate(dir, path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	srv := newHTTPServer(adminHandler(op, log), slog.NewLogLogger(log.Handler(), slog.LevelDebug), httpIdleWait)
	return &adminServer{srv: srv, ln: ln, path: path}, nil
}

// listenPrivate listens on a unix socket at path that is 0600 from its first moment:
// it is made in a fresh 0700 directory, narrowed, then moved into place, so that however
// open the data directory and the umask are, nobody else ever had a moment to connect.
// Closing the listener removes the socket.
func listenPrivate(dir, path string) (net.Listener, error) {
	tmp, err := os.MkdirTemp(dir, ".admin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, "s")
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // it will not be at p
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Rename(p, path); err != nil {
		ln.Close()
		return nil, err
	}
	return &removingListener{Listener: ln, path: path}, nil
}

// removingListener removes its socket file when closed.
type removingListener struct {
	net.Listener
	path string
	once sync.Once
}

func (l *removingListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { _ = os.Remove(l.path) })
	return err
}

func (a *adminServer) serve() error {
	if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin socket %s: %w", a.path, err)
	}
	return nil
}

// adminHandler answers the admin API from op. The log says what changed, with counts
// and never a name or room id.
func adminHandler(op *storeOperator, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hosts", func(w http.ResponseWriter, r *http.Request) {
		hs, err := op.Hosts(r.Context())
		adminReply(w, http.StatusOK, hs, err)
	})
	mux.HandleFunc("POST /hosts", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody))
		if err != nil {
			adminReply(w, 0, nil, err)
			return
		}
		h, err := decodeAdminHost(body)
		if err != nil {
			adminFail(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := op.AddHost(r.Context(), h); err != nil {
			adminReply(w, 0, nil, err)
			return
		}
		log.Info("host added over the admin socket")
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("DELETE /hosts/{ref}", func(w http.ResponseWriter, r *http.Request) {
		h, n, err := op.RemoveHost(r.Context(), r.PathValue("ref"))
		if err == nil {
			log.Info("host removed over the admin socket", "rooms", n)
		}
		adminReply(w, http.StatusOK, removedHost{Host: h, Rooms: n}, err)
	})
	mux.HandleFunc("GET /rooms", func(w http.ResponseWriter, r *http.Request) {
		rooms, err := op.Rooms(r.Context(), r.URL.Query().Get("host"))
		adminReply(w, http.StatusOK, rooms, err)
	})
	mux.HandleFunc("GET /rooms/{id}", func(w http.ResponseWriter, r *http.Request) {
		room, err := op.Room(r.Context(), r.PathValue("id"))
		adminReply(w, http.StatusOK, room, err)
	})
	mux.HandleFunc("DELETE /rooms/{id}", func(w http.ResponseWriter, r *http.Request) {
		err := op.DeleteRoom(r.Context(), r.PathValue("id"))
		if err == nil {
			log.Info("room deleted over the admin socket")
		}
		adminReply(w, http.StatusNoContent, nil, err)
	})
	return mux
}

type removedHost struct {
	Host  hostRow `json:"host"`
	Rooms int     `json:"rooms"`
}

type adminErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"` // "not-found" or "exists"
}

func adminFail(w http.ResponseWriter, status int, msg string) {
	code := map[int]string{http.StatusNotFound: "not-found", http.StatusConflict: "exists"}[status]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(adminErrorBody{Error: msg, Code: code})
}

// adminReply answers body with status, or err as the status it stands for.
func adminReply(w http.ResponseWriter, status int, body any, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		adminFail(w, http.StatusNotFound, "not found")
	case errors.Is(err, store.ErrExists):
		adminFail(w, http.StatusConflict, "exists")
	case err != nil:
		adminFail(w, http.StatusInternalServerError, err.Error())
	case body == nil:
		w.WriteHeader(status)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
}

var (
	hostIDPattern   = regexp.MustCompile(`^[0-9a-f]{12}$`)
	keyHashPattern  = regexp.MustCompile(`^\$hmac-sha256\$[A-Za-z0-9_\-+/=$.]{1,200}$`)
	errBadAdminHost = errors.New("the body must be {id, name, keyHash, created}: a 12-hex-digit id, a name of 1 to 64 characters, a keyed hash")
)

// decodeAdminHost reads and checks the body of POST /hosts: what `host add` made.
func decodeAdminHost(body []byte) (store.Host, error) {
	var h store.Host
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || dec.More() {
		return store.Host{}, errBadAdminHost
	}
	if !hostIDPattern.MatchString(h.ID) || !validHostName(h.Name) || !keyHashPattern.MatchString(h.KeyHash) {
		return store.Host{}, errBadAdminHost
	}
	if h.Created.IsZero() {
		h.Created = time.Now()
	}
	return h, nil
}

// validHostName: 1 to 64 characters of valid UTF-8, trimmed, no control characters,
// not "." or ".." (the admin socket names a host in a URL path, which those would
// leave: such a host could not be removed by its name while the server runs), and not
// of a host id's form (`host remove` takes a name or an id: one host's name that is
// another's id would name neither).
func validHostName(name string) bool {
	if name == "" || name == "." || name == ".." || name != strings.TrimSpace(name) || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64 || hostIDPattern.MatchString(name) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// socketOperator is the commands' side: the operator interface over the admin socket.
type socketOperator struct {
	client *http.Client
}

// dialAdmin connects to the socket at path and checks that a server answers on it.
func dialAdmin(path string) (*socketOperator, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
	c := &socketOperator{client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Hosts(ctx); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	return c, nil
}

func (c *socketOperator) Live() bool { return true }

func (c *socketOperator) Close() error {
	c.client.CloseIdleConnections()
	return nil
}

// do sends one request; a JSON answer goes into out.
func (c *socketOperator) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://admin"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("the server's admin socket: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer+1))
	if err != nil {
		return fmt.Errorf("the server's admin socket: %w", err)
	}
	if len(data) > maxAdminAnswer {
		return fmt.Errorf("the server's admin socket answered more than %d MiB", maxAdminAnswer>>20)
	}
	return decodeAdminAnswer(resp.StatusCode, data, out)
}

// decodeAdminAnswer turns an answer of the admin API into out or an error: not-found
// and exists as the store's errors, anything else with the server's message.
func decodeAdminAnswer(status int, data []byte, out any) error {
	if status >= 200 && status < 300 {
		if out == nil || status == http.StatusNoContent {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("the server's admin socket answered something unreadable: %v", err)
		}
		return nil
	}
	var e adminErrorBody
	_ = json.Unmarshal(data, &e)
	switch {
	case status == http.StatusNotFound && e.Code == "not-found":
		return store.ErrNotFound
	case status == http.StatusConflict && e.Code == "exists":
		return store.ErrExists
	case e.Error != "":
		return fmt.Errorf("the server refused (HTTP %d): %s", status, e.Error)
	}
	return fmt.Errorf("the server's admin socket answered HTTP %d", status)
}

func (c *socketOperator) Hosts(ctx context.Context) ([]hostRow, error) {
	var out []hostRow
	return out, c.do(ctx, http.MethodGet, "/hosts", nil, &out)
}

func (c *socketOperator) AddHost(ctx context.Context, h store.Host) error {
	return c.do(ctx, http.MethodPost, "/hosts", h, nil)
}

// dotRef reports whether ref is "." or "..": no host or room is called so (validHostName,
// random room ids), and as a segment of a URL path it would name another route.
func dotRef(ref string) bool { return ref == "." || ref == ".." }

func (c *socketOperator) RemoveHost(ctx context.Context, ref string) (hostRow, int, error) {
	if dotRef(ref) {
		return hostRow{}, 0, errNoHost
	}
	var out removedHost
	err := c.do(ctx, http.MethodDelete, "/hosts/"+url.PathEscape(ref), nil, &out)
	if errors.Is(err, store.ErrNotFound) {
		err = errNoHost
	}
	return out.Host, out.Rooms, err
}

func (c *socketOperator) Rooms(ctx context.Context, hostRef string) ([]roomRow, error) {
	var out []roomRow
	path := "/rooms"
	if hostRef != "" {
		path += "?host=" + url.QueryEscape(hostRef)
	}
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	if errors.Is(err, store.ErrNotFound) {
		err = errNoHost
	}
	return out, err
}

func (c *socketOperator) Room(ctx context.Context, id string) (roomRow, error) {
	if dotRef(id) {
		return roomRow{}, store.ErrNotFound
	}
	var out roomRow
	return out, c.do(ctx, http.MethodGet, "/rooms/"+url.PathEscape(id), nil, &out)
}

func (c *socketOperator) DeleteRoom(ctx context.Context, id string) error {
	if dotRef(id) {
		return store.ErrNotFound
	}
	return c.do(ctx, http.MethodDelete, "/rooms/"+url.PathEscape(id), nil, nil)
}

// startAdminFor serves the admin socket of data directory dir on st (nothing for -data
// ""): the operator's commands then change the running server's store, and meetings in
// rooms they delete end at once.
func startAdminFor(dir string, st dataStore, live roomEnder, log *slog.Logger) (*adminServer, error) {
	if dir == "" {
		return nil, nil
	}
	return startAdmin(dir, &storeOperator{st: st, live: live}, log)
}

// close stops a socket that never served (a later start step failed).
func (a *adminServer) close() {
	if a != nil {
		a.ln.Close()
	}
}
