// Command ocf-sockd is the OCF resource agent ocf:dante:sockd for the Dante
// SOCKS server, and a SOCKS5 health check for relayd, keepalived,
// ldirectord and Nagios (ocf-sockd check).
package main

import (
	"os"

	"github.com/ocfkit/ocfkit/agents/sockd"
)

func main() { os.Exit(sockd.Agent().Run(os.Args, os.LookupEnv, os.Stdout, os.Stderr)) }
