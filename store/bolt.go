package store

// Why bbolt (go.etcd.io/bbolt) rather than SQLite or a database server: it is pure Go
// (no cgo, so the one static binary stays one static binary), runs in the process (no
// server to install, secure and back up), keeps everything in one file, and every
// committed write transaction is fsync'd before Commit returns, with copy-on-write pages
// and two meta pages, so a crash or a kill mid-write leaves the last committed state.
// One writer at a time is no limit for a few hosts and their rooms. The file lock it
// takes also tells a `conclave room …` command that the server is running (ErrLocked).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file inside the data directory.
const FileName = "conclave.db"

// SchemaVersion is the layout this code reads and writes. A file with a higher version was
// written by a newer Conclave and is refused rather than misread.
const SchemaVersion = 1

// Errors of opening a data directory. Each arrives wrapped with the path it is about.
var (
	// ErrLocked: another process holds the database, normally the running server.
	ErrLocked = errors.New("the data directory is in use by another process, most likely the running conclave server")
	// ErrCorrupt: the file is not a Conclave database or is damaged.
	ErrCorrupt = errors.New("the database file is damaged or not a Conclave database; restore it from a backup or move it away to start empty")
	// ErrNewerSchema: the file was written by a newer Conclave.
	ErrNewerSchema = errors.New("the database was written by a newer version of Conclave")
	// ErrNoDatabase: the data directory holds no database (OpenBolt with Existing).
	ErrNoDatabase = errors.New("no Conclave database in it")
	// ErrNotPrivate: another user can change the data directory (write in it, or it is
	// theirs), so they could read or replace the database and the admin socket.
	ErrNotPrivate = errors.New("not private to the user running conclave")
	// ErrNotAFile: the database's name is a symbolic link or no regular file. Deleting
	// rewrites the file under its name (scrub.go), which would replace a link with a
	// file and leave every deleted room's bytes in the link's target.
	ErrNotAFile = errors.New("not a regular file: give -data the directory the database really is in")
)

var (
	bucketRooms = []byte("rooms")
	bucketHosts = []byte("hosts")
	bucketMeta  = []byte("meta")
	// bucketRetired holds the ids of rooms deleted, expired, rotated away or removed
	// with their host (the key, a one-byte value): an id is never a room's again, so
	// that links that were withdrawn (a leaked link is why a host rotates) cannot be
	// taken over by whoever knows them. Room ids are random; nothing about people.
	bucketRetired = []byte("retired")
	keySchema     = []byte("schema")
	// keyImported marks that the hosts of the old configuration file were imported
	// (ImportHosts): from then on the store alone says who the hosts are.
	keyImported = []byte("hosts-imported")
)

// DefaultLockTimeout is how long OpenBolt waits for another process's lock: short, since
// that process is normally a server that will not let go.
const DefaultLockTimeout = time.Second

// Option changes how OpenBolt opens a data directory.
type Option func(*boltOptions)

type boltOptions struct {
	lockTimeout time.Duration
	existing    bool
}

// Existing makes OpenBolt refuse a data directory without a database (ErrNoDatabase)
// instead of making one: for the operator's commands that only read or remove, which
// must not leave a new data directory behind a mistyped -data and report it empty.
func Existing() Option {
	return func(o *boltOptions) { o.existing = true }
}

// WithLockTimeout sets how long OpenBolt waits for another process to release the
// database before it returns ErrLocked (at least a millisecond).
func WithLockTimeout(d time.Duration) Option {
	return func(o *boltOptions) { o.lockTimeout = max(d, time.Millisecond) }
}

// Bolt is the store in a data directory: one bbolt file, conclave.db. Rooms and hosts are
// JSON values keyed by their ids; a host's rooms are found by a scan, because rooms are
// few (people prepare dozens, not millions) and an index would be one more thing to keep
// consistent.
type Bolt struct {
	path string

	// mu is held shared by every transaction and alone by scrub while it replaces db;
	// writeMu by every write and by scrub while it copies db (bbolt has one writer at a
	// time anyway), so that reads go on during a scrub's copy.
	mu      sync.RWMutex
	writeMu sync.Mutex
	db      *bolt.DB
	closed  bool // under writeMu: no scrub after Close (the lock may be another's then)
}

// OpenBolt opens (creating if needed) the store in dir. The directory is made 0700 and
// the file 0600: they hold host key hashes. A damaged file, an unwritable directory or a
// file from a newer Conclave fails here, naming the path, rather than later; so does a
// directory another user can change (CheckDataDir), before anything is written.
func OpenBolt(dir string, opts ...Option) (*Bolt, error) {
	o := boltOptions{lockTimeout: DefaultLockTimeout}
	for _, f := range opts {
		f(&o)
	}
	if dir == "" {
		return nil, errors.New("store: no data directory given")
	}
	if o.existing {
		if _, err := os.Stat(filepath.Join(dir, FileName)); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("data directory %s: %w (%s)", dir, ErrNoDatabase, FileName)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	// A link is followed once, now: the file and every rewrite of it (scrub.go) stay in
	// the directory checked, whoever repoints the link later.
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	if err := CheckDataDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	fi, statErr := os.Lstat(path)
	if statErr == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("database %s: %w", path, ErrNotAFile)
	}
	db, err := openFile(path, o.lockTimeout)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// Made now: it is the directory owner's, as the scrub keeps it. Root making it
		// in the service's directory (`sudo conclave host add` after the file was
		// deleted) left a file the service could not open.
		if di, err := os.Stat(dir); err == nil {
			if err := sameOwner(path, di); err != nil {
				db.Close()
				return nil, fmt.Errorf("database %s: %w", path, err)
			}
		}
	}
	b := &Bolt{db: db, path: path}
	if err := b.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	// What an earlier process deleted and could not scrub (it stopped first, or was a
	// version before scrubbing) goes now; a scrub that cannot be made (a directory the
	// process may not write) leaves the file as it was, to be tried at the next deletion.
	_ = b.scrub()
	return b, nil
}

// CheckDataDir checks that dir is a directory no other user can change: not writable by
// group or others, and the process's own; root may use another user's (the service's,
// `sudo conclave host …`) only where that user could not have made it, in a directory
// that root alone can write. Otherwise another local user could have put their own
// database or admin socket there (a data directory made in advance in a shared working
// directory, where the default conclave-data goes), or replace them later: they would
// read the host names and hashes written into it, add hosts of their own, or answer
// the operator's commands. A refusal wraps ErrNotPrivate and names the path; a missing
// directory is an error wrapping fs.ErrNotExist.
func CheckDataDir(dir string) error {
	return CheckPrivateDir(dir, "data directory", "-data")
}

// CheckPrivateDir is CheckDataDir for any directory whose files are the server's
// secrets (what names it in the errors, flag is the option that sets it): the ACME
// cache, whose certificate keys another user who could replace them would serve in
// the server's name.
func CheckPrivateDir(dir, what, flag string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %s is not a directory", what, dir)
	}
	if why := notPrivate(dir, st, flag); why != "" {
		return fmt.Errorf("%s %s: %w: %s", what, dir, ErrNotPrivate, why)
	}
	return nil
}

// openFile opens the bbolt file and takes its lock, turning bbolt's errors into ours.
//
// bbolt locks the file it opened, not the name: a process that waits for the lock while
// the holder scrubs (scrub.go: a new file renamed over the name) gets the lock of the
// old, unlinked file once the holder closes it, and would take itself for the holder.
// So once the lock is taken, the file locked (held open, so its inode cannot be another
// file's meanwhile) is compared with the one under the name: unless they are the same,
// the open is tried again (the holder's lock on the new one then keeps it waiting).
func openFile(path string, lockTimeout time.Duration) (*bolt.DB, error) {
	deadline := time.Now().Add(lockTimeout)
	for {
		var file *os.File
		db, err := openLocked(path, max(time.Until(deadline), time.Millisecond), func(name string, flag int, mode os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, mode)
			file = f
			return f, err
		})
		if err != nil {
			return nil, err
		}
		locked, err := file.Stat()
		if err == nil {
			var named os.FileInfo
			if named, err = os.Stat(path); err == nil && os.SameFile(locked, named) {
				return db, nil
			}
		}
		_ = db.Close()
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("database %s: %w", path, ErrLocked)
		}
	}
}

// openLocked is one bbolt open. bbolt may panic on some damaged files instead of
// returning an error; that too becomes ErrCorrupt, so that a bad file stops the server
// with a message instead of a stack trace.
func openLocked(path string, lockTimeout time.Duration, open func(string, int, os.FileMode) (*os.File, error)) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("database %s: %w (%v)", path, ErrCorrupt, p)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, OpenFile: open})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("database %s: %w", path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
		return nil, fmt.Errorf("database %s: %w (%v)", path, ErrCorrupt, err)
	default:
		// Permissions, a read-only file system, a file too short to be a database:
		// the path and the system's reason.
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
}

// init creates the buckets of a new file, refuses a newer schema, and checks the file's
// pages and every record, so damage is found now and not in the middle of a meeting.
func (b *Bolt) init() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w (%v)", ErrCorrupt, p)
		}
	}()
	if err := b.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if tx.Bucket(bucketRooms) != nil || tx.Bucket(bucketHosts) != nil {
				return fmt.Errorf("%w: no schema version", ErrCorrupt)
			}
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return err
			}
			if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
		}
		v, err := strconv.Atoi(string(meta.Get(keySchema)))
		switch {
		case err != nil || v < 1:
			return fmt.Errorf("%w: schema version %q", ErrCorrupt, meta.Get(keySchema))
		case v > SchemaVersion:
			return fmt.Errorf("%w (schema version %d; this one reads version %d): upgrade Conclave", ErrNewerSchema, v, SchemaVersion)
		}
		for _, name := range [][]byte{bucketRooms, bucketHosts, bucketRetired} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return b.check()
}

// Path is the database file.
func (b *Bolt) Path() string { return b.path }

// Close releases the file and its lock.
func (b *Bolt) Close() error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.closed = true
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.db.Close()
}

// view and update run a transaction on the current file (scrub may replace it).
func (b *Bolt) view(fn func(*bolt.Tx) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.underName(b.db.View(fn))
}

func (b *Bolt) update(fn func(*bolt.Tx) error) error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.underName(b.db.Update(fn))
}

// underName gives a file error bbolt reports under the scrub's name the database's
// name: a scrubbed file was opened as conclave.db.scrub and renamed (copyLive), and
// bbolt keeps the name it opened. An operator told "write conclave.db.scrub: no space
// left on device" by every failed write after a start looked for a scrub that is not
// there.
func (b *Bolt) underName(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == b.path+scrubSuffix {
		pe.Path = b.path
	}
	return err
}

// Room returns the room with that id, or ErrNotFound.
func (b *Bolt) Room(_ context.Context, id string) (Room, error) {
	var r Room
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRooms).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		r, err = decodeRoomAt([]byte(id), v)
		return err
	})
	return r, err
}

// Rooms lists a host's rooms, oldest first.
func (b *Bolt) Rooms(_ context.Context, hostID string) ([]Room, error) {
	return b.rooms(func(r Room) bool { return r.HostID == hostID })
}

// AllRooms lists every room, oldest first (for `conclave room list`).
func (b *Bolt) AllRooms(_ context.Context) ([]Room, error) {
	return b.rooms(func(Room) bool { return true })
}

func (b *Bolt) rooms(keep func(Room) bool) ([]Room, error) {
	var out []Room
	err := b.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRooms).ForEach(func(k, v []byte) error {
			r, err := decodeRoomAt(k, v)
			if err == nil && keep(r) {
				out = append(out, r)
			}
			return err
		})
	})
	sortRooms(out)
	return out, err
}

// CreateRoom adds a room; ErrExists if its id is taken.
func (b *Bolt) CreateRoom(_ context.Context, r Room) error {
	v, err := encodeRoom(r)
	if err != nil {
		return err
	}
	return b.update(func(tx *bolt.Tx) error {
		rooms := tx.Bucket(bucketRooms)
		if rooms.Get([]byte(r.ID)) != nil || retired(tx, r.ID) {
			return ErrExists
		}
		return rooms.Put([]byte(r.ID), v)
	})
}

// retired reports whether id was a room's once (bucketRetired).
func retired(tx *bolt.Tx, id string) bool {
	b := tx.Bucket(bucketRetired)
	return b != nil && b.Get([]byte(id)) != nil
}

// retire records that id is no room's any more and never will be.
func retire(tx *bolt.Tx, id []byte) error {
	b, err := tx.CreateBucketIfNotExists(bucketRetired)
	if err != nil {
		return err
	}
	return b.Put(id, []byte{1})
}

// UpdateRoom replaces a room, under the same id or (rotation) a new one, in one
// transaction: no reader and no crash sees both ids or neither. ErrNotFound if oldID is
// gone, ErrExists if a new id is taken.
func (b *Bolt) UpdateRoom(_ context.Context, oldID string, r Room) error {
	v, err := encodeRoom(r)
	if err != nil {
		return err
	}
	// Only a password's hash replaced is scrubbed away (an offline guess's target); the
	// rest of a replaced record is the new one's (a rotated-away id is kept as retired
	// anyway, an old title is ciphertext under the room's key), and a scrub per change of
	// settings would rewrite the file for nothing.
	var replacedPassword bool
	err = b.update(func(tx *bolt.Tx) error {
		rooms := tx.Bucket(bucketRooms)
		stored := rooms.Get([]byte(oldID))
		if stored == nil {
			return ErrNotFound
		}
		// A record that does not decode is replaced, and scrubbed away to be sure.
		old, err := decodeRoomAt([]byte(oldID), stored)
		replacedPassword = err != nil || old.PasswordHash != "" && old.PasswordHash != r.PasswordHash
		if r.ID != oldID {
			if rooms.Get([]byte(r.ID)) != nil || retired(tx, r.ID) {
				return ErrExists
			}
			if err := rooms.Delete([]byte(oldID)); err != nil {
				return err
			}
			if err := retire(tx, []byte(oldID)); err != nil {
				return err
			}
		}
		return rooms.Put([]byte(r.ID), v)
	})
	if replacedPassword {
		return b.scrubbed(err)
	}
	return err
}

// DeleteRoom removes a room; ErrNotFound if there is none.
func (b *Bolt) DeleteRoom(_ context.Context, id string) error {
	return b.scrubbed(b.update(func(tx *bolt.Tx) error {
		rooms := tx.Bucket(bucketRooms)
		if rooms.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		if err := rooms.Delete([]byte(id)); err != nil {
			return err
		}
		return retire(tx, []byte(id))
	}))
}

// DeleteExpired removes every room expired at now and returns their ids, sorted.
func (b *Bolt) DeleteExpired(_ context.Context, now time.Time) ([]string, error) {
	// The janitor asks every few seconds and mostly nothing has expired: find out in a
	// read transaction, so that the common case writes (and fsyncs) nothing.
	expired := func(tx *bolt.Tx) ([][]byte, error) {
		var keys [][]byte
		err := tx.Bucket(bucketRooms).ForEach(func(k, v []byte) error {
			r, err := decodeRoomAt(k, v)
			if err == nil && r.Expired(now) {
				keys = append(keys, bytes.Clone(k))
			}
			return err
		})
		return keys, err
	}
	var found [][]byte
	if err := b.view(func(tx *bolt.Tx) (err error) {
		found, err = expired(tx)
		return err
	}); err != nil || len(found) == 0 {
		return nil, err
	}
	var gone []string
	err := b.update(func(tx *bolt.Tx) error {
		gone = gone[:0]          // a retried function starts over
		keys, err := expired(tx) // again: a room may have changed meanwhile
		if err != nil {
			return err
		}
		// Deleting while iterating with ForEach skips keys; delete afterwards.
		for _, k := range keys {
			if err := tx.Bucket(bucketRooms).Delete(k); err != nil {
				return err
			}
			if err := retire(tx, k); err != nil {
				return err
			}
			gone = append(gone, string(k))
		}
		return nil
	})
	if err := b.scrubbed(err); err != nil {
		return nil, err
	}
	slices.Sort(gone)
	return gone, nil
}

// Host returns the host with that id, or ErrNotFound.
func (b *Bolt) Host(_ context.Context, id string) (Host, error) {
	var h Host
	err := b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketHosts).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		h, err = decodeHostAt([]byte(id), v)
		return err
	})
	return h, err
}

// Hosts lists every host, by name.
func (b *Bolt) Hosts(_ context.Context) ([]Host, error) {
	var out []Host
	err := b.view(func(tx *bolt.Tx) error {
		var err error
		out, err = allHosts(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Host) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func allHosts(tx *bolt.Tx) ([]Host, error) {
	out := []Host{}
	err := tx.Bucket(bucketHosts).ForEach(func(k, v []byte) error {
		h, err := decodeHostAt(k, v)
		out = append(out, h)
		return err
	})
	return out, err
}

// CreateHost adds a host; ErrExists if its id or name is taken.
func (b *Bolt) CreateHost(_ context.Context, h Host) error {
	return b.update(func(tx *bolt.Tx) error { return createHost(tx, h) })
}

func createHost(tx *bolt.Tx, h Host) error {
	v, err := encodeHost(h)
	if err != nil {
		return err
	}
	hosts, err := allHosts(tx)
	if err != nil {
		return err
	}
	for _, x := range hosts {
		if x.ID == h.ID || x.Name == h.Name {
			return ErrExists
		}
	}
	return tx.Bucket(bucketHosts).Put([]byte(h.ID), v)
}

// DeleteHost removes a host and every room it made, in one transaction; ErrNotFound if
// there is none.
func (b *Bolt) DeleteHost(_ context.Context, id string) error {
	return b.scrubbed(b.update(func(tx *bolt.Tx) error {
		hosts := tx.Bucket(bucketHosts)
		if hosts.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		if err := hosts.Delete([]byte(id)); err != nil {
			return err
		}
		rooms := tx.Bucket(bucketRooms)
		var theirs [][]byte
		if err := rooms.ForEach(func(k, v []byte) error {
			r, err := decodeRoomAt(k, v)
			if err == nil && r.HostID == id {
				theirs = append(theirs, bytes.Clone(k))
			}
			return err
		}); err != nil {
			return err
		}
		for _, k := range theirs {
			if err := rooms.Delete(k); err != nil {
				return err
			}
			// Another host who knows one of the links must not take its id over.
			if err := retire(tx, k); err != nil {
				return err
			}
		}
		return nil
	}))
}

// ImportHosts adds hosts (from the old configuration file) once: the first call adds
// those whose id and name are free and marks the store as imported; later calls change
// nothing and report done=false. So a host removed with `conclave host remove` does not
// come back from a configuration file that still lists it.
func (b *Bolt) ImportHosts(_ context.Context, hosts []Host) (added int, done bool, err error) {
	err = b.update(func(tx *bolt.Tx) error {
		added = 0
		meta := tx.Bucket(bucketMeta)
		if meta.Get(keyImported) != nil {
			return nil
		}
		for _, h := range hosts {
			switch err := createHost(tx, h); {
			case err == nil:
				added++
			case !errors.Is(err, ErrExists):
				return err
			}
		}
		done = true
		return meta.Put(keyImported, []byte("1"))
	})
	if err != nil {
		return 0, false, err
	}
	return added, done, nil
}

// check verifies the file's pages and decodes every record, in a read transaction (so
// bbolt's page check needs no extra work); a problem is ErrCorrupt.
func (b *Bolt) check() error {
	return b.view(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drained to the end: the checker goroutine sends until done
			if first == nil {
				first = fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
		}
		if first != nil {
			return first
		}
		if err := tx.Bucket(bucketRooms).ForEach(func(k, v []byte) error {
			_, err := decodeRoomAt(k, v)
			return err
		}); err != nil {
			return err
		}
		_, err := allHosts(tx)
		return err
	})
}
