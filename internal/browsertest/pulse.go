package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// pulse is a PulseAudio server of its own for one Firefox, with a single null
// sink: a silent sound output paced by the real clock. Without any sound output
// Firefox never starts WebAudio (an AudioContext stays "suspended" and plays
// nothing), so sounds a person should hear could only be checked in Chromium,
// which runs WebAudio without a device. Firefox's default sound backend talks
// to it through $PULSE_SERVER.
type pulse struct {
	cmd    *exec.Cmd
	socket string // path of its native-protocol socket
	exited chan struct{}
	output *tailBuffer
}

// findPulse returns the path of pulseaudio ($CONCLAVE_PULSEAUDIO first), or why
// it is missing.
func findPulse() (string, error) {
	name := "pulseaudio"
	if p := os.Getenv("CONCLAVE_PULSEAUDIO"); p != "" {
		name = p
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("pulseaudio not found for Firefox's sound output (Debian package pulseaudio; or set $CONCLAVE_PULSEAUDIO): %v", err)
	}
	return path, nil
}

// startPulse starts pulseaudio with its state, runtime files and socket in dir
// (which it creates) and returns once the socket exists.
func startPulse(ctx context.Context, path, dir string) (_ *pulse, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pulse{socket: filepath.Join(dir, "native"), exited: make(chan struct{}), output: newTailBuffer()}
	// -n: none of the system's default modules (no hardware detection, no
	// D-Bus, no X11): only the null sink and the socket of this browser.
	p.cmd = exec.Command(path, "-n", "--daemonize=no", "--use-pid-file=no",
		"--exit-idle-time=-1", "--disable-shm=yes", "--log-target=stderr", "--log-level=error",
		"-L", "module-null-sink sink_name=silent",
		"-L", "module-native-protocol-unix auth-anonymous=1 socket="+p.socket)
	// Nothing from the user's own PulseAudio setup: every file under dir.
	p.cmd.Env = append(withoutDisplay(os.Environ()),
		"HOME="+dir, "XDG_RUNTIME_DIR="+dir, "XDG_CONFIG_HOME="+dir,
		"PULSE_RUNTIME_PATH="+dir, "PULSE_STATE_PATH="+dir)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	inOwnGroup(p.cmd)
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the starting thread ends: keep it until pulseaudio exits.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	// pulseaudio has no readiness signal in this mode: poll for its socket.
	for {
		if _, err := os.Stat(p.socket); err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("pulseaudio exited early%s", p.output.describe())
		case <-ctx.Done():
			return nil, errors.New("timed out waiting for pulseaudio's socket")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// env is what points Firefox at this server.
func (p *pulse) env() []string {
	return []string{"PULSE_SERVER=unix:" + p.socket}
}

// stop kills pulseaudio and waits for it.
func (p *pulse) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	killGroup(p.cmd)
	<-p.exited
}

// NeedsSound skips t (fails it when $CI is set) unless b plays sound that a
// page can measure: Chromium always does; Firefox only with its own
// pulseaudio (see pulse).
func NeedsSound(t testing.TB, b Browser) {
	t.Helper()
	if s, ok := b.(sharedBrowser); ok {
		b = s.Browser
	}
	if f, ok := b.(*firefoxBrowser); ok && f.sound == nil {
		_, err := findPulse()
		skipOrFatal(t, fmt.Sprintf("Firefox has no sound output: %v", err))
	}
}
