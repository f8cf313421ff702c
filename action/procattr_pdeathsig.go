//go:build linux || freebsd

package action

import "syscall"

// procAttr puts a command in its own process group and has the kernel kill
// it when the thread that started it dies, so a worker killed with SIGKILL
// takes its command with it. run locks the OS thread while the command runs, as
// Pdeathsig is tied to the thread.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
