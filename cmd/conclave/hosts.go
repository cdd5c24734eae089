package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"conclave/secret"
	"conclave/store"
)

// fileConfig is the hosts part of the older configuration file, where hosts were kept
// before the data directory: they are imported into the store once (importConfigHosts)
// and not written there any more.
type fileConfig struct {
	Hosts []hostEntry `toml:"host"`
}

type hostEntry struct {
	ID      string `toml:"id"`
	Name    string `toml:"name"`
	KeyHash string `toml:"key_hash"`
}

// loadConfig reads path; a missing file is an empty configuration.
func loadConfig(path string) (fileConfig, error) {
	var c fileConfig
	text, err := readConfigFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fileConfig{}, nil
	}
	if _, ok := errors.AsType[*ConfigError](err); ok {
		return fileConfig{}, err
	}
	if err == nil {
		_, err = toml.Decode(text, &c)
	}
	if err != nil {
		return fileConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// hasConfigHosts reports whether the configuration file at path lists hosts, or cannot
// be read (the import then says why).
func hasConfigHosts(path string) bool {
	c, err := loadConfig(path)
	return err != nil || len(c.Hosts) > 0
}

// newHostKey makes a host key "<id>.<secret>" and its stored entry. The secret is 256
// random bits, so it is stored as a keyed hash (HMAC-SHA256 under a random per-entry
// key): checking it costs no argon2. Older entries hold argon2id hashes; those still
// verify.
func newHostKey(name string) (string, hostEntry) {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	id := hex.EncodeToString(b[:])
	sec := secret.Random(32)
	return id + "." + sec, hostEntry{ID: id, Name: name, KeyHash: secret.KeyedHash(sec)}
}

// hostCommand runs `conclave host add|list|remove` on the data directory: through the
// running server's admin socket, so that a change counts at once, or on the store itself
// while no server runs (operator.go).
func hostCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return hostCommandIO(args, getenv, os.Stdin, stdout, stderr)
}

// hostCommandIO is hostCommand reading -name-file - from stdin.
func hostCommandIO(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("conclave host", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := dataFlag(fs, getenv)
	def := getenv("CONCLAVE_CONFIG")
	if def == "" {
		def = "conclave.toml"
	}
	config := fs.String("config", def, "older configuration file whose hosts are moved into the data directory once (env CONCLAVE_CONFIG)")
	// A host's name is a person's, as often as not: on the command line it stands in
	// ps for every local user and in the shell's history.
	nameFile := fs.String("name-file", "", `add, remove: read the host's name from this file ("-": standard input) instead of the command line`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: conclave host [-data DIR] add NAME | list | remove NAME|ID\n       conclave host [-data DIR] -name-file FILE add | remove")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		fs.Usage()
		return usageError("missing host subcommand")
	}
	named := 2 // add and remove take the name as their argument, or from -name-file
	if *nameFile != "" {
		named = 1
	}
	switch {
	case rest[0] == "list" && len(rest) == 1 && *nameFile == "", rest[0] == "add" && len(rest) == named, rest[0] == "remove" && len(rest) == named:
	case rest[0] == "list" || rest[0] == "add" || rest[0] == "remove":
		return usageError("usage: conclave host add NAME | list | remove NAME|ID (with -name-file FILE: add | remove)")
	default:
		fs.Usage()
		return usageError(fmt.Sprintf("unknown host subcommand %q", rest[0]))
	}
	if *nameFile != "" {
		data, err := readSmall(*nameFile, stdin)
		if err != nil {
			return fmt.Errorf("name: %w", err)
		}
		// An editor's byte-order mark is no part of the name (TrimSpace keeps it).
		rest = append(rest, strings.TrimPrefix(string(data), "\ufeff"))
	}
	if *data == "" && rest[0] != "list" {
		return errNoData
	}
	where := *data
	if where == "" {
		where = "memory (-data \"\")"
	}
	var name string
	if rest[0] == "add" {
		// Checked before anything is opened: a bad name changes nothing.
		if name = strings.TrimSpace(rest[1]); !validHostName(name) {
			return errors.New("a host name is 1 to 64 characters, without control characters, not . or .., and not 12 of the digits 0-9 and a-f (the form of a host id)")
		}
	}
	// Only add makes a data directory, and the first command that finds hosts in the
	// older configuration file to move there (README, Hosts).
	op, direct, err := connectOperator(*data, rest[0] == "add" || hasConfigHosts(*config))
	if err != nil {
		return err
	}
	defer op.Close()
	ctx := context.Background()
	if direct {
		// The server imports the old file's hosts at start; doing it here too means the
		// commands see the hosts the server will, even before its first start.
		st := op.(*storeOperator).st
		if added, done, err := importConfigHosts(ctx, st, *config, time.Now()); err != nil {
			return err
		} else if done && added > 0 && *data != "" {
			fmt.Fprintf(stderr, "Moved %d host(s) from %s into %s (once; the file's hosts are not read again).\n", added, *config, *data)
		}
	}
	when := "from the server's next start"
	if op.Live() {
		when = "now: the running server took the change"
	}
	switch rest[0] {
	case "add":
		key, entry := newHostKey(name)
		switch err := op.AddHost(ctx, store.Host{ID: entry.ID, Name: name, KeyHash: entry.KeyHash, Created: time.Now()}); {
		case errors.Is(err, store.ErrExists):
			return fmt.Errorf("a host named %q exists; remove it first", name)
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "Added host %q to %s.\nHost key (shown only now; only its hash is stored):\n\n  %s\n\nIt creates meetings %s.\n", name, where, key, when)
		return nil
	case "list":
		hosts, err := op.Hosts(ctx)
		if err != nil {
			return err
		}
		if len(hosts) == 0 {
			fmt.Fprintf(stdout, "No hosts in %s.\n", where)
		}
		for _, h := range hosts {
			fmt.Fprintf(stdout, "%s\t%s\n", h.ID, h.Name)
		}
		return nil
	}
	// remove, by name or id
	who := strings.TrimSpace(rest[1])
	switch _, n, err := op.RemoveHost(ctx, who); {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("no host %q in %s", who, where)
	case err != nil:
		return err
	default:
		fmt.Fprintf(stdout, "Removed host %q and their %d room(s). Their key no longer creates meetings (%s).\n", who, n, when)
		return nil
	}
}

// usageErr is a command line that does not say what to do; it exits with 2.
type usageErr string

func (e usageErr) Error() string        { return string(e) }
func (e usageErr) Is(target error) bool { return target == errUsage }

func usageError(msg string) error { return usageErr(msg) }
