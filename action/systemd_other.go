//go:build !linux

package action

import (
	"context"
	"errors"
)

var errNoSystemd = errors.New("the systemd action needs Linux")

// Up fails: there is no systemd here.
func (s *Systemd) Up(ctx context.Context) error { return errNoSystemd }

// Down fails: there is no systemd here.
func (s *Systemd) Down(ctx context.Context) error { return errNoSystemd }
