package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"conclave/store"
)

// roomCommand runs `conclave room list [-host NAME] | show ID | delete ID` on the data
// directory.
// The server holds the directory while it runs, so these work while it is stopped (or
// say that it runs); hosts manage their rooms in the web UI meanwhile.
func roomCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("conclave room", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs, getenv)
	hostName := fs.String("host", "", "list: only the rooms of this host (name or id)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: conclave room [-data DIR] list [-host NAME] | show ID | delete ID")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		fs.Usage()
		return usageError("missing room subcommand")
	}
	switch {
	case rest[0] == "list" && len(rest) == 1:
	case (rest[0] == "delete" || rest[0] == "show") && len(rest) == 2 && *hostName == "":
	case rest[0] == "list" || rest[0] == "delete" || rest[0] == "show":
		fs.Usage()
		return usageError("wrong arguments for room " + rest[0])
	default:
		fs.Usage()
		return usageError(fmt.Sprintf("unknown room subcommand %q", rest[0]))
	}
	if *data == "" {
		return errors.New(`-data is "": rooms then live only in the running server's memory; there are none to ` + rest[0])
	}
	st, err := openStore(*data)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	if rest[0] == "delete" {
		switch err := st.DeleteRoom(ctx, rest[1]); {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("no room %q in %s", rest[1], *data)
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "Deleted room %s. Its links no longer work.\n", rest[1])
		return nil
	}
	hosts, err := st.Hosts(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, h := range hosts {
		names[h.ID] = h.Name
	}
	if rest[0] == "show" {
		r, err := st.Room(ctx, rest[1])
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("no room %q in %s", rest[1], *data)
		case err != nil:
			return err
		}
		showRoom(stdout, r, names, time.Now())
		return nil
	}
	var rooms []store.Room
	if *hostName != "" {
		id := ""
		for _, h := range hosts {
			if h.Name == *hostName || h.ID == *hostName {
				id = h.ID
			}
		}
		if id == "" {
			return fmt.Errorf("no host %q in %s", *hostName, *data)
		}
		rooms, err = st.Rooms(ctx, id)
	} else {
		rooms, err = st.AllRooms(ctx)
	}
	if err != nil {
		return err
	}
	if len(rooms) == 0 {
		fmt.Fprintf(stdout, "No rooms in %s.\n", *data)
		return nil
	}
	writeRooms(stdout, rooms, names, time.Now())
	return nil
}

// roomFields are a room's fields as the room commands show them. A title is ciphertext
// only the room's links can open, so it shows as "(encrypted title)"; a password only as
// whether there is one; hashes never.
func roomFields(r store.Room, hostNames map[string]string, now time.Time) (host, expires, title string) {
	host = hostNames[r.HostID]
	if host == "" {
		host = r.HostID
	}
	expires = "never"
	if !r.Expires.IsZero() {
		expires = formatTime(r.Expires)
		if r.Expired(now) {
			expires += " (expired)"
		}
	}
	title = "-"
	if r.Title != "" {
		title = "(encrypted title)"
	}
	return host, expires, title
}

// writeRooms prints rooms as a table.
func writeRooms(w io.Writer, rooms []store.Room, hostNames map[string]string, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOST\tCREATED\tEXPIRES\tSETTINGS\tPASSWORD\tTITLE")
	for _, r := range rooms {
		host, expires, title := roomFields(r, hostNames, now)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, host, formatTime(r.Created), expires, settingsText(r), yesNo(r.PasswordHash != ""), title)
	}
	tw.Flush()
}

// showRoom prints one room, a field a line: the same fields as writeRooms.
func showRoom(w io.Writer, r store.Room, hostNames map[string]string, now time.Time) {
	host, expires, title := roomFields(r, hostNames, now)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, f := range [][2]string{
		{"id", r.ID}, {"host", host}, {"created", formatTime(r.Created)}, {"expires", expires},
		{"settings", settingsText(r)}, {"password", yesNo(r.PasswordHash != "")}, {"title", title},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	tw.Flush()
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func settingsText(r store.Room) string {
	var on []string
	for _, s := range []struct {
		on   bool
		name string
	}{{r.E2EE, "e2ee"}, {r.Settings.Lobby, "lobby"}, {r.Settings.ScreenShare, "screen-share"}, {r.Settings.Unmute, "unmute"}, {r.Settings.Chat, "chat"}} {
		if s.on {
			on = append(on, s.name)
		}
	}
	if len(on) == 0 {
		return "-"
	}
	return strings.Join(on, ",")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
