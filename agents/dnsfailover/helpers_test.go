package dnsfailover

import (
	"context"
	"os"

	"github.com/ocfkit/ocfkit/internal/ddns"
)

func removeFile(p string) error { return os.Remove(p) }

// startLoop runs e's daemon loop in the background, with no systemd and
// the state saved nowhere; stop ends it as SIGTERM does and returns its
// error.
func startLoop(e *Engine, hup <-chan os.Signal, reload func() (*Config, *ddns.Key, error)) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- e.loop(ctx, func(string) (string, bool) { return "", false }, func() error { return nil }, hup, reload)
	}()
	return func() error {
		cancel()
		return <-done
	}
}
