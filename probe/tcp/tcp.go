// Package tcp probes a TCP service: a handshake, optionally a string sent
// and a string expected in the reply. The result names the stage that
// failed.
package tcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Stage names the step of a probe that failed.
type Stage string

// Stages of a probe, in order.
const (
	StageConnect Stage = "connect"
	StageSend    Stage = "send"
	StageExpect  Stage = "expect"
)

// Error is a failed probe: the stage and why.
type Error struct {
	Stage Stage
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("tcp %s: %v", e.Stage, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// MaxRead bounds what is read while waiting for Expect.
const MaxRead = 64 << 10

// Config is one probe.
type Config struct {
	// Address is HOST:PORT.
	Address string
	// Send is written after the handshake, if not empty.
	Send []byte
	// Expect must appear in what the server sends, if not empty.
	Expect []byte
}

// Result is what the probe measured.
type Result struct {
	Connect time.Duration
	Total   time.Duration
}

// Probe runs one probe bounded by ctx.
func Probe(ctx context.Context, cfg Config) (Result, error) {
	start := time.Now()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", cfg.Address)
	res := Result{Connect: time.Since(start)}
	if err != nil {
		return res, &Error{StageConnect, err}
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if len(cfg.Send) > 0 {
		if _, err := c.Write(cfg.Send); err != nil {
			return res, &Error{StageSend, err}
		}
	}
	if len(cfg.Expect) > 0 {
		if err := expect(c, cfg.Expect); err != nil {
			res.Total = time.Since(start)
			return res, &Error{StageExpect, err}
		}
	}
	res.Total = time.Since(start)
	return res, nil
}

// expect reads from r until want appears, EOF, or MaxRead bytes.
func expect(r io.Reader, want []byte) error {
	var got []byte
	buf := make([]byte, 4096)
	for len(got) < MaxRead {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if bytes.Contains(got, want) {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("connection closed before %q arrived", want)
			}
			return err
		}
	}
	return fmt.Errorf("%q not in the first %d bytes", want, MaxRead)
}
