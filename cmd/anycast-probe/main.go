// Command anycast-probe holds a service's anycast addresses on an
// interface only while the service works. See agents/anycast.
package main

import (
	"os"

	"github.com/ocfkit/ocfkit/agents/anycast"
)

func main() { os.Exit(anycast.Main(os.Args, os.LookupEnv, os.Stdout, os.Stderr)) }
