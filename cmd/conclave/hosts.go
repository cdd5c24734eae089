package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"conclave/secret"
	"conclave/signaling"
)

// fileConfig is the server's configuration file. It holds only what an operator
// chose to keep: the hosts who may create meetings, as hashes of their keys.
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
	if _, err := toml.DecodeFile(path, &c); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fileConfig{}, nil
		}
		return fileConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// saveConfig writes c to path atomically, readable by its owner only.
func saveConfig(path string, c fileConfig) error {
	if err := refuseSettingsFile(path); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".conclave-*.toml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	fmt.Fprintln(tmp, "# Conclave configuration. Host keys are stored as keyed hashes only.")
	if err := toml.NewEncoder(tmp).Encode(c); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (c fileConfig) hosts() []signaling.Host {
	out := make([]signaling.Host, 0, len(c.Hosts))
	for _, h := range c.Hosts {
		out = append(out, signaling.Host{ID: h.ID, Name: h.Name, KeyHash: h.KeyHash})
	}
	return out
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

// hostCommand runs `conclave host add|list|remove`.
func hostCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("conclave host", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := getenv("CONCLAVE_CONFIG")
	if def == "" {
		def = "conclave.toml"
	}
	path := fs.String("config", def, "configuration file (env CONCLAVE_CONFIG)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: conclave host [-config FILE] add NAME | list | remove NAME")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errors.New("missing host subcommand")
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	switch rest[0] {
	case "add":
		if len(rest) != 2 {
			return errors.New("usage: conclave host add NAME")
		}
		name := strings.TrimSpace(rest[1])
		if name == "" || utf8.RuneCountInString(name) > 64 {
			return errors.New("a host name is 1 to 64 characters")
		}
		for _, h := range cfg.Hosts {
			if h.Name == name {
				return fmt.Errorf("a host named %q exists; remove it first", name)
			}
		}
		key, entry := newHostKey(name)
		cfg.Hosts = append(cfg.Hosts, entry)
		if err := saveConfig(*path, cfg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added host %q to %s.\nHost key (shown only now; only its hash is stored):\n\n  %s\n\n", name, *path, key)
		return nil
	case "list":
		if len(cfg.Hosts) == 0 {
			fmt.Fprintf(stdout, "No hosts in %s.\n", *path)
		}
		for _, h := range cfg.Hosts {
			fmt.Fprintf(stdout, "%s\t%s\n", h.ID, h.Name)
		}
		return nil
	case "remove":
		if len(rest) != 2 {
			return errors.New("usage: conclave host remove NAME")
		}
		kept := cfg.Hosts[:0]
		for _, h := range cfg.Hosts {
			if h.Name != rest[1] && h.ID != rest[1] {
				kept = append(kept, h)
			}
		}
		if len(kept) == len(cfg.Hosts) {
			return fmt.Errorf("no host %q", rest[1])
		}
		cfg.Hosts = kept
		if err := saveConfig(*path, cfg); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Removed host %q. Their key no longer creates meetings (after a restart of the server).\n", rest[1])
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown host subcommand %q", rest[0])
}
