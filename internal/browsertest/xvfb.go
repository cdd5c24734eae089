package browsertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// xvfb is a virtual X display of its own for one browser. Headless Firefox has no
// WebGL (it finds no GL driver without a display); under an X display Mesa's
// software renderer (llvmpipe) gives it WebGL 1 and 2 on a machine without a GPU.
type xvfb struct {
	cmd     *exec.Cmd
	display string // ":N"
	exited  chan struct{}
	output  *tailBuffer
}

// findXvfb returns the path of Xvfb ($CONCLAVE_XVFB first), or why it is missing.
func findXvfb() (string, error) {
	name := "Xvfb"
	if p := os.Getenv("CONCLAVE_XVFB"); p != "" {
		name = p
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("Xvfb not found for a Firefox with WebGL (Debian package xvfb; or set $CONCLAVE_XVFB): %v", err)
	}
	return path, nil
}

// startXvfb starts Xvfb on a display number that it picks itself (-displayfd: the
// first one free, so parallel test binaries do not collide) and returns once the
// display accepts connections.
func startXvfb(ctx context.Context) (_ *xvfb, err error) {
	path, err := findXvfb()
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	x := &xvfb{exited: make(chan struct{}), output: newTailBuffer()}
	// Only local connections; the screen is big enough for any test window.
	x.cmd = exec.Command(path, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp")
	x.cmd.ExtraFiles = []*os.File{pw} // fd 3
	x.cmd.Stdout, x.cmd.Stderr = x.output, x.output
	inOwnGroup(x.cmd)
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the starting thread ends: keep it until Xvfb exits.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := x.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		x.cmd.Wait()
		close(x.exited)
	}()
	err = <-started
	pw.Close()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			x.stop()
		}
	}()

	// Xvfb writes the display number once it listens.
	numbers := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(pr).ReadString('\n')
		numbers <- strings.TrimSpace(line)
	}()
	select {
	case n := <-numbers:
		if n == "" {
			return nil, fmt.Errorf("Xvfb gave no display number%s", x.output.describe())
		}
		x.display = ":" + n
		return x, nil
	case <-x.exited:
		return nil, fmt.Errorf("Xvfb exited early%s", x.output.describe())
	case <-ctx.Done():
		return nil, errors.New("timed out waiting for Xvfb's display number")
	}
}

// stop kills Xvfb and waits for it.
func (x *xvfb) stop() {
	if x == nil || x.cmd.Process == nil {
		return
	}
	killGroup(x.cmd)
	<-x.exited
}
