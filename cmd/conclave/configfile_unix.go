//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// configNotPrivate says why another local user could have written the configuration
// file fi, or "" when none can: it must be the process's own or root's (a service
// reads /etc/conclave/conclave.toml, root's, as its own user), and writable by its
// owner alone. The file decides the hosts that may create meetings ([[host]]), where
// the data lives, the log level (debug logs addresses) and what is served; the
// default, conclave.toml in the working directory, is read if it exists, so one planted
// in a shared working directory would otherwise be taken.
func configNotPrivate(fi os.FileInfo) string {
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Sprintf("its group or other users can write it (mode %04o); chmod go-w it", perm)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	if euid := os.Geteuid(); int(st.Uid) != euid && st.Uid != 0 {
		return fmt.Sprintf("it belongs to another user (uid %d); only the process's own or root's is read", st.Uid)
	}
	return ""
}
