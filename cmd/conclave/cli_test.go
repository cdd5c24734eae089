package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"conclave/internal/conntest"
)

// TestMain lets a test run the real main() in a child process (runMain), so the exit
// code and the output of the binary itself are what the tests judge.
func TestMain(m *testing.M) {
	if os.Getenv("CONCLAVE_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"conclave"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runMain runs `conclave args...` (this test binary's main) and returns its exit code,
// stdout and stderr. Addresses are on loopback with free ports, in case it serves.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	// A generous bound only so that a server started by mistake cannot hang the test;
	// the verdict is the exit code, not the time.
	ctx, cancel := context.WithTimeout(context.Background(), conntest.Wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cfg := filepath.Join(t.TempDir(), "empty.toml") // a configuration file named must exist
	if err := os.WriteFile(cfg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "CONCLAVE_TEST_RUN_MAIN=1",
		"CONCLAVE_HTTP=127.0.0.1:0", "CONCLAVE_MEDIA_UDP=127.0.0.1:0", "CONCLAVE_MEDIA_TCP=127.0.0.1:0",
		"CONCLAVE_CONFIG="+cfg, "CONCLAVE_DATA="+filepath.Join(t.TempDir(), "data"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// TestUnknownCommandIsAUsageError: an unknown subcommand or a stray argument stops with
// a usage error (exit 2, the reason on stderr) instead of starting a server.
func TestUnknownCommandIsAUsageError(t *testing.T) {
	for _, args := range [][]string{
		{"privacy-reprot"},
		{"privacy-report", "extra"},
		{"serve", "extra"},
		{"-loopback", "stray"},
		{"serve", "-log-level", "warn", "again", "-http", ":1"},
	} {
		code, stdout, stderr := runMain(t, args...)
		stray := args[len(args)-1]
		if args[0] == "serve" && len(args) > 2 {
			stray = "again"
		}
		if code != 2 || !strings.Contains(stderr, `unknown command or argument "`+stray+`"`) ||
			!strings.Contains(stderr, "usage: conclave") || strings.Contains(stdout, "running") {
			t.Errorf("conclave %s: exit %d, stdout %q, stderr %q; want exit 2 and a usage error", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	// -h is not an error; it lists the flags.
	if code, _, stderr := runMain(t, "-h"); code != 0 || !strings.Contains(stderr, "-loopback") {
		t.Errorf("conclave -h: exit %d, stderr %q", code, stderr)
	}
}

// helpFlags are the flags `conclave -h` prints, with their usage text.
func helpFlags(t *testing.T) map[string]string {
	t.Helper()
	var help bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, func(string) string { return "" }, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	flags := map[string]string{}
	var last string
	for _, line := range strings.Split(help.String(), "\n") {
		if m := regexp.MustCompile(`^  -([a-z0-9-]+)`).FindStringSubmatch(line); m != nil {
			last = m[1]
			flags[last] = ""
		} else if last != "" && strings.HasPrefix(line, "    \t") {
			flags[last] += line
		}
	}
	if len(flags) < 5 {
		t.Fatalf("too few flags in -h: %q", help.String())
	}
	return flags
}

// readmeFlags are the flags of README.md's flag table, each with its env column.
func readmeFlags(t *testing.T) map[string]string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{}
	inTable := false
	name := regexp.MustCompile("`-([a-z0-9-]+)`")
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		if strings.TrimSpace(cells[0]) == "flag" && len(cells) >= 2 && strings.TrimSpace(cells[1]) == "env" {
			inTable = true
			continue
		}
		if !inTable || len(cells) < 2 {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[0], -1) {
			flags[m[1]] = cells[1]
		}
	}
	if len(flags) == 0 {
		t.Fatal(`README.md has no "| flag | env | …" table`)
	}
	return flags
}

// TestReadmeListsEveryFlag: README's flag table and `conclave -h` name the same flags,
// and a flag whose help names an environment variable has it in the table's env column.
func TestReadmeListsEveryFlag(t *testing.T) {
	help, readme := helpFlags(t), readmeFlags(t)
	var notInReadme, notInHelp []string
	for f := range help {
		if _, ok := readme[f]; !ok {
			notInReadme = append(notInReadme, "-"+f)
		}
	}
	for f := range readme {
		if _, ok := help[f]; !ok {
			notInHelp = append(notInHelp, "-"+f)
		}
	}
	sort.Strings(notInReadme)
	sort.Strings(notInHelp)
	if len(notInReadme) > 0 {
		t.Errorf("README.md's flag table lacks %v", notInReadme)
	}
	if len(notInHelp) > 0 {
		t.Errorf("README.md's flag table lists %v, which conclave -h does not", notInHelp)
	}
	env := regexp.MustCompile(`CONCLAVE_[A-Z0-9_]+`)
	for f, usage := range help {
		for _, v := range env.FindAllString(usage, -1) {
			if row, ok := readme[f]; ok && !strings.Contains(row, v) {
				t.Errorf("README.md: -%s's env column lacks %s", f, v)
			}
		}
	}
}

// readmeFlagRows are the rows of README.md's flag table: the flags of each row, its env
// column and its default column.
func readmeFlagRows(t *testing.T) []struct {
	flags      []string
	env, deflt string
} {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		flags      []string
		env, deflt string
	}
	inTable := false
	name := regexp.MustCompile("`-([a-z0-9-]+)`")
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) >= 4 && cells[0] == "flag" && cells[1] == "env" && cells[2] == "default" {
			inTable = true
			continue
		}
		if !inTable || len(cells) < 4 || strings.Trim(cells[0], "-") == "" {
			continue
		}
		var fs []string
		for _, m := range name.FindAllStringSubmatch(cells[0], -1) {
			fs = append(fs, m[1])
		}
		rows = append(rows, struct {
			flags      []string
			env, deflt string
		}{fs, cells[1], cells[2]})
	}
	if len(rows) == 0 {
		t.Fatal(`README.md has no "| flag | env | default | …" table`)
	}
	return rows
}

// TestReadmeFlagDefaults: every flag in README.md's table has its CONCLAVE_ variable in
// the env column, and a default the flag really has. A default cell holds one part per
// flag of its row (", " between them); a part that is a literal (`15m`, `:10000`), "on",
// "off" or nothing is checked against the flag's default; a part that says what the
// default derives from ("twice `-max-participants`", "Let's Encrypt") is left to
// the reader, and the tests of parseOptions.
func TestReadmeFlagDefaults(t *testing.T) {
	var o options
	fs := newFlagSet(&o, io.Discard)
	literal := regexp.MustCompile("^`([^`]*)`(?: \\(|$| if it exists$)")
	for _, row := range readmeFlagRows(t) {
		parts := []string{row.deflt}
		if len(row.flags) > 1 {
			parts = strings.Split(row.deflt, ", ")
			if len(parts) == 1 {
				parts = slices.Repeat(parts, len(row.flags))
			}
			if len(parts) != len(row.flags) {
				t.Errorf("README.md: the default %q of %v has not one part per flag", row.deflt, row.flags)
				continue
			}
		}
		for i, name := range row.flags {
			f := fs.Lookup(name)
			if f == nil {
				continue // TestReadmeListsEveryFlag reports it
			}
			if !strings.Contains(row.env, envName(name)) {
				t.Errorf("README.md: -%s's env column %q lacks %s", name, row.env, envName(name))
			}
			part := strings.TrimSpace(parts[i])
			var doc string
			switch m := literal.FindStringSubmatch(part); {
			case part == "" || part == "off":
				doc = ""
			case part == "on":
				doc = "true"
			case m != nil && !strings.HasPrefix(m[1], "-"): // not "`-max-participants` (at least …)"
				doc = strings.Trim(m[1], `"`)
			default:
				continue // a default described in words
			}
			got := f.DefValue
			if got == "false" && doc == "" {
				continue // a switch that is off
			}
			if d, err := time.ParseDuration(doc); err == nil {
				if g, err := time.ParseDuration(got); err == nil && g == d {
					continue
				}
			}
			if doc != got {
				t.Errorf("README.md says -%s defaults to %q, the flag to %q", name, doc, got)
			}
		}
	}
}
