//go:build unix

package store

import (
	"os"
	"syscall"
)

// sameOwner gives path the owner and group of old (a no-op when they are already the
// process's; root's scrub of the service's file gives the new file back to the service).
func sameOwner(path string, old os.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid() {
		return nil
	}
	return os.Chown(path, int(st.Uid), int(st.Gid))
}
