package main

// The configuration file. Its keys are the flag names of `conclave serve`, so a new flag
// is a new key without further work: loading a file is fs.Set(key, value) for each key,
// then the environment (CONCLAVE_<NAME>), then the command line, each overriding what came
// before. Precedence is therefore flag > environment > file > default, and every value in
// the file is checked by its flag even when something overrides it.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// defaultConfigFile is read when -config and CONCLAVE_CONFIG are not given, if it exists.
const defaultConfigFile = "conclave.toml"

// tableKeys are the file's tables that are not flags: the hosts, read by loadConfig
// (hosts.go) from the same file. ("hosts", which nothing reads, is an unknown key: a
// file that wrote [[hosts]] for [[host]] lost its hosts without a word.)
var tableKeys = map[string]bool{"host": true}

// ConfigError is a setting that cannot be used, naming where it came from and its key.
type ConfigError struct {
	File string // the configuration file, when the setting came from it
	Env  string // the environment variable, when the setting came from it
	Key  string // the flag name; "" for a file that does not parse at all
	Err  error
}

func (e *ConfigError) Error() string {
	switch {
	case e.File != "" && e.Key != "":
		return fmt.Sprintf("config file %s: key %q: %v", e.File, e.Key, e.Err)
	case e.File != "":
		return fmt.Sprintf("config file %s: %v", e.File, e.Err)
	case e.Env != "":
		return fmt.Sprintf("environment variable %s (-%s): %v", e.Env, e.Key, e.Err)
	}
	return fmt.Sprintf("-%s: %v", e.Key, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// envName is the environment variable of a flag: -max-conns is CONCLAVE_MAX_CONNS.
func envName(flagName string) string {
	return "CONCLAVE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// settings records where each flag's value came from, for errors that name it.
type settings struct {
	file        string
	fromFile    map[string]bool
	fromEnv     map[string]bool
	commandLine map[string]bool
}

// set reports whether the operator set flag name anywhere: on the command line, in
// the environment or in the file.
func (s *settings) set(name string) bool {
	return s.commandLine[name] || s.fromEnv[name] || s.fromFile[name]
}

// overriddenFileKeys says, for each key of the configuration file that the command line
// or the environment set as well, that the file's value is not used and what overrides it,
// by key.
func (s *settings) overriddenFileKeys() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(s.fromFile)) {
		switch {
		case s.commandLine[name]:
			out = append(out, fmt.Sprintf("config file %s: key %q is not used: -%s on the command line overrides it (a systemd unit's ExecStart, for example)", s.file, name, name))
		case s.fromEnv[name]:
			out = append(out, fmt.Sprintf("config file %s: key %q is not used: the environment variable %s overrides it", s.file, name, envName(name)))
		}
	}
	return out
}

// errorFor is err about flag name, attributed to the source that set it.
func (s *settings) errorFor(name string, err error) *ConfigError {
	switch {
	case s.commandLine[name]:
		return &ConfigError{Key: name, Err: err}
	case s.fromEnv[name]:
		return &ConfigError{Env: envName(name), Key: name, Err: err}
	case s.fromFile[name]:
		return &ConfigError{File: s.file, Key: name, Err: err}
	}
	return &ConfigError{Key: name, Err: err}
}

// readConfigFile reads the configuration file at path, refusing one another local user
// could have written (configNotPrivate) as a *ConfigError naming it. The file checked is
// the file read (one open, its owner and mode taken from it): checked by name and then
// opened by name again, a link its maker pointed elsewhere in between, or a file replaced
// in a directory others can write in, was read unchecked. A missing or unreadable file
// is the *fs.PathError of the open or read, left to the caller.
func readConfigFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if why := configNotPrivate(fi); why != "" {
		return "", &ConfigError{File: path, Err: fmt.Errorf("refused: %s", why)}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return string(b), nil
}

// applyFile sets the flags named by the keys of the TOML file at path. A key that is no
// flag, a value of the wrong type or one the flag refuses is a *ConfigError naming the key.
func applyFile(fset *flag.FlagSet, path string, s *settings) error {
	text, err := readConfigFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return &ConfigError{File: path, Err: fmt.Errorf("cannot read it: %w", pe.Err)}
		}
		return err
	}
	var raw map[string]any
	md, err := toml.Decode(text, &raw)
	if err != nil {
		return &ConfigError{File: path, Err: err}
	}
	s.file = path
	for _, k := range md.Keys() {
		if len(k) != 1 { // inside a table; the table itself is judged by its top-level key
			continue
		}
		key := k[0]
		fail := func(err error) error { return &ConfigError{File: path, Key: key, Err: err} }
		if tableKeys[key] {
			if err := checkHostTables(raw[key]); err != nil {
				return fail(err)
			}
			continue
		}
		if key == "config" {
			return fail(errors.New("a configuration file cannot name another one; use -config or CONCLAVE_CONFIG"))
		}
		f := fset.Lookup(key)
		if f == nil {
			if alt := strings.ReplaceAll(key, "_", "-"); fset.Lookup(alt) != nil {
				return fail(fmt.Errorf("unknown key; did you mean %q?", alt))
			}
			return fail(errors.New("unknown key (the keys are the flags of conclave -h, without the dash)"))
		}
		text, err := flagText(f, raw[key])
		if err != nil {
			return fail(err)
		}
		if err := fset.Set(key, text); err != nil {
			return fail(fmt.Errorf("invalid value %q: %w", text, err))
		}
		s.fromFile[key] = true
	}
	return nil
}

// hostTableKeys are the keys of a [[host]] table, all strings, as older versions wrote
// them (hostEntry).
var hostTableKeys = []string{"id", "name", "key_hash"}

// checkHostTables checks the file's hosts, which the server moves into the data
// directory (or, with -data "", reads at every start): [[host]] tables of id, name and
// key_hash. Checked with the settings, so that privacy-report refuses what serve would
// (host = "meet.example.org" stopped the server but not the report), and a misspelled
// key is named instead of dropped.
func checkHostTables(v any) error {
	tables, ok := v.([]map[string]any)
	if !ok {
		return fmt.Errorf("want [[host]] tables (the hosts of older versions: %s), not %s; the server's own name is server-name", strings.Join(hostTableKeys, ", "), tomlType(v))
	}
	for i, t := range tables {
		for _, k := range slices.Sorted(maps.Keys(t)) {
			if !slices.Contains(hostTableKeys, k) {
				return fmt.Errorf("host %d: unknown key %q (a host has %s)", i+1, k, strings.Join(hostTableKeys, ", "))
			}
			if _, ok := t[k].(string); !ok {
				return fmt.Errorf("host %d: key %q: want a string, not %s", i+1, k, tomlType(t[k]))
			}
		}
		for _, k := range hostTableKeys {
			if t[k] == "" || t[k] == nil {
				return fmt.Errorf("host %d: %q is missing or empty (a host has %s)", i+1, k, strings.Join(hostTableKeys, ", "))
			}
		}
	}
	return nil
}

// applyEnv sets every flag whose CONCLAVE_* variable is set (and not empty).
func applyEnv(fset *flag.FlagSet, getenv func(string) string, s *settings) error {
	var first error
	fset.VisitAll(func(f *flag.Flag) {
		v := getenv(envName(f.Name))
		if v == "" || first != nil || f.Name == "config" {
			return
		}
		if err := fset.Set(f.Name, v); err != nil {
			first = &ConfigError{Env: envName(f.Name), Key: f.Name, Err: fmt.Errorf("invalid value %q: %w", v, err)}
			return
		}
		s.fromEnv[f.Name] = true
	})
	return first
}

// flagText is a TOML value as the text fs.Set takes, checking its type against the
// flag's: a number for a number, true or false for a switch, a string for a string or a
// duration, and for a string also a list, joined with commas.
func flagText(f *flag.Flag, v any) (string, error) {
	var def any
	if g, ok := f.Value.(flag.Getter); ok {
		def = g.Get()
	}
	want := func(what string) (string, error) {
		return "", fmt.Errorf("want %s, not %s", what, tomlType(v))
	}
	switch def.(type) {
	case bool:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
		return want("true or false")
	case int, int64, uint, uint64:
		if n, ok := v.(int64); ok {
			return strconv.FormatInt(n, 10), nil
		}
		return want("a whole number")
	case float64:
		switch n := v.(type) {
		case int64:
			return strconv.FormatInt(n, 10), nil
		case float64:
			return strconv.FormatFloat(n, 'g', -1, 64), nil
		}
		return want("a number")
	case time.Duration:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return want(`a duration in quotes, like "15m" or "90s"`)
	case string:
		switch x := v.(type) {
		case string:
			return x, nil
		case []any:
			return joinList(x)
		}
		return want("a string or a list of strings")
	}
	// A flag of its own type: any scalar or list, for the flag to judge.
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case []any:
		return joinList(x)
	}
	return want("a string, number, true/false or list")
}

// joinList joins a TOML list of strings with commas, as the flags' lists are written.
func joinList(items []any) (string, error) {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			return "", fmt.Errorf("want a list of strings, but it holds %s", tomlType(it))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ","), nil
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "true/false"
	case int64:
		return "a whole number"
	case float64:
		return "a fractional number"
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date or time"
	}
	return fmt.Sprintf("a %T", v)
}
