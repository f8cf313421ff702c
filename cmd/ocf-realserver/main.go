// Command ocf-realserver is the OCF resource agent ocf:ocfkit:realserver,
// the real-server side of LVS direct routing: it puts the VIPs of a
// vipaddrs file on the loopback and keeps this node from answering ARP for
// them; ocf-realserver up, down and status do the same without Pacemaker.
package main

import (
	"os"

	"github.com/ocfkit/ocfkit/agents/realserver"
)

func main() { os.Exit(realserver.Agent().Run(os.Args, os.LookupEnv, os.Stdout, os.Stderr)) }
