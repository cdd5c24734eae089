package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestBoltPersists: what was committed is there after closing and opening again, and
// the directory and file are private to their owner.
func TestBoltPersists(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := room("r1", "h1", t0)
	r.Title, r.Expires = "e1.abc", t0.Add(48*time.Hour)
	if err := b.CreateHost(ctx, host("h1", "Alice")); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.ImportHosts(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v %v, want %v", path, st.Mode().Perm(), err, want)
		}
	}
	b, err = OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := b.Room(ctx, "r1"); err != nil || !sameRoom(got, r) {
		t.Fatalf("room after reopen: %+v %v", got, err)
	}
	if hs, err := b.Hosts(ctx); err != nil || len(hs) != 1 || hs[0].Name != "Alice" {
		t.Fatalf("hosts after reopen: %+v %v", hs, err)
	}
	if _, done, err := b.ImportHosts(ctx, []Host{host("h9", "Late")}); err != nil || done {
		t.Fatalf("the import marker did not last: %v %v", done, err)
	}
}

// TestBoltLocked: while one process (here: one handle) holds the database, opening it
// again fails with ErrLocked, and the message says the server holds it.
func TestBoltLocked(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = OpenBolt(dir, WithLockTimeout(100*time.Millisecond))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "running conclave server") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open: %v; want ErrLocked naming %s", err, dir)
	}
	b.Close()
	b2, err := OpenBolt(dir)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	b2.Close()
}

// TestBoltRefusesBadFiles: a damaged file, an unwritable place, a newer schema and a bad
// record each fail at open with an error naming the path.
func TestBoltRefusesBadFiles(t *testing.T) {
	write := func(t *testing.T, data []byte) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// raw opens a fresh store, then changes its bytes with bbolt directly.
	raw := func(t *testing.T, change func(tx *bolt.Tx) error) string {
		dir := t.TempDir()
		b, err := OpenBolt(dir)
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(change); err != nil {
			t.Fatal(err)
		}
		db.Close()
		return dir
	}
	garbage := []byte(strings.Repeat("not a database, just words. ", 800))
	cases := []struct {
		name string
		dir  func(t *testing.T) string
		want error // nil: any error naming the path
	}{
		{"garbage", func(t *testing.T) string { return write(t, garbage) }, ErrCorrupt},
		{"short garbage", func(t *testing.T) string { return write(t, garbage[:100]) }, ErrCorrupt},
		{"zeros", func(t *testing.T) string { return write(t, make([]byte, 16384)) }, ErrCorrupt},
		{"newer schema", func(t *testing.T) string {
			return raw(t, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("2")) })
		}, ErrNewerSchema},
		{"schema not a number", func(t *testing.T) string {
			return raw(t, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("one")) })
		}, ErrCorrupt},
		{"someone else's bbolt file", func(t *testing.T) string {
			dir := t.TempDir()
			db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucketRooms); return err }); err != nil {
				t.Fatal(err)
			}
			return dir
		}, ErrCorrupt},
		{"bad room record", func(t *testing.T) string {
			return raw(t, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketRooms).Put([]byte("r"), []byte(`{"id":"r","hostId":"h"`))
			})
		}, ErrCorrupt},
		{"room under another id", func(t *testing.T) string {
			return raw(t, func(tx *bolt.Tx) error {
				return tx.Bucket(bucketRooms).Put([]byte("r"), []byte(`{"id":"s","hostId":"h"}`))
			})
		}, ErrCorrupt},
		{"bad host record", func(t *testing.T) string {
			return raw(t, func(tx *bolt.Tx) error { return tx.Bucket(bucketHosts).Put([]byte("h"), []byte(`{"id":"h"}`)) })
		}, ErrCorrupt},
		{"data directory under a regular file", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(f, "data")
		}, nil},
		{"data directory is a file", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return f
		}, nil},
		{"read-only directory", func(t *testing.T) string {
			if os.Geteuid() == 0 {
				// root writes through a 0500 directory; the sub-cases above cover an
				// unusable place for root too.
				t.Skip("running as root: permissions do not stop root")
			}
			dir := filepath.Join(t.TempDir(), "ro")
			if err := os.Mkdir(dir, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			return dir
		}, os.ErrPermission},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := c.dir(t)
			b, err := OpenBolt(dir, WithLockTimeout(100*time.Millisecond))
			if err == nil {
				b.Close()
				t.Fatal("opened")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name %s", err, dir)
			}
		})
	}
}

// FuzzDecodeRoom: whatever bytes a file holds, decoding a room record returns a room or
// ErrBadRecord, never panics; a decoded room encodes and decodes to itself.
func FuzzDecodeRoom(f *testing.F) {
	full := room("AAAAAAAAAAAAAAAAAAAAAA", "0123456789ab", t0)
	full.Title, full.E2EE, full.PasswordHash, full.Expires = "e1.x", true, "$argon2id$v=19$m=1,t=1,p=1$a$b", t0.Add(time.Hour)
	enc, err := encodeRoom(full)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(enc),
		`{"id":"r","hostId":"h"}`,
		`{"id":"r","hostId":"h"} {"id":"s"}`,
		`{"id":"r","hostId":"h","created":"not a time"}`,
		`{"id":"r","hostId":"h","expires":"9999-12-31T23:59:59Z","settings":{"lobby":1}}`,
		`{"id":"","hostId":"h"}`,
		`{"id":"r","hostId":"h","unknown":[1,2,{}]}`,
		`[]`, `null`, ``, `{`, "\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRoom(data)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v is not ErrBadRecord", err)
			}
			return
		}
		again, err := encodeRoom(r)
		if err != nil {
			t.Fatalf("a decoded room does not encode: %v", err)
		}
		back, err := DecodeRoom(again)
		if err != nil || !sameRoom(back, r) {
			t.Fatalf("round trip: %+v %v, want %+v", back, err, r)
		}
	})
}

// TestBoltExistingMakesNothing: with Existing, a data directory without a database is
// ErrNoDatabase naming the path, and neither the directory nor a file is made.
func TestBoltExistingMakesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := OpenBolt(dir, Existing()); !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("missing directory: %v, want ErrNoDatabase naming %s", err, dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the directory was made: %v", err)
	}
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	b, err = OpenBolt(dir, Existing())
	if err != nil {
		t.Fatalf("an existing database: %v", err)
	}
	b.Close()
}
