//go:build unix

package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
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
		why := fmt.Sprintf("it belongs to another user (uid %d); only the process's own or root's is read", st.Uid)
		if euid == 0 {
			// sudo conclave privacy-report -config /etc/conclave/conclave.toml, the file
			// being the service user's: root does not take a file another user could
			// have written, and the way is to run the command as its owner.
			why += "; run the command as its owner: sudo -u " + ownerName(st.Uid) + " conclave …"
		}
		return why
	}
	return ""
}

// ownerName is the name of the user uid, or "#uid" (which sudo -u takes too).
func ownerName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return u.Username
	}
	return "#" + id
}
