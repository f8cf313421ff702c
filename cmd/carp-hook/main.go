// Command carp-hook is one state-change hook for CARP and VRRP: called by
// ucarp, keepalived, FreeBSD devd or OpenBSD ifstated, it moves addresses,
// announcements, services and role files with the node's state, as its
// configuration file says. See agents/carphook.
package main

import (
	"os"

	"github.com/ocfkit/ocfkit/agents/carphook"
)

func main() { os.Exit(carphook.Main(os.Args, os.LookupEnv, os.Stdout, os.Stderr)) }
