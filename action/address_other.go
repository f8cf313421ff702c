//go:build !linux

package action

import "context"

// Up does nothing: carp(4) adds the address.
func (a *Address) Up(ctx context.Context) error { return nil }

// Down does nothing: carp(4) removes the address.
func (a *Address) Down(ctx context.Context) error { return nil }
