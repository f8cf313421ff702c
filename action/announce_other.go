//go:build !linux

package action

import "github.com/ocfkit/ocfkit/action/announce"

var errUnsupportedAnnounce = announce.ErrUnsupported
