// Command anycast-probe holds a service's anycast addresses on an
// interface only while the service works. See agents/anycastprobe.
package main

import (
	"os"

	"github.com/ocfkit/ocfkit/agents/anycastprobe"
)

func main() { os.Exit(anycastprobe.Main(os.Args, os.LookupEnv, os.Stdout, os.Stderr)) }
