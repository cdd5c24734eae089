package browsertest

import (
	"os/exec"
	"syscall"
)

// inOwnGroup starts cmd in a process group of its own, so that killGroup takes its
// children too (a browser's content processes, pulseaudio's helpers), and has the
// kernel kill it when the test binary dies, however that happens.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the process group inOwnGroup gave cmd.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
