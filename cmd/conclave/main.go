// Command conclave is the Conclave meeting server: one binary, no database, no config
// file needed. `go run ./cmd/conclave` serves http://localhost:8080.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// usage names the commands; `conclave -h` adds the flags.
const usage = `usage: conclave [serve] [flags]   run the server (conclave -h lists the flags)
       conclave host ...          manage the hosts who may create meetings (conclave host -h)
       conclave room ...          a host's rooms with -link HOST-LINK; the operator's list, show
                                  and delete of every room (conclave room -h)
       conclave config example    print a commented example configuration file
       conclave privacy-report [flags]
                                  print the record of technical and organisational measures
                                  (Markdown) for this configuration; takes serve's flags
`

// errUsage is a command line that names no command conclave has, or flags that do not
// parse; the reason is already on stderr, and it exits with 2.
var errUsage = errors.New("usage error")

func main() {
	commands := map[string]func([]string, func(string) string, io.Writer, io.Writer) error{"host": hostCommand, "room": roomCommand, "privacy-report": reportCommand}
	if len(os.Args) > 1 && commands[os.Args[1]] != nil {
		err := commands[os.Args[1]](os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
		case errors.Is(err, errUsage):
			fmt.Fprintln(os.Stderr, "conclave:", err)
			os.Exit(2)
		default: // the data directory, the store: something to fix, not a typo
			fmt.Fprintln(os.Stderr, "conclave:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "config" {
		if err := configCommand(os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "conclave:", err)
			os.Exit(2)
		}
		return
	}
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	opts, err := parseOptions(args, os.Getenv, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "conclave:", err)
		}
		os.Exit(2)
	}
	for _, w := range strayEnv(newFlagSet(&options{}, io.Discard), os.Environ()) {
		fmt.Fprintln(os.Stderr, "conclave: warning:", w)
	}
	opts.stdoutTTY = isTerminal(os.Stdout)
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "conclave:", err)
		os.Exit(1)
	}
}

// isTerminal reports whether f is a character device (a terminal, not a pipe or file).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
