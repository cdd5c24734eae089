package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

// TestParseInterleavedRoomIDs: flags anywhere among the positional arguments, and a room
// id that begins with "-" (one random id in 64 does) taken as the id it is, not as an
// unknown flag.
func TestParseInterleavedRoomIDs(t *testing.T) {
	for _, c := range []struct {
		args []string
		pos  []string
		link string
		only string
		yes  bool
	}{
		{[]string{"links", "-25NkCePcLoY0GmpoA_WEQ"}, []string{"links", "-25NkCePcLoY0GmpoA_WEQ"}, "", "", false},
		{[]string{"-link", "L", "links", "-only", "participant", "-25NkCePcLoY0GmpoA_WEQ"}, []string{"links", "-25NkCePcLoY0GmpoA_WEQ"}, "L", "participant", false},
		{[]string{"rotate", "--25NkCePcLoY0GmpoA_WA", "-yes"}, []string{"rotate", "--25NkCePcLoY0GmpoA_WA"}, "", "", true},
		{[]string{"delete", "-yes", "q3Vx8yJ2kVx0mL1c7rT9Aw", "-link=M"}, []string{"delete", "q3Vx8yJ2kVx0mL1c7rT9Aw"}, "M", "", true},
		{[]string{"list", "--", "-only"}, []string{"list", "-only"}, "", "", false},
	} {
		fs := flag.NewFlagSet("room", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		link, only := fs.String("link", "", ""), fs.String("only", "", "")
		yes := fs.Bool("yes", false, "")
		pos, err := parseInterleaved(fs, c.args)
		if err != nil || !slices.Equal(pos, c.pos) || *link != c.link || *only != c.only || *yes != c.yes {
			t.Errorf("%q: %q %v, link %q only %q yes %v", c.args, pos, err, *link, *only, *yes)
		}
	}
	for _, bad := range [][]string{{"links", "-nope"}, {"links", "-link"}, {"-25NkCePcLoY0GmpoA_WEQ=x"}} {
		fs := flag.NewFlagSet("room", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("link", "", "")
		if pos, err := parseInterleaved(fs, bad); err == nil {
			t.Errorf("%q taken: %q", bad, pos)
		}
	}
}
