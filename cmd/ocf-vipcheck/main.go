// Command ocf-vipcheck is the OCF resource agent ocf:ocfkit:vipcheck, which
// probes LVS direct-routing real servers through the VIP and publishes the
// healthy count as a node attribute, and the check_tcp_raw-compatible check
// for keepalived, ldirectord, relayd and Nagios (ocf-vipcheck tcp,
// ocf-vipcheck http, ocf-vipcheck arp-leak).
package main

import (
	"os"

	"github.com/ocfkit/ocfkit/agents/vipcheck"
)

func main() { os.Exit(vipcheck.Agent().Run(os.Args, os.LookupEnv, os.Stdout, os.Stderr)) }
