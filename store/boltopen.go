package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

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
