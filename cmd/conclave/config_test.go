package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestConfigPrecedence: a flag beats its CONCLAVE_* variable, which beats the file, which
// beats the default; for strings, numbers, switches, durations and lists.
func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "c.toml", `
http = "0.0.0.0:7000"
max-conns-per-addr = 300
behind-proxy = true
knock-timeout = "5m"
public-ip = ["192.0.2.1", "192.0.2.2"]

[[host]]
id = "abc"
name = "Alice"
key_hash = "$hmac-sha256$x"
`)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want func(o options) bool
	}{
		{"defaults without a file", []string{"-config", ""}, nil, func(o options) bool {
			return o.httpAddr == "localhost:8080" && o.limits.maxConnsPerAddr == 200 && !o.behindProxy && o.knockTimeout == 15*time.Minute && o.publicIPs == ""
		}},
		{"file over defaults", []string{"-config", file}, nil, func(o options) bool {
			return o.httpAddr == "0.0.0.0:7000" && o.limits.maxConnsPerAddr == 300 && o.behindProxy && o.knockTimeout == 5*time.Minute && o.publicIPs == "192.0.2.1,192.0.2.2"
		}},
		{"file named by CONCLAVE_CONFIG", nil, map[string]string{"CONCLAVE_CONFIG": file}, func(o options) bool {
			return o.httpAddr == "0.0.0.0:7000" && o.config == file
		}},
		{"environment over file", []string{"-config", file}, map[string]string{"CONCLAVE_HTTP": ":7001", "CONCLAVE_MAX_CONNS_PER_ADDR": "301", "CONCLAVE_BEHIND_PROXY": "false", "CONCLAVE_KNOCK_TIMEOUT": "6m"}, func(o options) bool {
			return o.httpAddr == ":7001" && o.limits.maxConnsPerAddr == 301 && !o.behindProxy && o.knockTimeout == 6*time.Minute && o.publicIPs == "192.0.2.1,192.0.2.2"
		}},
		{"flag over environment and file", []string{"-config", file, "-http", ":7002", "-max-conns-per-addr", "302", "-behind-proxy=false", "-knock-timeout", "7m"}, map[string]string{"CONCLAVE_HTTP": ":7001", "CONCLAVE_MAX_CONNS_PER_ADDR": "301"}, func(o options) bool {
			return o.httpAddr == ":7002" && o.limits.maxConnsPerAddr == 302 && !o.behindProxy && o.knockTimeout == 7*time.Minute
		}},
		{"environment over default", []string{"-config", ""}, map[string]string{"CONCLAVE_MAX_WAITING": "7", "CONCLAVE_LOOPBACK": "1"}, func(o options) bool {
			return o.maxWaiting == 7 && o.loopback
		}},
	} {
		o, err := parseOptions(tc.args, envOf(tc.env), io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !tc.want(o) {
			t.Errorf("%s: got %+v", tc.name, o)
		}
	}
	// The hosts in the same file are still read by loadConfig.
	if cfg, err := loadConfig(file); err != nil || len(cfg.Hosts) != 1 || cfg.Hosts[0].Name != "Alice" {
		t.Fatalf("hosts from the configuration file: %+v %v", cfg, err)
	}
}

// TestConfigErrorsNameTheKey: a key that is no setting, a value of the wrong type, one the
// flag refuses, a file that does not parse and a bad environment variable are each a
// *ConfigError naming the key and where it came from.
func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct {
		content string
		key     string
		want    string
	}{
		{`htp = ":80"`, "htp", "unknown key"},
		{`max_conns = 3`, "max_conns", `did you mean "max-conns"`},
		{`max-conns = "many"`, "max-conns", "want a whole number, not a string"},
		{`behind-proxy = "yes"`, "behind-proxy", "want true or false"},
		{`knock-timeout = 15`, "knock-timeout", "want a duration in quotes"},
		{`knock-timeout = "soon"`, "knock-timeout", `invalid value "soon"`},
		{`http = 8080`, "http", "want a string or a list of strings, not a whole number"},
		{`public-ip = ["192.0.2.1", 7]`, "public-ip", "list of strings"},
		{`config = "other.toml"`, "config", "cannot name another"},
		{"[server]\nhttp = \":80\"", "server", "unknown key"},
		{"[[hosts]]\nname = \"Ann\"", "hosts", "unknown key"},
		{`max-conns = 0`, "max-conns", "must be positive, not 0"},
		{`max-conns = 4611686018427387904`, "max-conns", "must be at most 1000000"},
		{`max-waiting = 10001`, "max-waiting", "must be at most 10000, not 10001"},
		{`public-ip = "meet.example.org"`, "public-ip", `"meet.example.org" is not an IP address`},
		{`public-ip = ["192.0.2.1", "203.0.113.300"]`, "public-ip", `"203.0.113.300" is not an IP address`},
		{`public-ip = "192.0.2.1/meet"`, "public-ip", "is not an IP address"},
		{"behind-proxy = true\ntrusted-proxies = \"\"", "trusted-proxies", "needs at least one proxy"},
		{`trusted-proxies = "not-an-address"`, "trusted-proxies", "not-an-address"},
		{`log-level = "loud"`, "log-level", `"loud" is not debug`},
	} {
		path := writeFile(t, "conclave.toml", tc.content)
		_, err := parseOptions([]string{"-config", path}, envOf(nil), io.Discard)
		ce, ok := errors.AsType[*ConfigError](err)
		if !ok || ce.Key != tc.key || ce.File != path || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"`+tc.key+`"`) {
			t.Errorf("%s: error %v, want a ConfigError for key %q in %s saying %q", tc.content, err, tc.key, path, tc.want)
		}
	}
	// A file that does not parse: the line is named.
	path := writeFile(t, "conclave.toml", "http = \":80\"\nmax-conns = = 3\n")
	if _, err := parseOptions([]string{"-config", path}, envOf(nil), io.Discard); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("syntax error: %v", err)
	}
	// A bad environment variable names itself.
	_, err := parseOptions([]string{"-config", ""}, envOf(map[string]string{"CONCLAVE_MAX_CONNS": "lots"}), io.Discard)
	if ce, ok := errors.AsType[*ConfigError](err); !ok || ce.Env != "CONCLAVE_MAX_CONNS" || !strings.Contains(err.Error(), "CONCLAVE_MAX_CONNS") {
		t.Errorf("bad environment variable: %v", err)
	}
	_, err = parseOptions([]string{"-config", ""}, envOf(map[string]string{"CONCLAVE_MAX_CONNS": "0"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "environment variable CONCLAVE_MAX_CONNS (-max-conns): must be positive") {
		t.Errorf("zero from the environment: %v", err)
	}
	// A value the command line overrides is still checked in the file.
	path = writeFile(t, "conclave.toml", `max-conns = "x"`)
	if _, err := parseOptions([]string{"-config", path, "-max-conns", "5"}, envOf(nil), io.Discard); err == nil {
		t.Error("a wrong value in the file was accepted because a flag overrides it")
	}
}

// TestConfigFileLookup: conclave.toml is read when it exists and skipped when it does
// not; a file named by -config or CONCLAVE_CONFIG must exist.
func TestConfigFileLookup(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, err := parseOptions(nil, envOf(nil), io.Discard); err != nil {
		t.Fatalf("no conclave.toml: %v", err)
	}
	if err := os.WriteFile("conclave.toml", []byte("max-waiting = 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o, err := parseOptions(nil, envOf(nil), io.Discard); err != nil || o.maxWaiting != 9 {
		t.Fatalf("conclave.toml not read: %d %v", o.maxWaiting, err)
	}
	if o, err := parseOptions([]string{"-config", ""}, envOf(nil), io.Discard); err != nil || o.maxWaiting != 100 {
		t.Fatalf(`-config "" read conclave.toml: %d %v`, o.maxWaiting, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.toml")
	for _, tc := range []struct {
		args []string
		env  map[string]string
	}{{[]string{"-config", missing}, nil}, {nil, map[string]string{"CONCLAVE_CONFIG": missing}}} {
		_, err := parseOptions(tc.args, envOf(tc.env), io.Discard)
		if ce, ok := errors.AsType[*ConfigError](err); !ok || ce.File != missing || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("%v %v: error %v, want: the file does not exist", tc.args, tc.env, err)
		}
	}
}

// defaultOptions are the options of no file, no environment and no flags.
func defaultOptions(t *testing.T) options {
	t.Helper()
	o, err := parseOptions([]string{"-config", ""}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func example(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := configCommand([]string{"example"}, &b, io.Discard); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestConfigExampleRoundTrip: the example lists every flag but -config, loads back as it
// is, and with every setting uncommented it sets exactly the defaults.
func TestConfigExampleRoundTrip(t *testing.T) {
	text := example(t)
	def := defaultOptions(t)
	setting := regexp.MustCompile(`(?m)^# ([a-z0-9-]+) = .*$`)
	listed := map[string]bool{}
	for _, m := range setting.FindAllStringSubmatch(text, -1) {
		listed[m[1]] = true
	}
	for f := range helpFlags(t) {
		if !listed[f] && f != "config" {
			t.Errorf("the example lacks -%s", f)
		}
	}
	if listed["config"] {
		t.Error("the example sets config")
	}
	uncommented := setting.ReplaceAllStringFunc(text, func(line string) string { return strings.TrimPrefix(line, "# ") })
	for name, content := range map[string]string{"as printed": text, "uncommented": uncommented} {
		path := writeFile(t, "example.toml", content)
		o, err := parseOptions([]string{"-config", path}, envOf(nil), io.Discard)
		if err != nil {
			t.Errorf("example %s: %v", name, err)
			continue
		}
		o.config = ""
		if !reflect.DeepEqual(o, def) {
			t.Errorf("example %s sets\n%+v\nnot the defaults\n%+v", name, o, def)
		}
	}
}

// TestDeployExampleIsCurrent: deploy/conclave.example.toml is what the generator prints.
func TestDeployExampleIsCurrent(t *testing.T) {
	have, err := os.ReadFile(filepath.Join("..", "..", "deploy", "conclave.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != example(t) {
		t.Error("deploy/conclave.example.toml is stale; regenerate it: go run ./cmd/conclave config example > deploy/conclave.example.toml")
	}
}

// TestConfigCommand: the binary prints the example, and refuses other config subcommands.
func TestConfigCommand(t *testing.T) {
	if code, stdout, stderr := runMain(t, "config", "example"); code != 0 || stdout != example(t) {
		t.Errorf("conclave config example: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runMain(t, "config", "frobnicate"); code != 2 || !strings.Contains(stderr, "usage: conclave config example") {
		t.Errorf("conclave config frobnicate: exit %d, stderr %q", code, stderr)
	}
	// A configuration error at start is printed, naming the key, and exits 2.
	path := writeFile(t, "bad.toml", "htp = 1\n")
	if code, stdout, stderr := runMain(t, "-config", path); code != 2 || !strings.Contains(stderr, `key "htp": unknown key`) || stdout != "" {
		t.Errorf("bad config: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestConfigChecksHostTables: the file's [[host]] tables are checked with the settings,
// so privacy-report refuses what serve would and a misspelled key is named. host =
// "meet.example.org" stopped the server at start but passed privacy-report, and a table
// with key-hash for key_hash passed the report and stopped the server with "a host needs
// an id, a name and a key hash"; an unknown key was dropped without a word.
func TestConfigChecksHostTables(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{`host = "meet.example.org"`, "server-name"},
		{"[host]\nid = \"0123456789ab\"", "want [[host]] tables"},
		{"[[host]]\nid = \"0123456789ab\"\nname = \"Old\"\nkey-hash = \"$hmac-sha256$x\"", `unknown key "key-hash"`},
		{"[[host]]\nid = \"0123456789ab\"\nname = \"Old\"\nkey_hash = \"$hmac-sha256$x\"\nrole = \"admin\"", `unknown key "role"`},
		{"[[host]]\nid = \"0123456789ab\"\nname = \"Old\"", `"key_hash" is missing`},
		{"[[host]]\nid = 12\nname = \"Old\"\nkey_hash = \"$hmac-sha256$x\"", `key "id": want a string`},
	} {
		file := writeFile(t, "c.toml", tc.file)
		_, err := parseOptions([]string{"-config", file}, envOf(nil), io.Discard)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != "host" || ce.File != file || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want a ConfigError about key host saying %q", tc.file, err, tc.want)
		}
		var out bytes.Buffer
		if err := reportCommand([]string{"-config", file}, envOf(nil), &out, io.Discard); !errors.As(err, new(badSettings)) || out.Len() > 0 {
			t.Errorf("%q: privacy-report: %v (%d bytes written), want the refusal of bad settings", tc.file, err, out.Len())
		}
	}
	good := writeFile(t, "c.toml", "[[host]]\nid = \"0123456789ab\"\nname = \"Old\"\nkey_hash = '$hmac-sha256$x'\n\n[[host]]\nid = \"0123456789ac\"\nname = \"Older\"\nkey_hash = '$argon2id$v=19$m=1,t=1,p=1$a$b'\n")
	if _, err := parseOptions([]string{"-config", good}, envOf(nil), io.Discard); err != nil {
		t.Errorf("good host tables: %v", err)
	}
}

// TestStrayEnvironmentIsNamed: a CONCLAVE_* variable no setting reads is named at start
// with the nearest setting's variable, and its value is not repeated; the settings' own
// variables, the test suite's and other programs' are not.
func TestStrayEnvironmentIsNamed(t *testing.T) {
	fs := newFlagSet(&options{}, io.Discard)
	got := strayEnv(fs, []string{
		"CONCLAVE_MAX_PARTICIPANT=150", "CONCLAVE_MAX_PARTICIPANTS=150", "CONCLAVE_DATA=/srv/x",
		"CONCLAVE_SERVERNAME=meet.example.org", "CONCLAVE_FROBNICATE=secret-value", "CONCLAVE_XVFB=1",
		"HOME=/root", "CONCLAVE_ONE_TIME_KEY=print", "CONCLAVE_CONFIG=c.toml", "NOT_CONCLAVE_X=1",
	})
	want := []string{
		"CONCLAVE_FROBNICATE is no setting of conclave and is ignored",
		"CONCLAVE_MAX_PARTICIPANT is no setting of conclave and is ignored (did you mean CONCLAVE_MAX_PARTICIPANTS?)",
		"CONCLAVE_SERVERNAME is no setting of conclave and is ignored (did you mean CONCLAVE_SERVER_NAME?)",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("strayEnv:\n got %q\nwant %q", got, want)
	}
}

// TestStrayEnvKnowsTheTree: every CONCLAVE_* variable a Go file or script of the tree
// reads or sets is a setting's or in testEnv, so that strayEnv does not warn of one at
// start. Names in tests' strings that stand for misspellings are listed here.
func TestStrayEnvKnowsTheTree(t *testing.T) {
	made := map[string]bool{"CONCLAVE_FROBNICATE": true, "CONCLAVE_MAX_PARTICIPANT": true, "CONCLAVE_SERVERNAME": true, "CONCLAVE_SOME_NAME": true, "CONCLAVE_X": true}
	name := regexp.MustCompile(`CONCLAVE_[A-Z0-9_]*[A-Z0-9]`)
	var env []string
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sh")) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range name.FindAllString(string(b), -1) {
			if !made[n] {
				env = append(env, n+"=1")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(env) == 0 {
		t.Fatal("no CONCLAVE_ name found in the tree")
	}
	if stray := strayEnv(newFlagSet(&options{}, io.Discard), env); len(stray) > 0 {
		t.Errorf("names the tree uses that strayEnv would warn of (add them to testEnv):\n%s", strings.Join(slices.Compact(stray), "\n"))
	}
}
