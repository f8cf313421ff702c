// Command dns-failover keeps the records of round-robin names in line
// with their members' health, with TSIG-signed RFC 2136 updates to every
// primary. See agents/dnsfailover.
package main

import (
	"os"

	"github.com/ocfkit/ocfkit/agents/dnsfailover"
)

func main() { os.Exit(dnsfailover.Main(os.Args, os.LookupEnv, os.Stdout, os.Stderr)) }
