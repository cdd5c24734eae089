package sfu

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pion/logging"
)

// pionLoggerFactory sends all of Pion's logging to slog at debug level, whatever level
// Pion gives it: Pion's messages routinely carry IP addresses and ICE usernames, which
// must not appear in logs at the default level.
//
// Pion asks for a logger for each part of every connection (about ten a join, kept as
// long as the connection lives); a scope's logger is made once and shared, instead of
// a copy of the handler with its attribute per connection. Pion's scopes are a fixed
// handful of names, so the map stays small.
type pionLoggerFactory struct {
	log    *slog.Logger
	mu     sync.Mutex
	scopes map[string]pionLogger
}

func newPionLoggerFactory(log *slog.Logger) *pionLoggerFactory {
	return &pionLoggerFactory{log: log, scopes: make(map[string]pionLogger)}
}

func (f *pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.scopes[scope]
	if !ok {
		l = pionLogger{log: f.log.With("pion", scope)}
		f.scopes[scope] = l
	}
	return l
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) emit(level, msg string) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(msg, "pion_level", level)
	}
}

// emitf formats only when debug logging is on: formatting costs a little on every
// packet path Pion logs from, and Pion's own "%+v" of a track it is still configuring
// reads fields another of its goroutines writes (a data race inside Pion that only
// formatting exposes).
func (l pionLogger) emitf(level, format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...), "pion_level", level)
	}
}

func (l pionLogger) Trace(msg string)                  {}
func (l pionLogger) Tracef(format string, args ...any) {}
func (l pionLogger) Debug(msg string)                  { l.emit("debug", msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.emitf("debug", format, args...) }
func (l pionLogger) Info(msg string)                   { l.emit("info", msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.emitf("info", format, args...) }
func (l pionLogger) Warn(msg string)                   { l.emit("warn", msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.emitf("warn", format, args...) }
func (l pionLogger) Error(msg string)                  { l.emit("error", msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.emitf("error", format, args...) }
