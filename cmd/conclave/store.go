package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"conclave/signaling"
	"conclave/store"
)

// dataStore is what the server's start and the host and room commands need of a store:
// store.Bolt in a data directory, store.Memory with -data "".
type dataStore interface {
	signaling.RoomStore // what the server needs of rooms
	Hosts(context.Context) ([]store.Host, error)
	CreateHost(context.Context, store.Host) error
	DeleteHost(context.Context, string) error
	ImportHosts(context.Context, []store.Host) (added int, done bool, err error)
	AllRooms(context.Context) ([]store.Room, error)
	Close() error
}

// defaultDataDir is the data directory when neither -data nor CONCLAVE_DATA says
// otherwise: next to where conclave runs.
const defaultDataDir = "conclave-data"

// dataFlag adds -data to fs, defaulting to CONCLAVE_DATA or defaultDataDir. An empty
// CONCLAVE_DATA counts as unset; `-data ""` is the way to ask for no data directory.
func dataFlag(fs *flag.FlagSet, getenv func(string) string) *string {
	def := getenv("CONCLAVE_DATA")
	if def == "" {
		def = defaultDataDir
	}
	return fs.String("data", def, `data directory with the hosts and rooms (env CONCLAVE_DATA); "" keeps everything in memory and writes nothing`)
}

// openStore opens the store in dir, or an empty in-memory one for "".
func openStore(dir string, opts ...store.Option) (dataStore, error) {
	if dir == "" {
		return store.NewMemory(), nil
	}
	b, err := store.OpenBolt(dir, opts...)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// importConfigHosts moves the hosts of the old configuration file into the store, once:
// a data directory remembers that it imported them, so a host removed later does not
// come back, and running it again changes nothing. It says how many, never who.
func importConfigHosts(ctx context.Context, st dataStore, configPath string, now time.Time) (added int, done bool, err error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return 0, false, err
	}
	hosts := make([]store.Host, 0, len(cfg.Hosts))
	for _, h := range cfg.Hosts {
		hosts = append(hosts, store.Host{ID: h.ID, Name: h.Name, KeyHash: h.KeyHash, Created: now})
	}
	added, done, err = st.ImportHosts(ctx, hosts)
	if err != nil {
		return 0, false, fmt.Errorf("importing the hosts of %s: %w", configPath, err)
	}
	return added, done, nil
}

// signalingHosts are the store's hosts as the signaling server takes them.
func signalingHosts(hosts []store.Host) []signaling.Host {
	out := make([]signaling.Host, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, signaling.Host{ID: h.ID, Name: h.Name, KeyHash: h.KeyHash})
	}
	return out
}

// parseInterleaved parses fs's flags wherever they stand among the positional arguments
// (`conclave room list -host Alice` as well as `conclave room -host Alice list`), and
// returns the positional ones. After "--" everything is positional. A room id is
// positional even when it begins with "-" (one in 64 random ids does): it is 22
// characters of base64url, which no flag of ours is.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--":
			return append(pos, args[1:]...), nil
		case a == "-" || !strings.HasPrefix(a, "-") || looksLikeRoomID(a):
			pos, args = append(pos, a), args[1:]
			continue
		}
		// One flag, with its value when it takes one and it is not given with "=".
		n := 1
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") {
			if f := fs.Lookup(name); f != nil && !isBoolFlag(f) && len(args) > 1 {
				n = 2
			}
		}
		if err := fs.Parse(args[:n]); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, usageError(err.Error())
		}
		args = args[n:]
	}
	return pos, nil
}

// looksLikeRoomID reports whether s has the shape of a room id: 16 bytes in unpadded base64url.
func looksLikeRoomID(s string) bool {
	if len(s) != 22 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 16
}

// isBoolFlag reports whether f is a switch that takes no value (-help, -v).
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// errNoData refuses a change with -data "": nothing would keep it.
var errNoData = errors.New(`-data is "": a change would be kept nowhere; give the data directory the server uses (-data DIR or CONCLAVE_DATA)`)

// dropOrphanRooms deletes the rooms whose host is gone: those made with a one-time key
// (valid until the server stops) and those of a host removed while the rooms stayed.
// Nobody could manage them, and their links were promised only while the key lasted.
// The log gives a count only.
func dropOrphanRooms(ctx context.Context, st dataStore, hosts []signaling.Host, log *slog.Logger) error {
	known := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		known[h.ID] = true
	}
	rooms, err := st.AllRooms(ctx)
	if err != nil {
		return err
	}
	dropped := 0
	for _, r := range rooms {
		if known[r.HostID] {
			continue
		}
		if err := st.DeleteRoom(ctx, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		dropped++
	}
	if dropped > 0 {
		log.Info("deleted rooms whose host is gone (made with a one-time key, or of a removed host)", "rooms", dropped)
	}
	return nil
}
