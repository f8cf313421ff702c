package testenv

import (
	"net"
	"testing"
)

// Serve runs handle for every connection to ln, each in a goroutine of
// its own and closed when handle returns, until the test ends (ln is
// closed then), and returns ln's address.
func Serve(t testing.TB, ln net.Listener, handle func(net.Conn)) string {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// ServeLoopback is Serve on a new TCP listener on 127.0.0.1.
func ServeLoopback(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return Serve(t, ln, handle)
}
