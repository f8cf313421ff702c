package carphook

import (
	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/clikit"
)

// App returns carp-hook's command tree as Main runs it, with the flags the
// shared contract adds (clikit.Prepare); used by the build-time generators
// under tools/ (man pages, shell completion).
func App() *cli.App {
	a := app()
	a.Version = ocf.Version
	clikit.Prepare(a)
	return a
}
