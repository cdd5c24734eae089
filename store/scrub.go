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
// hashes, a room's password before it was changed would stay readable in the file (and
// in every backup copied from it) until bbolt happened to reuse their pages. So every
// write that deletes or replaces a record is followed by a scrub (scrubbed), and every
// open by one. The old file is unlinked, not overwritten: its blocks stay on the disk
// until the file system reuses them (README, "Data").
//
// The new file is written beside the old, synced, and renamed over it while still
// open, so that it holds the lock from its first moment under the database's name
// (another process never finds the name unlocked), and a crash at any point leaves one
// complete file under the name: the old, or the new.
func (b *Bolt) scrub() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	tmp := b.path + scrubSuffix
	// A scrub a crash cut short left a copy of what was live then.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: scrub: %w", err)
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: DefaultLockTimeout})
	if err != nil {
		return fmt.Errorf("store: scrub: %w", err)
	}
	fail := func(err error) error {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("store: scrub: %w", err)
	}
	// One transaction (no size limit): the file is a few hosts and their rooms.
	if err := bolt.Compact(dst, b.db, 0); err != nil {
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
	old := b.db
	b.db = dst
	return old.Close()
}

// scrubbed follows a committed write that deleted or replaced records: it scrubs the
// file, and reports err, the write's own. A scrub that fails (a full disk) changes
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
