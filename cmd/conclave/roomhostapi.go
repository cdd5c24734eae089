package main

// What a host's room commands do over the Rooms API (hostRoomCommand reads the command
// line in roomhost.go): create a room with keys derived from the host link, show its
// links, change its settings, rotate its links, list the host's rooms, and print them.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"conclave/e2ee"
)

// hostRooms does the host's room commands.
type hostRooms struct {
	c   *roomsClient
	f   *hostRoomFlags
	out io.Writer
	now func() time.Time
}

// newRoomID makes a room id as the browser does: 128 random bits, base64url.
func newRoomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *hostRooms) create(ctx context.Context, body map[string]any) error {
	id := newRoomID()
	keys, err := e2ee.DeriveRoomKeys(h.c.link.rk, id)
	if err != nil {
		return err
	}
	title, err := e2ee.EncryptTitle(keys.MeetingSecret, strings.TrimSpace(h.f.title), nil)
	if err != nil {
		return err
	}
	body["id"], body["moderatorSecret"], body["title"] = id, keys.ModeratorSecret, title
	var made roomMade
	if err := h.c.call(ctx, http.MethodPost, "/api/rooms", body, &made); err != nil {
		return err
	}
	if made.Room.ID != id {
		return errors.New("the server made the room under another id than the one asked for; its links cannot be derived (delete it in the web UI)")
	}
	h.printLinks("Created room", made.Room, keys, strings.TrimSpace(h.f.title))
	return nil
}

// room fetches one of the host's rooms and, if this host link's rk made it, its keys
// and title; ok is false for a room whose links were not derived from this rk.
func (h *hostRooms) room(ctx context.Context, id string) (r apiRoom, keys e2ee.RoomKeys, title string, ok bool, err error) {
	if !e2ee.ValidRoomID(id) {
		return r, keys, "", false, fmt.Errorf("no room %q: a room id is 22 characters of base64url", id)
	}
	if err := h.c.call(ctx, http.MethodGet, "/api/rooms/"+id, nil, &r); err != nil {
		return r, keys, "", false, notFoundSays(err, id)
	}
	keys, title, ok = h.open(r)
	return r, keys, title, ok, nil
}

// open derives a room's keys and opens its title; a title that does not open means the
// room's links were not made from this rk (another host link, or the server made them).
func (h *hostRooms) open(r apiRoom) (e2ee.RoomKeys, string, bool) {
	keys, err := e2ee.DeriveRoomKeys(h.c.link.rk, r.ID)
	if err != nil || r.Title == "" {
		return e2ee.RoomKeys{}, "", false
	}
	title, err := e2ee.DecryptTitle(keys.MeetingSecret, r.Title)
	if err != nil {
		return e2ee.RoomKeys{}, "", false
	}
	return keys, title, true
}

// errNotDerived is a room whose links this host link cannot show.
func errNotDerived(id string) error {
	return fmt.Errorf("room %s's links were not made from this host link's room secret (another host link made them, or the server): they cannot be shown again; `room rotate %s` gives it new links that can be (the old ones stop)", id, id)
}

func (h *hostRooms) links(ctx context.Context, id string) error {
	r, keys, title, ok, err := h.room(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return errNotDerived(id)
	}
	h.printLinks("Room", r, keys, title)
	return nil
}

func (h *hostRooms) change(ctx context.Context, id string, body map[string]any) error {
	r, keys, _, ok, err := h.room(ctx, id)
	if err != nil {
		return err
	}
	if h.f.set["title"] {
		if !ok {
			return fmt.Errorf("room %s's title cannot be set with this host link: its key was not made from this link's room secret (`room rotate %s` first); nothing changed", id, id)
		}
		if body["title"], err = e2ee.EncryptTitle(keys.MeetingSecret, strings.TrimSpace(h.f.title), nil); err != nil {
			return err
		}
	}
	var after apiRoom
	if err := h.c.call(ctx, http.MethodPatch, "/api/rooms/"+r.ID, body, &after); err != nil {
		return notFoundSays(err, id)
	}
	fmt.Fprintf(h.out, "Changed room %s (from its next meeting): %s.\n", id, h.facts(after))
	return nil
}

func (h *hostRooms) rotate(ctx context.Context, id string) error {
	r, _, title, _, err := h.room(ctx, id)
	if err != nil {
		return err
	}
	newID := newRoomID()
	keys, err := e2ee.DeriveRoomKeys(h.c.link.rk, newID)
	if err != nil {
		return err
	}
	// A title this link could not open becomes empty, as in the web UI.
	sealed, err := e2ee.EncryptTitle(keys.MeetingSecret, title, nil)
	if err != nil {
		return err
	}
	var made roomMade
	body := map[string]any{"id": newID, "moderatorSecret": keys.ModeratorSecret, "title": sealed}
	if err := h.c.call(ctx, http.MethodPost, "/api/rooms/"+r.ID+"/rotate", body, &made); err != nil {
		return notFoundSays(err, id)
	}
	if made.Room.ID != newID {
		return errors.New("the server gave the room another id than the one asked for; its links cannot be derived")
	}
	fmt.Fprintf(h.out, "Room %s now has new links; the old ones no longer work and a meeting going on under them ended.\n", id)
	h.printLinks("Room", made.Room, keys, title)
	return nil
}

func (h *hostRooms) list(ctx context.Context) error {
	var l roomList
	if err := h.c.call(ctx, http.MethodGet, "/api/rooms", nil, &l); err != nil {
		return err
	}
	if len(l.Rooms) == 0 {
		fmt.Fprintln(h.out, "No rooms.")
		return nil
	}
	tw := tabwriter.NewWriter(h.out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tEXPIRES\tSETTINGS\tPASSWORD")
	for _, r := range l.Rooms {
		_, title, ok := h.open(r)
		switch {
		case !ok:
			title = "(links not from this host link)"
		case title == "":
			title = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, oneLine(title), expiresText(r), settingsText(r.Settings, r.E2EE), yesNo(r.PasswordSet))
	}
	return tw.Flush()
}

func expiresText(r apiRoom) string {
	if r.Expires == nil {
		return "never (standing)"
	}
	return r.Expires.Local().Format("2006-01-02 15:04 MST")
}

func (h *hostRooms) facts(r apiRoom) string {
	return fmt.Sprintf("expires %s; settings %s; password %s", expiresText(r), settingsText(r.Settings, r.E2EE), yesNo(r.PasswordSet))
}

// printLinks prints a room's links, or only the one -only names (bare, for scripts).
func (h *hostRooms) printLinks(what string, r apiRoom, keys e2ee.RoomKeys, title string) {
	participant, moderator := roomLinks(h.c.link.origin, r.ID, keys, r.E2EE)
	switch h.f.only {
	case "participant":
		fmt.Fprintln(h.out, participant)
		return
	case "moderator":
		fmt.Fprintln(h.out, moderator)
		return
	}
	if title == "" {
		title = "-"
	}
	fmt.Fprintf(h.out, "%s %s: %s; title %s.\n\n", what, r.ID, h.facts(r), oneLine(title))
	tw := tabwriter.NewWriter(h.out, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "Participant link:\t%s\n", participant)
	fmt.Fprintf(tw, "Moderator link:\t%s\t(full control: co-hosts only)\n", moderator)
	tw.Flush()
	if r.PasswordSet {
		fmt.Fprintln(h.out, "\nThe room has a password: send it separately from the link.")
	}
}

// oneLine keeps a decrypted title from moving the terminal: control characters become
// spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// notFoundSays turns the API's 404 into "no room ID" (another host's room is answered
// like one that does not exist).
func notFoundSays(err error, id string) error {
	if ae, ok := errors.AsType[*roomsAPIError](err); ok && ae.Status == http.StatusNotFound {
		return fmt.Errorf("no room %q among this host's rooms: %w", id, err)
	}
	return err
}
