package app

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the replica if the test binary dies
// without its cleanups (a go test timeout), so that none is left running.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
