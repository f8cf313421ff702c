package sockd

import (
	"io"
	"net"
	"net/netip"
	"sync"
)

// echoServer is the short-lived TCP and UDP echo endpoint a depth-20 check
// relays to, so that no outside server is needed. It listens on ephemeral
// ports and echoes every byte and datagram back until closed.
type echoServer struct {
	tcp net.Listener
	udp net.PacketConn
	wg  sync.WaitGroup
	mu  sync.Mutex
	// open are the accepted connections; once closed is set, none is
	// added and Close has closed them all.
	open   map[net.Conn]bool
	closed bool
}

// startEcho opens the echo endpoint on addr; withUDP adds the UDP side.
func startEcho(addr netip.Addr, withUDP bool) (*echoServer, error) {
	e := &echoServer{open: map[net.Conn]bool{}}
	var err error
	if e.tcp, err = net.Listen("tcp", joinHostPort(addr, 0)); err != nil {
		return nil, err
	}
	if withUDP {
		if e.udp, err = net.ListenPacket("udp", joinHostPort(addr, 0)); err != nil {
			e.tcp.Close()
			return nil, err
		}
		e.wg.Add(1)
		go e.serveUDP()
	}
	e.wg.Add(1)
	go e.serveTCP()
	return e, nil
}

// TCPAddr and UDPAddr are where the endpoint listens.
func (e *echoServer) TCPAddr() string { return e.tcp.Addr().String() }
func (e *echoServer) UDPAddr() string { return e.udp.LocalAddr().String() }

func (e *echoServer) serveTCP() {
	defer e.wg.Done()
	for {
		c, err := e.tcp.Accept()
		if err != nil {
			return
		}
		if !e.track(c) {
			return
		}
		go func() {
			defer e.wg.Done()
			_, _ = io.Copy(c, io.LimitReader(c, 1<<20))
			e.mu.Lock()
			delete(e.open, c)
			e.mu.Unlock()
			c.Close()
		}()
	}
}

// track records an accepted connection, so that Close closes it, and
// counts its goroutine. A connection accepted while the endpoint closes
// is closed at once, and track returns false: nothing may wait on it.
func (e *echoServer) track(c net.Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		c.Close()
		return false
	}
	e.open[c] = true
	e.wg.Add(1)
	return true
}

func (e *echoServer) serveUDP() {
	defer e.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, from, err := e.udp.ReadFrom(buf)
		if err != nil {
			// Closed, or an error that would repeat at once: a check
			// relaying to the endpoint then fails, and says so.
			return
		}
		_, _ = e.udp.WriteTo(buf[:n], from)
	}
}

// Close stops the endpoint and waits for its goroutines.
func (e *echoServer) Close() {
	e.tcp.Close()
	if e.udp != nil {
		e.udp.Close()
	}
	e.mu.Lock()
	e.closed = true
	for c := range e.open {
		c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}
