// Command fakesockd stands in for Dante where the real one cannot show a
// behaviour the agent must handle: it ignores SIGTERM (so stop must
// escalate to SIGKILL), and with "fake: hang" in its configuration it never
// finishes daemonizing (so start must give up at its deadline). It answers
// -V with success and never speaks SOCKS.
package main

import (
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var config, pidfile string
	daemon := false
	for i, a := range os.Args {
		switch {
		case a == "-V":
			os.Exit(0)
		case a == "-D":
			daemon = true
		case a == "-f" && i+1 < len(os.Args):
			config = os.Args[i+1]
		case a == "-p" && i+1 < len(os.Args):
			pidfile = os.Args[i+1]
		}
	}
	conf, _ := os.ReadFile(config)
	if strings.Contains(string(conf), "fake: hang") {
		sleepForever()
	}
	if daemon && os.Getenv("FAKESOCKD_CHILD") == "" {
		cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
		cmd.Args[0] = os.Args[0]
		cmd.Env = append(os.Environ(), "FAKESOCKD_CHILD=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	signal.Ignore(syscall.SIGTERM, syscall.SIGHUP)
	if pidfile != "" {
		_ = os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	}
	sleepForever()
}

func sleepForever() {
	for {
		time.Sleep(time.Hour)
	}
}
