package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"conclave/store"
)

// operator is what `conclave host` and `conclave room` (without -link) do to a data
// directory. storeOperator does it on the store: opened directly when no server runs,
// or inside the running server behind its admin socket (adminsock.go), where
// socketOperator reaches it. Errors are store.ErrNotFound and store.ErrExists (wrapped)
// whichever way it went.
type operator interface {
	Hosts(ctx context.Context) ([]hostRow, error)
	// AddHost stores a host whose key the command made: only its keyed hash travels.
	AddHost(ctx context.Context, h store.Host) error
	// RemoveHost removes the host with this name or id and its rooms.
	RemoveHost(ctx context.Context, ref string) (removed hostRow, rooms int, err error)
	// Rooms lists every room, or the rooms of the host with this name or id.
	Rooms(ctx context.Context, hostRef string) ([]roomRow, error)
	Room(ctx context.Context, id string) (roomRow, error)
	DeleteRoom(ctx context.Context, id string) error
	// Live says whether the changes reach a running server at once.
	Live() bool
	Close() error
}

// hostRow is a host as the commands show it: never its key hash.
type hostRow struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// roomRow is a room as the operator's commands show it: whether there is a password or
// a title, never a hash or the ciphertext.
type roomRow struct {
	ID       string         `json:"id"`
	HostID   string         `json:"hostId"`
	HostName string         `json:"hostName"`
	Created  time.Time      `json:"created"`
	Expires  time.Time      `json:"expires,omitzero"`
	Settings store.Settings `json:"settings"`
	E2EE     bool           `json:"e2ee"`
	Password bool           `json:"password"`
	Titled   bool           `json:"titled"`
}

func (r roomRow) expired(now time.Time) bool { return !r.Expires.IsZero() && !now.Before(r.Expires) }

// errNoHost is a host name or id the store does not have.
var errNoHost = fmt.Errorf("no such host: %w", store.ErrNotFound)

// roomEnder ends a live meeting whose room is gone: the signaling server, when the store
// operator runs inside it. RemoveHost runs remove (the host's deletion from the store)
// while the host's rooms cannot change, and ends the meetings of all of them
// (signaling.Server.RemoveHost).
type roomEnder interface {
	EndRoom(id string)
	RemoveHost(ctx context.Context, hostID string, remove func(context.Context) error) (rooms int, err error)
}

// storeOperator works on a store; with live set it runs inside the server and ends the
// meetings of the rooms it deletes.
type storeOperator struct {
	st   dataStore
	live roomEnder // nil when the command opened the store itself
}

func (o *storeOperator) Live() bool   { return o.live != nil }
func (o *storeOperator) Close() error { return o.st.Close() }

func (o *storeOperator) Hosts(ctx context.Context) ([]hostRow, error) {
	hs, err := o.st.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]hostRow, 0, len(hs))
	for _, h := range hs {
		out = append(out, hostRow{ID: h.ID, Name: h.Name, Created: h.Created})
	}
	return out, nil
}

func (o *storeOperator) AddHost(ctx context.Context, h store.Host) error {
	return o.st.CreateHost(ctx, h)
}

// findHost resolves a host name or id. A name that is another host's id (possible for
// hosts moved in from an older configuration file, whose names were never checked
// against the id's form) names neither: the command would act on whichever came
// first, and a removal takes the host's rooms with it.
func (o *storeOperator) findHost(ctx context.Context, ref string) (store.Host, error) {
	hs, err := o.st.Hosts(ctx)
	if err != nil {
		return store.Host{}, err
	}
	byID, byName := -1, -1
	for i, h := range hs {
		if h.ID == ref {
			byID = i
		}
		if h.Name == ref {
			byName = i
		}
	}
	switch {
	case byID >= 0 && byName >= 0 && byID != byName:
		return store.Host{}, ambiguousHostError{ref: ref, named: hs[byName].ID}
	case byID >= 0:
		return hs[byID], nil
	case byName >= 0:
		return hs[byName], nil
	}
	return store.Host{}, errNoHost
}

// ambiguousHostError: ref is one host's id and another's name.
type ambiguousHostError struct{ ref, named string }

func (e ambiguousHostError) Error() string {
	return fmt.Sprintf("%q is one host's id and another host's name, so it names neither; the host of that name has the id %s (conclave host list shows both)", e.ref, e.named)
}

func (o *storeOperator) RemoveHost(ctx context.Context, ref string) (hostRow, int, error) {
	h, err := o.findHost(ctx, ref)
	if err != nil {
		return hostRow{}, 0, err
	}
	remove := func(ctx context.Context) error { return o.st.DeleteHost(ctx, h.ID) }
	var n int
	if o.live != nil {
		// Inside the running server: its rooms cannot change until they are deleted,
		// and their meetings end at once.
		n, err = o.live.RemoveHost(ctx, h.ID, remove)
	} else {
		var rooms []store.Room
		if rooms, err = o.st.Rooms(ctx, h.ID); err == nil {
			n, err = len(rooms), remove(ctx)
		}
	}
	if err != nil {
		return hostRow{}, 0, err
	}
	return hostRow{ID: h.ID, Name: h.Name, Created: h.Created}, n, nil
}

func (o *storeOperator) names(ctx context.Context) (map[string]string, error) {
	hs, err := o.st.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(hs))
	for _, h := range hs {
		names[h.ID] = h.Name
	}
	return names, nil
}

func rowOf(r store.Room, names map[string]string) roomRow {
	return roomRow{ID: r.ID, HostID: r.HostID, HostName: names[r.HostID], Created: r.Created, Expires: r.Expires,
		Settings: r.Settings, E2EE: r.E2EE, Password: r.PasswordHash != "", Titled: r.Title != ""}
}

func (o *storeOperator) Rooms(ctx context.Context, hostRef string) ([]roomRow, error) {
	var rooms []store.Room
	var err error
	if hostRef != "" {
		h, err := o.findHost(ctx, hostRef)
		if err != nil {
			return nil, err
		}
		rooms, err = o.st.Rooms(ctx, h.ID)
		if err != nil {
			return nil, err
		}
	} else if rooms, err = o.st.AllRooms(ctx); err != nil {
		return nil, err
	}
	names, err := o.names(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]roomRow, 0, len(rooms))
	for _, r := range rooms {
		out = append(out, rowOf(r, names))
	}
	return out, nil
}

func (o *storeOperator) Room(ctx context.Context, id string) (roomRow, error) {
	r, err := o.st.Room(ctx, id)
	if err != nil {
		return roomRow{}, err
	}
	names, err := o.names(ctx)
	if err != nil {
		return roomRow{}, err
	}
	return rowOf(r, names), nil
}

func (o *storeOperator) DeleteRoom(ctx context.Context, id string) error {
	if err := o.st.DeleteRoom(ctx, id); err != nil {
		return err
	}
	if o.live != nil {
		o.live.EndRoom(id)
	}
	return nil
}

// connectOperator reaches the data directory dir: through the running server's admin
// socket when one answers, else by opening the store (which fails with store.ErrLocked
// if a server holds it but its socket does not answer). direct says it opened the store.
// Unless create is set, a directory without a database is an error wrapping
// store.ErrNoDatabase: a command that lists or removes makes none (a mistyped -data
// left a new, empty data directory and was answered "no hosts").
func connectOperator(dir string, create bool) (op operator, direct bool, err error) {
	if dir == "" {
		return &storeOperator{st: store.NewMemory()}, true, nil
	}
	// A link is followed once, so that the directory checked is the one whose socket is
	// dialled and whose database is opened.
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	// A socket (or database) in a directory another user can change may be theirs: the
	// command would tell them the host's name and believe their answers.
	if err := store.CheckDataDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	sock := filepath.Join(dir, adminSocketName)
	if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := dialAdmin(sock); err == nil {
			return c, false, nil
		}
	}
	var opts []store.Option
	if !create {
		opts = append(opts, store.Existing())
	}
	st, err := openStore(dir, opts...)
	if errors.Is(err, store.ErrNoDatabase) {
		return nil, false, fmt.Errorf("%w: is -data (or CONCLAVE_DATA) the server's data directory? (conclave host add makes one)", err)
	}
	if errors.Is(err, store.ErrLocked) {
		return nil, false, fmt.Errorf("%w (its admin socket %s does not answer: is the server running as another user? run this command as that user or root)", err, sock)
	}
	if err != nil {
		return nil, false, err
	}
	return &storeOperator{st: st}, true, nil
}
