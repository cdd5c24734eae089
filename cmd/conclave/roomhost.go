package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// hostSubcommands are the room subcommands that act as a host (with -link).
var hostSubcommands = map[string]bool{"create": true, "links": true, "set": true, "rotate": true}

// hostMode reports whether a room command line gives a host link: then it acts as that
// host over the Rooms API instead of as the operator on the data directory.
func hostMode(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "link" || name == "link-file") {
			return true
		}
	}
	return false
}

// hostRoomFlags are the flags of `conclave room -link …`.
type hostRoomFlags struct {
	link, linkFile, ca           string
	title, passwordFile, expires string
	titleFile                    string
	askPassword, noPassword      bool
	standing                     bool
	only                         string
	lobby, screenShare, unmute   bool
	chat, e2ee                   bool
	set                          map[string]bool // which flags the command line gave
}

func newHostRoomFlags(f *hostRoomFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("conclave room", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.link, "link", "", "the host link https://server/#host=…&rk=… (it stands in ps and the shell's history: -link-file keeps it out)")
	fs.StringVar(&f.linkFile, "link-file", "", `file holding the host link ("-": standard input)`)
	fs.StringVar(&f.ca, "ca", "", "PEM file of a certificate to trust for the server (a self-signed one)")
	fs.StringVar(&f.title, "title", "", "create, set: the room's title (encrypted here; the server keeps ciphertext only; it stands in ps and the shell's history: -title-file keeps it out)")
	fs.StringVar(&f.titleFile, "title-file", "", `create, set: read the room's title from this file ("-": standard input)`)
	fs.StringVar(&f.passwordFile, "password-file", "", `create, set: read the room's password from this file ("-": standard input)`)
	fs.BoolVar(&f.askPassword, "ask-password", false, "create, set: ask for the room's password on the terminal")
	fs.BoolVar(&f.noPassword, "no-password", false, "set: remove the room's password")
	fs.StringVar(&f.expires, "expires", "", "create, set: one-off room until this local time, 2026-12-07T08:00 (or RFC 3339 with a zone)")
	fs.BoolVar(&f.standing, "standing", false, "create, set: a standing room, until deleted (create's default)")
	fs.BoolVar(&f.lobby, "lobby", true, "create, set: people wait in a waiting room until admitted")
	fs.BoolVar(&f.screenShare, "screen-share", false, "create, set: participants may share their screen")
	fs.BoolVar(&f.unmute, "unmute", true, "create, set: participants may unmute themselves")
	fs.BoolVar(&f.chat, "chat", true, "create, set: chat is on")
	fs.BoolVar(&f.e2ee, "e2ee", true, "create, set: end-to-end encryption (the participant link carries the key)")
	fs.StringVar(&f.only, "only", "", "create, links, rotate: print only this link, participant or moderator")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: conclave room -link HOST-LINK SUBCOMMAND   (acting as the host of HOST-LINK, over the server's Rooms API)
  list                  the host's rooms, titles decrypted
  create [settings]     a new room; prints its participant and moderator links
  links ID              shows a room's two links again
  set ID [settings]     changes a room's title, password, lifetime or settings
  rotate ID             new links for a room (new id); the old links stop at once
  delete ID             deletes a room; its links stop at once
A setting not given keeps the server's default (create) or the room's value (set); booleans take -lobby=false.
A password is never given on the command line.
`)
		fs.PrintDefaults()
	}
	return fs
}

// changesSettings reports whether the command line gives anything set or create applies.
func (f *hostRoomFlags) changesSettings() bool {
	for _, n := range []string{"title", "title-file", "password-file", "ask-password", "no-password", "expires", "standing", "lobby", "screen-share", "unmute", "chat", "e2ee"} {
		if f.set[n] {
			return true
		}
	}
	return false
}

// hostRoomCommand runs `conclave room -link … list|create|links|set|rotate|delete`.
func hostRoomCommand(args []string, stdout, stderr io.Writer) error {
	return hostRoomCommandIO(args, os.Stdin, stdout, stderr, time.Now)
}

func hostRoomCommandIO(args []string, stdin io.Reader, stdout, stderr io.Writer, now func() time.Time) error {
	var f hostRoomFlags
	fs := newHostRoomFlags(&f, stderr)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if err := checkHostRoomArgs(&f, rest); err != nil {
		fs.Usage()
		return err
	}
	if f.titleFile != "" {
		data, err := readSmall(f.titleFile, stdin)
		if err != nil {
			return fmt.Errorf("title: %w", err)
		}
		f.title, f.set["title"] = strings.TrimSpace(string(data)), true
	}
	linkText := f.link
	if f.linkFile != "" {
		if linkText, err = readLinkFile(f.linkFile, stdin); err != nil {
			return err
		}
	}
	link, err := parseHostLink(linkText)
	if err != nil {
		return err
	}
	client, err := newRoomsClient(link, f.ca)
	if err != nil {
		return err
	}
	defer client.http.CloseIdleConnections()
	ctx := context.Background()
	h := &hostRooms{c: client, f: &f, out: stdout, now: now}
	switch rest[0] {
	case "list":
		return h.list(ctx)
	case "create":
		body, err := h.changeBody(stdin, stderr, true)
		if err != nil {
			return err
		}
		return h.create(ctx, body)
	case "set":
		body, err := h.changeBody(stdin, stderr, false)
		if err != nil {
			return err
		}
		return h.change(ctx, rest[1], body)
	case "links":
		return h.links(ctx, rest[1])
	case "rotate":
		return h.rotate(ctx, rest[1])
	default: // delete
		if err := client.call(ctx, http.MethodDelete, "/api/rooms/"+url.PathEscape(rest[1]), nil, nil); err != nil {
			return notFoundSays(err, rest[1])
		}
		fmt.Fprintf(stdout, "Deleted room %s. Its links no longer work.\n", rest[1])
		return nil
	}
}

// checkHostRoomArgs refuses a command line that does not say one clear thing.
func checkHostRoomArgs(f *hostRoomFlags, rest []string) error {
	if f.link != "" && f.linkFile != "" {
		return usageError("give the host link once: -link or -link-file")
	}
	if f.link == "" && f.linkFile == "" {
		return usageError("the host link is empty")
	}
	if len(rest) == 0 {
		return usageError("missing room subcommand")
	}
	wantID := map[string]bool{"links": true, "set": true, "rotate": true, "delete": true}
	switch {
	case rest[0] == "list" || rest[0] == "create":
		if len(rest) != 1 {
			return usageError(fmt.Sprintf("room %s takes no arguments", rest[0]))
		}
	case wantID[rest[0]]:
		if len(rest) != 2 {
			return usageError(fmt.Sprintf("room %s takes one room id", rest[0]))
		}
	default:
		return usageError(fmt.Sprintf("unknown room subcommand %q", rest[0]))
	}
	settingsOK := rest[0] == "create" || rest[0] == "set"
	if !settingsOK && f.changesSettings() {
		return usageError(fmt.Sprintf("room %s takes no settings; change them with room set", rest[0]))
	}
	if rest[0] == "set" && !f.changesSettings() {
		return usageError("room set needs something to change: -title, a password flag, -expires or -standing, or a setting")
	}
	if f.only != "" && f.only != "participant" && f.only != "moderator" {
		return usageError("-only takes participant or moderator")
	}
	if f.only != "" && rest[0] != "create" && rest[0] != "links" && rest[0] != "rotate" {
		return usageError("-only goes with create, links and rotate")
	}
	n := 0
	for _, b := range []bool{f.set["password-file"], f.askPassword, f.noPassword} {
		if b {
			n++
		}
	}
	if n > 1 {
		return usageError("give one of -password-file, -ask-password and -no-password")
	}
	if f.noPassword && rest[0] == "create" {
		return usageError("-no-password goes with set; a new room has no password unless one is given")
	}
	if f.set["title"] && f.set["title-file"] {
		return usageError("give -title or -title-file, not both")
	}
	stdins := 0
	for _, p := range []string{f.linkFile, f.passwordFile, f.titleFile} {
		if p == "-" {
			stdins++
		}
	}
	if stdins > 1 {
		return usageError("standard input can give one of the host link, the password and the title")
	}
	if f.set["expires"] && f.standing {
		return usageError("give -expires or -standing, not both")
	}
	return nil
}

// changeBody is the JSON of create or set from the flags: only what the command line
// gave (a new room takes the server's defaults for the rest). The title is sealed by
// the caller, which knows the room's key.
func (h *hostRooms) changeBody(stdin io.Reader, stderr io.Writer, create bool) (map[string]any, error) {
	f := h.f
	body := map[string]any{}
	settings := map[string]bool{}
	for flagName, field := range map[string]string{"lobby": "lobby", "screen-share": "screenShare", "unmute": "unmute", "chat": "chat"} {
		if f.set[flagName] {
			settings[field] = map[string]bool{"lobby": f.lobby, "screen-share": f.screenShare, "unmute": f.unmute, "chat": f.chat}[flagName]
		}
	}
	if len(settings) > 0 {
		body["settings"] = settings
	}
	if f.set["e2ee"] || create {
		body["e2ee"] = f.e2ee
	}
	switch {
	case f.set["expires"]:
		t, err := parseExpires(f.expires, h.now())
		if err != nil {
			return nil, err
		}
		body["expires"] = t.UTC().Format(time.RFC3339)
	case f.standing && !create:
		body["expires"] = nil
	}
	switch {
	case f.noPassword:
		body["password"] = ""
	case f.set["password-file"] || f.askPassword:
		pw, err := readPassword(f, stdin, stderr)
		if err != nil {
			return nil, err
		}
		body["password"] = pw
	}
	return body, nil
}

// parseExpires reads -expires: a local time like the web form's (2026-12-07T08:00, also
// with a space), or RFC 3339 with a zone; it must lie ahead.
func parseExpires(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	var t time.Time
	var err error
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", time.RFC3339} {
		if layout == time.RFC3339 {
			t, err = time.Parse(layout, s)
		} else {
			t, err = time.ParseInLocation(layout, s, now.Location())
		}
		if err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, usageError(fmt.Sprintf("-expires %q is not a time like 2026-12-07T08:00 (local) or 2026-12-07T08:00:00+01:00", s))
	}
	if !t.After(now) {
		return time.Time{}, usageError(fmt.Sprintf("-expires %s is in the past", t.Format("2006-01-02 15:04 MST")))
	}
	return t, nil
}

// readPassword reads the room's password from -password-file (one line; a trailing
// newline is not part of it) or asks twice on the terminal.
func readPassword(f *hostRoomFlags, stdin io.Reader, stderr io.Writer) (string, error) {
	if f.set["password-file"] {
		data, err := readSmall(f.passwordFile, stdin)
		if err != nil {
			return "", fmt.Errorf("-password-file: %w", err)
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if pw == "" {
			return "", errors.New("-password-file: the password is empty (-no-password removes one)")
		}
		return pw, nil
	}
	in, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", errors.New("-ask-password needs a terminal; give the password with -password-file FILE, or -password-file - on standard input")
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	pw, err := ask("Room password: ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("the password is empty (-no-password removes one)")
	}
	again, err := ask("Again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the two passwords differ; nothing changed")
	}
	return pw, nil
}
