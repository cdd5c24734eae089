package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fileHolds reports whether the database file in dir holds s anywhere, in a live
// record or a freed page.
func fileHolds(t *testing.T, dir, s string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}

// TestDeletedRecordsLeaveNothingInTheFile: bbolt frees a deleted or replaced record's
// pages without overwriting them. A store of a few hosts and their rooms: one host is
// removed with her rooms, another room is deleted, one expires, one gets a new password,
// one loses its password (and one is rotated to a new id); neither the file (while the
// store is open, as a backup would copy it) nor the file after a restart holds any of
// what went.
func TestDeletedRecordsLeaveNothingInTheFile(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []Host{host("hA", "Alice Removed"), host("hB", "Bob Stays"), host("hC", "Carol Stays")}
	for _, h := range hosts {
		if err := b.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	mark := func(r *Room, tag string) {
		r.Title = "e1." + tag + "-TITLE"
		r.PasswordHash = "$argon2id$v=19$m=65536,t=1,p=4$SALT$" + tag + "-PWHASH"
	}
	for i := range 120 {
		h := hosts[i%3]
		r := room(fmt.Sprintf("%s-room-%03d", h.ID, i), h.ID, t0.Add(time.Duration(i)*time.Minute))
		mark(&r, fmt.Sprintf("%s%03d", h.ID, i))
		if err := b.CreateRoom(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	gone := []string{"Alice Removed", "hA000-TITLE", "hA117-PWHASH"}
	if err := b.DeleteHost(ctx, "hA"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteRoom(ctx, "hB-room-001"); err != nil {
		t.Fatal(err)
	}
	gone = append(gone, "hB001-TITLE")
	expiring := room("hC-expiring", "hC", t0)
	mark(&expiring, "expiring")
	expiring.Expires = t0.Add(time.Hour)
	if err := b.CreateRoom(ctx, expiring); err != nil {
		t.Fatal(err)
	}
	if ids, err := b.DeleteExpired(ctx, t0.Add(2*time.Hour)); err != nil || len(ids) != 1 {
		t.Fatalf("expired: %v %v", ids, err)
	}
	gone = append(gone, "expiring-TITLE")
	changed, _ := b.Room(ctx, "hB-room-004")
	changed.PasswordHash = "$argon2id$v=19$m=65536,t=1,p=4$SALT$new-PWHASH"
	if err := b.UpdateRoom(ctx, changed.ID, changed); err != nil {
		t.Fatal(err)
	}
	gone = append(gone, "hB004-PWHASH")
	rotated, _ := b.Room(ctx, "hC-room-002")
	rotated.ID, rotated.Title = "hC-room-002-rotated", "e1.rotated-TITLE"
	if err := b.UpdateRoom(ctx, "hC-room-002", rotated); err != nil {
		t.Fatal(err)
	}
	// A rotation moves the record (its old id is kept as retired, its old title is
	// ciphertext under the old key): not scrubbed for. A password removed is.
	unset, _ := b.Room(ctx, "hC-room-005")
	unset.PasswordHash = ""
	if err := b.UpdateRoom(ctx, unset.ID, unset); err != nil {
		t.Fatal(err)
	}
	gone = append(gone, "hC005-PWHASH")

	for _, s := range gone {
		if fileHolds(t, dir, s) {
			t.Errorf("the open store's file still holds %q", s)
		}
	}
	for _, s := range []string{"Bob Stays", "hB007-TITLE", "new-PWHASH", "rotated-TITLE"} {
		if !fileHolds(t, dir, s) {
			t.Errorf("the file lost %q, which is live", s)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if r, err := b.Room(ctx, "hC-room-002-rotated"); err != nil || r.Title != "e1.rotated-TITLE" {
		t.Fatalf("after a restart: %+v %v", r, err)
	}
	if _, err := b.Room(ctx, "hC-room-002"); err != ErrNotFound {
		t.Fatalf("the rotated-away id: %v", err)
	}
	for _, s := range gone {
		if fileHolds(t, dir, s) {
			t.Errorf("the file still holds %q after a restart", s)
		}
	}
}

// TestOpenScrubsAndNarrowsTheFile: a file written before scrubbing (or by a process
// that stopped before its scrub), put back from a backup with a looser mode, and a
// scrub's copy a crash left: opening keeps what is live, drops what is not, leaves the
// file its owner's only and no copy beside it.
func TestOpenScrubsAndNarrowsTheFile(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHost(ctx, host("h1", "Kept Host")); err != nil {
		t.Fatal(err)
	}
	// A deletion without the scrub that follows it (as before this code, or cut short).
	if err := b.update(func(tx *bolt.Tx) error { return createHost(tx, host("h2", "Deleted Host")) }); err != nil {
		t.Fatal(err)
	}
	if err := b.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketHosts).Delete([]byte("h2")) }); err != nil {
		t.Fatal(err)
	}
	if !fileHolds(t, dir, "Deleted Host") {
		t.Fatal("the test's unscrubbed deletion left nothing to find (bbolt reused the page)")
	}
	b.Close()
	file := filepath.Join(dir, FileName)
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+scrubSuffix, []byte("Deleted Host"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if fileHolds(t, dir, "Deleted Host") || !fileHolds(t, dir, "Kept Host") {
		t.Error("opening did not scrub the file")
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the file after opening: %v %v", st.Mode(), err)
	}
	if _, err := os.Stat(file + scrubSuffix); !os.IsNotExist(err) {
		t.Errorf("a scrub's copy is left beside the file: %v", err)
	}
	if h, err := b.Host(ctx, "h1"); err != nil || h.Name != "Kept Host" {
		t.Fatalf("the kept host: %+v %v", h, err)
	}
}

// TestWaitingOpenerIsNotFooledByAScrub: a second process (a `conclave room` command, a
// second server) waiting for the lock while the holder scrubs would get the lock of the
// old, unlinked file once the holder closes it after the rename, take itself for the
// holder, and its own scrub would put its copy under the name: the holder's later writes
// lost. It must find the database locked. (The wait before the holder's scrub only
// gives the second opener time to be waiting; were it not yet, it would find the new
// file locked all the same.)
func TestWaitingOpenerIsNotFooledByAScrub(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	a, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateHost(ctx, host("h1", "Host One")); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateRoom(ctx, room("r-doomed", "h1", t0)); err != nil {
		t.Fatal(err)
	}
	type opened struct {
		b   *Bolt
		err error
	}
	second := make(chan opened, 1)
	go func() {
		b, err := OpenBolt(dir, WithLockTimeout(1500*time.Millisecond))
		second <- opened{b, err}
	}()
	time.Sleep(300 * time.Millisecond)
	// Two scrubs: rename, the old file closed (the waiter gets its lock), and again (the
	// next file may get the first one's freed inode number: the check compares the file
	// locked, held open, with the name, never an earlier look at the name).
	if err := a.DeleteRoom(ctx, "r-doomed"); err != nil {
		t.Fatal(err)
	}
	if err := a.scrub(); err != nil {
		t.Fatal(err)
	}
	r := <-second
	if r.err == nil {
		r.b.Close()
		t.Fatal("a second open succeeded while the first holder has the database open")
	}
	if !errors.Is(r.err, ErrLocked) {
		t.Fatalf("second open: %v", r.err)
	}
	if err := a.CreateRoom(ctx, room("r-after", "h1", t0)); err != nil {
		t.Fatal(err)
	}
	a.Close()
	c, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Room(ctx, "r-after"); err != nil {
		t.Errorf("the holder's write after its scrub: %v", err)
	}
}
