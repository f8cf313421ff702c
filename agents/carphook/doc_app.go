package carphook

import "github.com/urfave/cli/v2"

// App returns carp-hook's command tree as Main runs it; used by the
// build-time generators under tools/ (man pages, shell completion).
func App() *cli.App { return app() }
