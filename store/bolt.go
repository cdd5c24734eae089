package store

// Why bbolt (go.etcd.io/bbolt) rather than SQLite or a database server: it is pure Go
// (no cgo, so the one static binary stays one static binary), runs in the process (no
// server to install, secure and back up), keeps everything in one file, and every
// committed write transaction is fsync'd before Commit returns, with copy-on-write pages
// and two meta pages, so a crash or a kill mid-write leaves the last committed state.
// One writer at a time is no limit for a few hosts and their rooms. The file lock it
// takes also tells a `conclave room …` command that the server is running (ErrLocked).

import (
	"errors"
	"io/fs"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// FileName is the database file inside the data directory.
const FileName = "conclave.db"

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
