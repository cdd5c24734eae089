//go:build unix

package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBoltRefusesADirectoryOthersCanChange: a data directory that other users can write
// in, or (for root) another user's where that user could have made it, is refused before
// anything is written. Such a directory, made in advance where the default conclave-data
// goes (a shared working directory), got the hosts' names and hashes written into a
// database its maker could read, and handed back to them by the scrub.
func TestBoltRefusesADirectoryOthersCanChange(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o770, os.ModeSticky | 0o777, 0o707} {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		b, err := OpenBolt(dir)
		if err == nil {
			b.Close()
			t.Fatalf("mode %v: opened", mode)
		}
		if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "chmod go-w") {
			t.Errorf("mode %v: %v, want ErrNotPrivate naming the directory and the remedy", mode, err)
		}
		if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("mode %v: a database was written: %v", mode, err)
		}
	}
	// A directory inside it is made 0700, the process's own: that works.
	open := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(filepath.Join(open, "data"))
	if err != nil {
		t.Fatalf("a new directory inside an open one: %v", err)
	}
	b.Close()
}

// TestBoltRefusesAnotherUsersDirectory: root takes the service's directory (in a place
// only root can write, as systemd's StateDirectory is), but not another user's in a place
// that user can write: there it may be theirs with a database of theirs in it.
func TestBoltRefusesAnotherUsersDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (to give a directory away)")
	}
	ctx := context.Background()
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(shared, "conclave-data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(dir, FileName)
	if err := os.WriteFile(planted, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{shared, dir, planted} {
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	b, err := OpenBolt(dir)
	if err == nil {
		_ = b.CreateHost(ctx, host("h1", "Alice Example"))
		b.Close()
		t.Fatal("root opened a database in another user's directory, in a place that user can write")
	}
	if !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("%v, want ErrNotPrivate naming the owner", err)
	}
	if st, err := os.Stat(planted); err != nil || st.Size() != 0 {
		t.Errorf("the planted file was written: %v %v", st, err)
	}
	// The same directory where only root can write: the service's, as under systemd.
	if err := os.Chown(shared, 0, 0); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(dir)
	if err != nil {
		t.Fatalf("the service's directory: %v", err)
	}
	b.Close()
}

// TestBoltMadeByRootIsTheServices: root making the database in the service's directory
// (`sudo conclave host add` after the file was deleted) gives it to the directory's owner,
// as the scrub does with a file it rewrites: a root-owned file there stopped the service
// with "permission denied" (systemd gives back only what is not its user's already).
func TestBoltMadeByRootIsTheServices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (to give a directory away)")
	}
	dir := filepath.Join(t.TempDir(), "conclave")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 65534 || s.Gid != 65534 || st.Mode().Perm() != 0o600 {
		t.Errorf("the new database is uid %d gid %d mode %04o, want the directory owner's, 0600", s.Uid, s.Gid, st.Mode().Perm())
	}
}

// TestBoltRefusesALinkedDatabase: a conclave.db that is a symbolic link is not opened.
// The scrub after a deletion writes the file anew under its name, which replaced the
// link with a file and left the deleted rooms' bytes in the link's target for good.
func TestBoltRefusesALinkedDatabase(t *testing.T) {
	real := filepath.Join(t.TempDir(), "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(real)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, FileName)
	if err := os.Symlink(filepath.Join(real, FileName), link); err != nil {
		t.Fatal(err)
	}
	if b, err := OpenBolt(dir); !errors.Is(err, ErrNotAFile) || !strings.Contains(err.Error(), link) {
		if err == nil {
			b.Close()
		}
		t.Fatalf("a linked database: %v, want ErrNotAFile naming it", err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was changed: %v %v", st, err)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(link, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(dir); !errors.Is(err, ErrNotAFile) {
		t.Fatalf("a directory named like the database: %v", err)
	}
}

// TestBoltOfAServiceUserInADirectoryOfRootsGroup: the service's user (not root) opens a
// data directory that is its own but of another group, as `chown conclave DIR` or
// `install -d -o conclave DIR` leave it (group root), and a database root made or
// restored there (given to the directory's owner and group). OpenBolt gave the file it
// made the directory's group, and the scrub the old file's: a chown to a group the
// service is not in, refused, so the server did not start on a new data directory.
func TestBoltOfAServiceUserInADirectoryOfRootsGroup(t *testing.T) {
	if dir := os.Getenv("CONCLAVE_STORE_OPEN_AS_SERVICE"); dir != "" {
		b, err := OpenBolt(dir)
		if err != nil {
			t.Fatal(err)
		}
		n := os.Getenv("CONCLAVE_STORE_HOST")
		if err := b.CreateHost(context.Background(), host("h"+n, "Host "+n)); err != nil {
			t.Fatal(err)
		}
		b.Close()
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (to run as another user)")
	}
	base, err := os.MkdirTemp("", "conclave-service-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	test := filepath.Join(base, "store.test")
	if err := os.WriteFile(test, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 0); err != nil {
		t.Fatal(err)
	}
	n := 0
	asService := func(what string) {
		t.Helper()
		n++
		cmd := exec.Command(test, "-test.run=^TestBoltOfAServiceUserInADirectoryOfRootsGroup$")
		cmd.Env = append(os.Environ(), "CONCLAVE_STORE_OPEN_AS_SERVICE="+dir, fmt.Sprint("CONCLAVE_STORE_HOST=", n))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
	}
	asService("the service's first start")
	asService("the service's next start")
	// Root makes it anew (`sudo conclave host add` after it was deleted): the directory
	// owner's and group's; the service opens it and scrubs it.
	if err := os.Remove(filepath.Join(dir, FileName)); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	asService("the service after root made the database")
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 65534 || st.Mode().Perm() != 0o600 {
		t.Errorf("the database is uid %d mode %04o, want the service's, 0600", s.Uid, st.Mode().Perm())
	}
}

// TestBoltFollowsALinkedDirectoryOnce: a data directory given as a link is followed when
// the store opens, and every rewrite of the database (after a deletion) stays in the
// directory that was checked. The rewrite went by the link's path: its owner, repointing
// the link at a directory of theirs after the start, got the rewritten database, host
// names and key hashes included.
func TestBoltFollowsALinkedDirectoryOnce(t *testing.T) {
	ctx := context.Background()
	real, other := filepath.Join(t.TempDir(), "real"), filepath.Join(t.TempDir(), "other")
	for _, d := range []string{real, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(t.TempDir(), "data")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	b, err := OpenBolt(link)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, h := range []Host{host("h1", "Alice Example"), host("h2", "Bob Example")} {
		if err := b.CreateHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(other, FileName) // what the rewrite would replace there
	if err := os.WriteFile(planted, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteHost(ctx, "h1"); err != nil { // a deletion: the file is rewritten
		t.Fatal(err)
	}
	if st, err := os.Stat(planted); err != nil || st.Size() != 0 {
		t.Fatalf("the repointed link's directory got the rewritten database: %v %v", st, err)
	}
	if entries, _ := os.ReadDir(other); len(entries) != 1 {
		t.Fatalf("the repointed link's directory holds %v", entries)
	}
	if _, err := os.Stat(filepath.Join(real, FileName)); err != nil {
		t.Fatalf("the database left the directory it was opened in: %v", err)
	}
}

// TestScrubKeepsTheOwner: `sudo conclave host …` with the service stopped opens the
// store as root; the file its scrub puts in place keeps the service's owner and group,
// or the service could no longer open it.
func TestScrubKeepsTheOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (to give a file away and to open one given away)")
	}
	dir := filepath.Join(t.TempDir(), "data")
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	path := filepath.Join(dir, FileName)
	for _, p := range []string{dir, path} {
		if err := os.Chown(p, 65534, 65533); err != nil {
			t.Fatal(err)
		}
	}
	b, err = OpenBolt(dir) // scrubs at open
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHost(context.Background(), host("h1", "Gone")); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteHost(context.Background(), "h1"); err != nil { // and again
		t.Fatal(err)
	}
	b.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 65534 || s.Gid != 65533 {
		t.Errorf("conclave.db is %d:%d after root's scrubs, was 65534:65533", s.Uid, s.Gid)
	}
}
