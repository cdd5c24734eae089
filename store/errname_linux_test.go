package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteErrorsNameTheDatabase: a start scrubs the file, which bbolt then holds open
// under the name it was written as (conclave.db.scrub) though it is conclave.db since
// the rename. On a full disk every failed write said "write …/conclave.db.scrub: no
// space left on device" (seen with a 2 MB tmpfs), and an operator looked for a scrub
// that was not there. Here the file's descriptor is made read-only under bbolt, so its
// next write fails as a full disk's would, with a file error from the kernel.
func TestWriteErrorsNameTheDatabase(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateHost(ctx, host("h1", "Host")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	fd := descriptorOf(t, path)
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := syscall.Dup3(int(ro.Fd()), fd, syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	err = b.CreateRoom(ctx, room("r1", "h1", time.Unix(1_800_000_000, 0)))
	if err == nil {
		t.Fatal("a write through a read-only descriptor succeeded")
	}
	if strings.Contains(err.Error(), scrubSuffix) || !strings.Contains(err.Error(), path) {
		t.Errorf("the failed write's error: %q, want it to name %s", err, path)
	}
	_ = b.Close() // its last write fails the same way
}

// descriptorOf finds the process's descriptor open on path.
func descriptorOf(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}
	}
	t.Fatalf("no descriptor open on %s", path)
	return -1
}
