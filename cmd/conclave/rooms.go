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

// roomCommand runs `conclave room …`. With -link (or -link-file) it acts as the host of
// that host link, over the server's Rooms API (roomhost.go). Without, it is the
// operator's `list [-host NAME] | show ID | delete ID` on the data directory: through
// the running server's admin socket, or on the store while no server runs.
func roomCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if hostMode(args) {
		return hostRoomCommand(args, stdout, stderr)
	}
	fs := flag.NewFlagSet("conclave room", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs, getenv)
	hostName := fs.String("host", "", "list: only the rooms of this host (name or id)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: conclave room [-data DIR] list [-host NAME] | show ID | delete ID   (the operator's view)\n       conclave room -link HOST-LINK list | create | links ID | set ID | rotate ID | delete ID   (a host's; conclave room -link x -h)")
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
	case hostSubcommands[rest[0]]:
		return usageError(fmt.Sprintf("room %s acts as a host: give the host link with -link or -link-file", rest[0]))
	default:
		fs.Usage()
		return usageError(fmt.Sprintf("unknown room subcommand %q", rest[0]))
	}
	if *data == "" {
		return errors.New(`-data is "": rooms then live only in the running server's memory; there are none to ` + rest[0])
	}
	op, _, err := connectOperator(*data, false)
	if err != nil {
		return err
	}
	defer op.Close()
	ctx := context.Background()
	switch rest[0] {
	case "delete":
		switch err := op.DeleteRoom(ctx, rest[1]); {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("no room %q in %s", rest[1], *data)
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "Deleted room %s. Its links no longer work.\n", rest[1])
		return nil
	case "show":
		r, err := op.Room(ctx, rest[1])
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("no room %q in %s", rest[1], *data)
		case err != nil:
			return err
		}
		showRoom(stdout, r, time.Now())
		return nil
	}
	rooms, err := op.Rooms(ctx, *hostName)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("no host %q in %s", *hostName, *data)
	case err != nil:
		return err
	}
	if len(rooms) == 0 {
		fmt.Fprintf(stdout, "No rooms in %s.\n", *data)
		return nil
	}
	writeRooms(stdout, rooms, time.Now())
	return nil
}

// roomFields are a room's fields as the room commands show them. A title is ciphertext
// only the room's links can open, so it shows as "(encrypted title)"; a password only as
// whether there is one; hashes never.
func roomFields(r roomRow, now time.Time) (host, expires, title string) {
	host = r.HostName
	if host == "" {
		host = r.HostID
	}
	expires = "never"
	if !r.Expires.IsZero() {
		expires = formatTime(r.Expires)
		if r.expired(now) {
			expires += " (expired)"
		}
	}
	title = "-"
	if r.Titled {
		title = "(encrypted title)"
	}
	return host, expires, title
}

// writeRooms prints rooms as a table.
func writeRooms(w io.Writer, rooms []roomRow, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOST\tCREATED\tEXPIRES\tSETTINGS\tPASSWORD\tTITLE")
	for _, r := range rooms {
		host, expires, title := roomFields(r, now)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, host, formatTime(r.Created), expires, settingsText(r.Settings, r.E2EE), yesNo(r.Password), title)
	}
	tw.Flush()
}

// showRoom prints one room, a field a line: the same fields as writeRooms.
func showRoom(w io.Writer, r roomRow, now time.Time) {
	host, expires, title := roomFields(r, now)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, f := range [][2]string{
		{"id", r.ID}, {"host", host}, {"created", formatTime(r.Created)}, {"expires", expires},
		{"settings", settingsText(r.Settings, r.E2EE)}, {"password", yesNo(r.Password)}, {"title", title},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	tw.Flush()
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func settingsText(st store.Settings, e2ee bool) string {
	var on []string
	for _, s := range []struct {
		on   bool
		name string
	}{{e2ee, "e2ee"}, {st.Lobby, "lobby"}, {st.ScreenShare, "screen-share"}, {st.Unmute, "unmute"}, {st.Chat, "chat"}} {
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
