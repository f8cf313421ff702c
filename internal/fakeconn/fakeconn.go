// Package fakeconn is the receiving half of a fake net.PacketConn for unit
// tests of code that reads frames: a test type embeds an *Inbox, supplies
// its own WriteTo (the simulated network's answers), and delivers frames
// with Deliver. Read deadlines and Close behave as on a real socket, so
// deadline handling is tested too.
package fakeconn

import (
	"net"
	"os"
	"sync"
	"time"
)

// Inbox queues delivered frames for ReadFrom.
type Inbox struct {
	in     chan []byte
	mu     sync.Mutex
	dl     time.Time
	closed chan struct{}
	once   sync.Once
}

// NewInbox returns an inbox that holds up to size undelivered frames.
func NewInbox(size int) *Inbox {
	return &Inbox{in: make(chan []byte, size), closed: make(chan struct{})}
}

// Deliver queues a frame for ReadFrom.
func (i *Inbox) Deliver(frame []byte) { i.in <- frame }

// ReadFrom returns the next frame, os.ErrDeadlineExceeded after the read
// deadline, or net.ErrClosed after Close.
func (i *Inbox) ReadFrom(b []byte) (int, net.Addr, error) {
	// Poll, so that a deadline set while blocked takes effect, as on a
	// real socket.
	for {
		i.mu.Lock()
		dl := i.dl
		i.mu.Unlock()
		if !dl.IsZero() && !time.Now().Before(dl) {
			return 0, nil, os.ErrDeadlineExceeded
		}
		select {
		case fr := <-i.in:
			return copy(b, fr), nil, nil
		case <-i.closed:
			return 0, nil, net.ErrClosed
		case <-time.After(time.Millisecond):
		}
	}
}

// SetReadDeadline sets the read deadline.
func (i *Inbox) SetReadDeadline(t time.Time) error {
	i.mu.Lock()
	i.dl = t
	i.mu.Unlock()
	return nil
}

// SetDeadline sets the read deadline; writes never block.
func (i *Inbox) SetDeadline(t time.Time) error { return i.SetReadDeadline(t) }

// SetWriteDeadline does nothing: writes never block.
func (i *Inbox) SetWriteDeadline(time.Time) error { return nil }

// Close makes reads fail with net.ErrClosed.
func (i *Inbox) Close() error {
	i.once.Do(func() { close(i.closed) })
	return nil
}

// LocalAddr returns nil.
func (i *Inbox) LocalAddr() net.Addr { return nil }
