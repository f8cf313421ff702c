//go:build !linux

package action

import "github.com/ocfkit/ocfkit/agents/carphook/announce"

var errUnsupportedAnnounce = announce.ErrUnsupported
