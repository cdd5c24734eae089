package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// scrubSuffix names the file a scrub writes before it takes conclave.db's place.
const scrubSuffix = ".scrub"

// scrub rewrites the database file with only what is in it now and puts the new file in
// the old one's place. bbolt frees the pages of a deleted or replaced record but never
// overwrites them: a removed host's name and key hash, her rooms' titles and password
// hashes, a room's password hash before it was changed would stay readable in the file
// (and in every backup copied from it) until bbolt happened to reuse their pages. So
// every write that deletes such a record is followed by a scrub (scrubbed), and every
// open by one. The old file is unlinked, not overwritten: its blocks stay on the disk
// until the file system reuses them (README, "Data").
//
// The new file is written beside the old (reads go on meanwhile; writes wait), given
// the old one's owner (a `sudo conclave room …` must not leave the service a file it
// cannot open), synced, and renamed over the old while still open, so that it holds the
// lock from its first moment under the database's name; a process that was waiting for
// the old file's lock finds it is no longer the database's (openFile). A crash at any
// point leaves one complete file under the name: the old, or the new.
func (b *Bolt) scrub() error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	if b.closed {
		return nil
	}
	dst, err := b.copyLive()
	if err != nil {
		return fmt.Errorf("store: scrub: %w", err)
	}
	b.mu.Lock()
	old := b.db
	b.db = dst
	b.mu.Unlock()
	return old.Close()
}

// copyLive writes what the database holds now into a new file, puts it under the
// database's name and returns it open; under writeMu.
func (b *Bolt) copyLive() (*bolt.DB, error) {
	tmp := b.path + scrubSuffix
	// A scrub a crash cut short left a copy of what was live then.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	old, err := os.Stat(b.path)
	if err != nil {
		return nil, err
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: DefaultLockTimeout})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*bolt.DB, error) {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	b.mu.RLock()
	// One transaction (no size limit): the file is a few hosts and their rooms.
	err = bolt.Compact(dst, b.db, 0)
	b.mu.RUnlock()
	if err != nil {
		return fail(err)
	}
	if err := sameOwner(tmp, old); err != nil {
		return fail(err)
	}
	if err := dst.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, b.path); err != nil {
		return fail(err)
	}
	// The rename is the database's now; a directory that cannot be synced (some file
	// systems) still has it, as the kernel does.
	_ = syncDir(filepath.Dir(b.path))
	return dst, nil
}

// scrubbed follows a committed write that deleted records: it scrubs the file, and
// reports err, the write's own. A scrub that fails (a full disk) changes
// nothing and is tried again at the next such write and at the next start; the write
// itself stands.
func (b *Bolt) scrubbed(err error) error {
	if err != nil {
		return err
	}
	_ = b.scrub()
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
