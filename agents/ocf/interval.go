package ocf

import (
	"time"

	"github.com/ocfkit/ocfkit/internal/duration"
)

// metaTimeout is the syntax and range of an action's timeout in the
// meta-data (and of any other Pacemaker time value an agent reads): a
// plain number of seconds, or a duration with its unit ("20s", "2min",
// "500ms"), from 1 ms to a day.
var metaTimeout = duration.Range{Unit: time.Second, Min: time.Millisecond, Max: 24 * time.Hour}

// metaDuration parses a Pacemaker time value in the one duration syntax
// (internal/duration); it replaces parseInterval in request.go.
func metaDuration(v string) (time.Duration, error) { return metaTimeout.Parse(v) }
