//go:build !linux

package browsertest

import "os/exec"

// The browser tests run on Linux (TESTING.md); elsewhere the package builds, and a
// browser's own process is all that is killed.

func inOwnGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
