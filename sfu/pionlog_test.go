package sfu

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestPionLoggersAreDebugOnly: whatever level Pion logs at, its messages reach the log
// only at debug level, with their scope; a server logging at info writes nothing of
// them (they carry addresses and ICE usernames).
func TestPionLoggersAreDebugOnly(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var buf bytes.Buffer
		f := newPionLoggerFactory(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level})))
		l := f.NewLogger("ice")
		l.Error("pair 192.0.2.7:4000 failed")
		l.Warnf("user %s", "ufrag:ufrag")
		out := buf.String()
		if level == slog.LevelInfo {
			if out != "" {
				t.Errorf("at info level Pion wrote %q", out)
			}
			continue
		}
		for _, want := range []string{"level=DEBUG", "pion=ice", "pion_level=error", "pair 192.0.2.7:4000 failed", "pion_level=warn", "user ufrag:ufrag"} {
			if !strings.Contains(out, want) {
				t.Errorf("at debug level the log %q lacks %q", out, want)
			}
		}
	}
}

// TestPionLoggersAreSharedByScope: every connection's request for a scope's logger gets
// the one made at the first, without allocating; another scope gets its own.
func TestPionLoggersAreSharedByScope(t *testing.T) {
	f := newPionLoggerFactory(slog.New(slog.DiscardHandler))
	ice, dtls := f.NewLogger("ice").(pionLogger), f.NewLogger("dtls").(pionLogger)
	if again := f.NewLogger("ice").(pionLogger); again.log != ice.log {
		t.Error("a second request for the ice scope made another logger")
	}
	if dtls.log == ice.log {
		t.Error("the dtls and ice scopes share a logger")
	}
	if n := testing.AllocsPerRun(100, func() { _ = f.NewLogger("ice") }); n != 0 {
		t.Errorf("a known scope's logger costs %v allocations, want 0", n)
	}
}
