package main

// `conclave config example`: a configuration file that lists every setting with its help
// and its default, commented out (exampleConfig), for an operator to start from.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// exampleConfig writes a configuration file that lists every flag of fset with its help
// as a comment and its default, commented out; uncommented it sets nothing different.
func exampleConfig(w io.Writer, fset *flag.FlagSet) error {
	var b bytes.Buffer
	b.WriteString(`# Conclave configuration (TOML), written by "conclave config example".
#
# Every key is a flag of "conclave serve" without its dash (conclave -h lists them).
# A flag on the command line overrides the environment variable CONCLAVE_<KEY>
# (-max-conns is CONCLAVE_MAX_CONNS), which overrides this file, which overrides the
# default. Start with: conclave -config /etc/conclave/conclave.toml
#
# Each setting below is commented out and shows its default. Lists may be written as
# a comma-separated string or as a TOML list: public-ip = ["192.0.2.1", "2001:db8::1"].
`)
	var err error
	fset.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || err != nil {
			return
		}
		b.WriteString("\n")
		for _, line := range wrap(f.Usage, 86) {
			b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
		var v any = f.DefValue
		if g, ok := f.Value.(flag.Getter); ok {
			switch d := g.Get().(type) {
			case bool, int64, float64:
				v = d
			case int:
				v = int64(d)
			case uint:
				v = int64(d)
			case uint64:
				v = int64(d)
			case time.Duration:
				v = d.String()
			}
		}
		var kv bytes.Buffer
		if err = toml.NewEncoder(&kv).Encode(map[string]any{f.Name: v}); err != nil {
			return
		}
		b.WriteString("# " + kv.String())
	})
	if err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// configCommand runs `conclave config example`.
func configCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "example" {
		fmt.Fprint(stderr, "usage: conclave config example   print a commented example configuration file\n")
		return errors.New("unknown config subcommand")
	}
	var o options
	return exampleConfig(stdout, newFlagSet(&o, io.Discard))
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if line != "" && len(line)+1+len(word) > width {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		lines = append(lines, line)
	}
	return lines
}
