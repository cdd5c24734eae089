//go:build unix

package store

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// sameOwner gives path the owner and group of old (a no-op when they are already the
// process's; root's scrub of the service's file gives the new file back to the service).
// A process other than root keeps a file of its own: the group only where it may give it
// (one it is a member of). The service's own directory or file may well be of a group it
// is not in (`chown conclave DIR` leaves group root; so does root's hand-back there), and
// a chown to it refused stopped the server at start.
func sameOwner(path string, old os.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	uid, gid, euid := int(st.Uid), int(st.Gid), os.Geteuid()
	if uid == euid && gid == os.Getegid() {
		return nil
	}
	if euid != 0 && uid == euid {
		_ = os.Chown(path, -1, gid) // best effort: the file is readable by its owner alone
		return nil
	}
	return os.Chown(path, uid, gid)
}

// notPrivate says why another user could change directory dir (CheckPrivateDir; flag is
// the option that sets it), or "" when none can.
func notPrivate(dir string, fi os.FileInfo, flag string) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Sprintf("other users can write in it (mode %04o) and so replace what it holds; chmod go-w it, or give %s a directory inside it (conclave makes that one 0700)", perm, flag)
	}
	euid := os.Geteuid()
	if int(st.Uid) == euid {
		return ""
	}
	if euid != 0 {
		return fmt.Sprintf("it belongs to another user (uid %d); run conclave as that user", st.Uid)
	}
	// root and the service's directory: fine where only root could have made it.
	resolved, err := filepath.EvalSymlinks(dir)
	if err == nil {
		resolved, err = filepath.Abs(resolved)
	}
	if err != nil {
		return fmt.Sprintf("it belongs to uid %d and its place cannot be checked (%v); run conclave as that user", st.Uid, err)
	}
	parent := filepath.Dir(resolved)
	pfi, err := os.Stat(parent)
	if err != nil {
		return fmt.Sprintf("it belongs to uid %d and its place cannot be checked (%v); run conclave as that user", st.Uid, err)
	}
	if pst, ok := pfi.Sys().(*syscall.Stat_t); ok && (pst.Uid != 0 || pfi.Mode().Perm()&0o022 != 0) {
		return fmt.Sprintf("it belongs to uid %d and lies in %s, where others than root can write: that user (or another) may have put it there; run conclave as its owner", st.Uid, parent)
	}
	return ""
}
