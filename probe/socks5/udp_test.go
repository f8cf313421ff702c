package socks5

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeUDP is a SOCKS server that answers UDP ASSOCIATE with a relay socket
// on 127.0.0.1 and hands every datagram the relay receives to handle.
type fakeUDP struct {
	proxy     string
	relay     *net.UDPConn
	announced chan addr // DST of each UDP ASSOCIATE request
}

type fakeUDPOptions struct {
	host         string                          // loopback address; "" is 127.0.0.1
	bnd          func(relay netip.AddrPort) addr // BND in the reply; nil: the relay's address
	rep          byte                            // REP in the reply
	closeControl bool                            // close the control connection after the reply
	handle       func(n int, relay *net.UDPConn, from netip.AddrPort, datagram []byte)
}

func newFakeUDP(t *testing.T, o fakeUDPOptions) *fakeUDP {
	t.Helper()
	if o.host == "" {
		o.host = "127.0.0.1"
	}
	relay, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(o.host), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	f := &fakeUDP{relay: relay, announced: make(chan addr, 10)}
	relayAddr := addrPort(relay.LocalAddr())
	f.proxy = fakeServerOn(t, o.host, func(conn net.Conn) {
		if !acceptNone(conn) {
			return
		}
		req, err := readRequest(conn)
		if err != nil || command(req[1]) != cmdUDPAssociate {
			t.Errorf("request %x (%v), want UDP ASSOCIATE", req, err)
			return
		}
		dst, _, _ := parseAddr(req[3:])
		f.announced <- dst
		bnd := addr{IP: relayAddr.Addr(), Port: relayAddr.Port()}
		if o.bnd != nil {
			bnd = o.bnd(relayAddr)
		}
		conn.Write(appendAddr([]byte{5, o.rep, 0}, bnd))
		if !o.closeControl {
			io.Copy(io.Discard, conn)
		}
	})
	go func() {
		buf := make([]byte, 64<<10)
		for n := 1; ; n++ {
			size, from, err := relay.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if o.handle != nil {
				o.handle(n, relay, from, bytes.Clone(buf[:size]))
			}
		}
	}()
	return f
}

// echo answers a datagram the way a relay in front of an echo server does.
func echo(relay *net.UDPConn, to netip.AddrPort, datagram []byte) {
	hdr, data, err := parseUDPHeader(datagram)
	if err != nil {
		return
	}
	relay.WriteToUDPAddrPort(append(appendUDPHeader(nil, hdr.Addr), data...), to)
}

// associate sets up a UDP association through c, closed when the test
// ends.
func associate(t *testing.T, ctx context.Context, c *Client) *UDPAssociation {
	t.Helper()
	a, err := c.UDPAssociate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestUDPAssociate(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{})
	c := &Client{Proxy: f.proxy}
	a := associate(t, ctxFor(t, 10*time.Second), c)
	// The request announces the client's UDP socket, on the control
	// connection's local address.
	announced := <-f.announced
	local := addrPort(a.conn.LocalAddr())
	if announced.IP != local.Addr() || announced.Port != local.Port() {
		t.Errorf("announced %v, want the UDP socket's address %v", announced, local)
	}
	if got, want := a.Relay().String(), f.relay.LocalAddr().String(); got != want {
		t.Errorf("relay %s, want %s", got, want)
	}
}

// TestUDPOverIPv6 uses a proxy on ::1, and an IPv6 target.
func TestUDPOverIPv6(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{host: "::1", handle: func(_ int, relay *net.UDPConn, from netip.AddrPort, datagram []byte) {
		echo(relay, from, datagram)
	}})
	ctx := ctxFor(t, 10*time.Second)
	a := associate(t, ctx, &Client{Proxy: f.proxy})
	if announced := <-f.announced; announced.IP != netip.IPv6Loopback() {
		t.Errorf("announced %v, want an address on ::1", announced)
	}
	if err := a.RoundTrip(ctx, "[2001:db8::7]:7", []byte("ping"), nil); err != nil {
		t.Fatal(err)
	}
}

func TestUDPRelayUnspecified(t *testing.T) {
	for _, unspecified := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		f := newFakeUDP(t, fakeUDPOptions{bnd: func(relay netip.AddrPort) addr {
			return addr{IP: unspecified, Port: relay.Port()}
		}})
		a := associate(t, ctxFor(t, 10*time.Second), &Client{Proxy: f.proxy})
		if got, want := a.Relay().String(), f.relay.LocalAddr().String(); got != want {
			t.Errorf("BND %v: relay %s, want the proxy's address %s", unspecified, got, want)
		}
	}
}

// TestUDPRelayName has the server name its relay "localhost", which the
// client resolves to the proxy's address family.
func TestUDPRelayName(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{bnd: func(relay netip.AddrPort) addr {
		return addr{Name: "localhost", Port: relay.Port()}
	}})
	a := associate(t, ctxFor(t, 10*time.Second), &Client{Proxy: f.proxy})
	if got, want := a.Relay().String(), f.relay.LocalAddr().String(); got != want {
		t.Errorf("relay %s, want %s", got, want)
	}
}

func TestUDPRelayPortZero(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{bnd: func(relay netip.AddrPort) addr { return addr{IP: relay.Addr()} }})
	_, err := (&Client{Proxy: f.proxy}).UDPAssociate(ctxFor(t, 10*time.Second))
	checkError(t, err, StageUDPAssociate, f.proxy)
}

func TestUDPAssociateRefused(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{rep: 7})
	_, err := (&Client{Proxy: f.proxy}).UDPAssociate(ctxFor(t, 10*time.Second))
	checkError(t, err, StageUDPAssociate, f.proxy)
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != 7 {
		t.Fatalf("got %v, want REP 7", err)
	}
}

// TestRoundTripIgnoresStrays answers the first datagram with every kind of
// datagram RoundTrip must ignore, and only the retransmission properly: a
// RoundTrip that accepted a stray would end before retransmitting.
func TestRoundTripIgnoresStrays(t *testing.T) {
	stranger, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	retransmitted := make(chan struct{}, 10)
	f := newFakeUDP(t, fakeUDPOptions{handle: func(n int, relay *net.UDPConn, from netip.AddrPort, datagram []byte) {
		hdr, data, _ := parseUDPHeader(datagram)
		reply := append(appendUDPHeader(nil, hdr.Addr), data...)
		if n > 1 {
			retransmitted <- struct{}{}
			relay.WriteToUDPAddrPort(reply, from)
			return
		}
		stranger.WriteToUDPAddrPort(reply, from) // not from the relay
		fragment := bytes.Clone(reply)
		fragment[2] = 1
		relay.WriteToUDPAddrPort(fragment, from)
		other := addr{IP: netip.MustParseAddr("192.0.2.99"), Port: hdr.Addr.Port}
		relay.WriteToUDPAddrPort(append(appendUDPHeader(nil, other), data...), from) // not from target
		relay.WriteToUDPAddrPort(append(appendUDPHeader(nil, hdr.Addr), "other data"...), from)
		relay.WriteToUDPAddrPort([]byte{0, 0, 0, 1, 1}, from) // truncated
	}})
	c := &Client{Proxy: f.proxy}
	ctx := ctxFor(t, 10*time.Second)
	a := associate(t, ctx, c)
	if err := a.RoundTrip(ctx, "192.0.2.7:7", []byte("ping"), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-retransmitted:
	default:
		t.Fatal("RoundTrip accepted a datagram it should have ignored")
	}
}

// TestRoundTripRetransmits loses the first datagram.
func TestRoundTripRetransmits(t *testing.T) {
	got := make(chan int, 10)
	f := newFakeUDP(t, fakeUDPOptions{handle: func(n int, relay *net.UDPConn, from netip.AddrPort, datagram []byte) {
		got <- n
		if n > 1 {
			echo(relay, from, datagram)
		}
	}})
	var stages []Stage
	c := &Client{Proxy: f.proxy, Trace: func(s Stage, _ time.Duration) { stages = append(stages, s) }}
	ctx := ctxFor(t, 10*time.Second)
	a := associate(t, ctx, c)
	if err := a.RoundTrip(ctx, "192.0.2.7:7", []byte("ping"), nil); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 1 {
		t.Fatalf("first datagram numbered %d", n)
	}
	if n := <-got; n != 2 {
		t.Fatalf("second datagram numbered %d", n)
	}
	want := []Stage{StageConnect, StageGreeting, StageUDPAssociate, StageUDPRoundTrip}
	if !slices.Equal(stages, want) {
		t.Errorf("traced %v, want %v", stages, want)
	}
}

func TestRoundTripTargets(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{handle: func(_ int, relay *net.UDPConn, from netip.AddrPort, datagram []byte) {
		hdr, data, _ := parseUDPHeader(datagram)
		src := hdr.Addr
		if src.Name != "" { // the proxy resolves names and answers with the address
			src = addr{IP: netip.MustParseAddr("192.0.2.7"), Port: src.Port}
		}
		relay.WriteToUDPAddrPort(append(appendUDPHeader(nil, src), append([]byte("echo: "), data...)...), from)
	}})
	ctx := ctxFor(t, 10*time.Second)
	a := associate(t, ctx, &Client{Proxy: f.proxy})
	for _, target := range []string{"192.0.2.7:7", "[2001:db8::7]:7", "echo.example:7"} {
		if err := a.RoundTrip(ctx, target, []byte("ping"), []byte("echo: ping")); err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
}

func TestRoundTripNoAnswer(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{})
	a := associate(t, ctxFor(t, 10*time.Second), &Client{Proxy: f.proxy})
	err := a.RoundTrip(ctxFor(t, 500*time.Millisecond), "192.0.2.7:7", []byte("ping"), nil)
	checkError(t, err, StageUDPRoundTrip, f.proxy)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "datagrams sent") {
		t.Fatalf("got %v, want a deadline error", err)
	}
	t.Log(err)
}

func TestRoundTripControlClosed(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{closeControl: true})
	a := associate(t, ctxFor(t, 10*time.Second), &Client{Proxy: f.proxy})
	err := a.RoundTrip(ctxFor(t, time.Minute), "192.0.2.7:7", []byte("ping"), nil)
	checkError(t, err, StageUDPRoundTrip, f.proxy)
	if !strings.Contains(err.Error(), "control connection ended") || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the end of the control connection", err)
	}
}

func TestRoundTripCancel(t *testing.T) {
	f := newFakeUDP(t, fakeUDPOptions{})
	a := associate(t, ctxFor(t, 10*time.Second), &Client{Proxy: f.proxy})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := a.RoundTrip(ctx, "192.0.2.7:7", []byte("ping"), nil)
	checkError(t, err, StageUDPRoundTrip, f.proxy)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestReplyFrom(t *testing.T) {
	relay := netip.MustParseAddrPort("127.0.0.1:5000")
	target := addr{IP: netip.MustParseAddr("192.0.2.7"), Port: 7}
	named := addr{Name: "echo.example", Port: 7}
	reply := func(src addr, data string) []byte { return append(appendUDPHeader(nil, src), data...) }
	same := func(data []byte) bool { return string(data) == "ping" }
	for _, tc := range []struct {
		name     string
		target   addr
		from     netip.AddrPort
		datagram []byte
		want     bool
	}{
		{"reply", target, relay, reply(target, "ping"), true},
		{"mapped source", target, netip.MustParseAddrPort("[::ffff:127.0.0.1]:5000"), reply(target, "ping"), true},
		{"other host", target, netip.MustParseAddrPort("127.0.0.2:5000"), reply(target, "ping"), false},
		{"other port", target, netip.MustParseAddrPort("127.0.0.1:5001"), reply(target, "ping"), false},
		{"fragment", target, relay, append([]byte{0, 0, 1}, reply(target, "ping")[3:]...), false},
		{"other source", target, relay, reply(addr{IP: target.IP, Port: 8}, "ping"), false},
		{"other data", target, relay, reply(target, "pong"), false},
		{"truncated", target, relay, reply(target, "")[:6], false},
		{"named target", named, relay, reply(target, "ping"), true},
		{"named target, other port", named, relay, reply(addr{IP: target.IP, Port: 8}, "ping"), false},
	} {
		if got := replyFrom(relay, tc.target, tc.from, tc.datagram, same); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
