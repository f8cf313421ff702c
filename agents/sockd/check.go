package sockd

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/probe/socks5"
)

// Depth is an OCF check depth (OCF_CHECK_LEVEL, ocf-sockd check --depth).
type Depth int

// Check depths, as advertised in the meta-data.
const (
	DepthProcess     Depth = 0
	DepthNegotiation Depth = 10
	DepthDataPath    Depth = 20
)

// Check is one deep check of a SOCKS proxy: negotiation at depth 10, and
// at depth 20 a TCP CONNECT that moves data both ways and optionally a UDP
// ASSOCIATE round trip.
type Check struct {
	Depth              Depth
	Username, Password string
	UDP                bool
	// Target and UDPTarget are real upstream servers to relay to; when
	// empty, the check relays to Echo.
	Target, UDPTarget string
	// Send and Expect are exchanged with Target; with neither, a
	// completed CONNECT is enough.
	Send, Expect []byte
	// Echo is the check's own endpoint, needed at depth 20.
	Echo *echoServer
}

// Report is the outcome of a check against one proxy address.
type Report struct {
	Proxy   string
	Timings []checkstyle.Timing
	// Err is nil when the proxy passed, else a *socks5.Error naming the
	// stage.
	Err error
	// Upstream is true when only the upstream target failed: the proxy
	// relayed to the check's own echo endpoint.
	Upstream bool
	// Target names, when Upstream, the upstream that failed, as the
	// parameter that configured it ("check_target HOST:PORT").
	Target string
}

// Run checks one proxy address.
func (c *Check) Run(ctx context.Context, proxy string) Report {
	r := Report{Proxy: proxy}
	var mu sync.Mutex
	client := &socks5.Client{
		Proxy: proxy, Username: c.Username, Password: c.Password,
		Trace: func(stage socks5.Stage, took time.Duration) {
			mu.Lock()
			r.Timings = append(r.Timings, checkstyle.Timing{Label: string(stage), Took: took})
			mu.Unlock()
		},
	}
	if c.Depth < DepthDataPath {
		r.Err = client.Greet(ctx)
		return r
	}
	if c.Target == "" && c.UDPTarget == "" {
		r.Err = c.relay(ctx, client, "", "", nil, nil)
		return r
	}
	// With a real upstream, relay to the check's own endpoint through the
	// same proxy at the same time, to tell an upstream failure from a
	// proxy failure.
	var ownErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		own := &socks5.Client{Proxy: proxy, Username: c.Username, Password: c.Password}
		ownErr = c.relay(ctx, own, "", "", nil, nil)
	}()
	r.Err = c.relay(ctx, client, c.Target, c.UDPTarget, c.Send, c.Expect)
	<-done
	r.Upstream = r.Err != nil && ownErr == nil && upstreamSuspect(r.Err)
	if r.Upstream {
		r.Target = c.upstreamOf(r.Err)
	}
	return r
}

// upstreamOf names the upstream that a relay failing with err went to:
// check_udp_target for a UDP round trip, else check_target; a target
// left empty is the check's own endpoint.
func (c *Check) upstreamOf(err error) string {
	var se *socks5.Error
	if errors.As(err, &se) && se.Stage == socks5.StageUDPRoundTrip {
		if c.UDPTarget != "" {
			return "check_udp_target " + c.UDPTarget
		}
		return "the check's own UDP endpoint"
	}
	if c.Target != "" {
		return "check_target " + c.Target
	}
	return "the check's own endpoint"
}

// relay moves data through the proxy to the targets, or to the echo
// endpoint where a target is empty.
func (c *Check) relay(ctx context.Context, client *socks5.Client, target, udpTarget string, send, expect []byte) error {
	if target == "" {
		target, send, expect = c.Echo.TCPAddr(), nonce(), nil
	}
	conn, err := client.Dial(ctx, target)
	if err != nil {
		return err
	}
	defer conn.Close()
	if len(send) > 0 || len(expect) > 0 {
		if err := client.Exchange(ctx, conn, send, expect); err != nil {
			return err
		}
	}
	if !c.UDP {
		return nil
	}
	if udpTarget == "" {
		udpTarget = c.Echo.UDPAddr()
	}
	assoc, err := udpClient(client).UDPAssociate(ctx)
	if err != nil {
		return err
	}
	defer assoc.Close()
	payload := nonce()
	return assoc.RoundTrip(ctx, udpTarget, payload, nil)
}

// udpClient returns a copy of client whose traced stages on the UDP
// control connection are labelled apart from the TCP check's (udp-connect,
// udp-greeting), so every timing has its own name.
func udpClient(c *socks5.Client) *socks5.Client {
	u := *c
	if c.Trace != nil {
		u.Trace = func(s socks5.Stage, took time.Duration) {
			if !strings.HasPrefix(string(s), "udp-") {
				s = "udp-" + s
			}
			c.Trace(s, took)
		}
	}
	return &u
}

// upstreamSuspect reports whether a failure could lie beyond the proxy:
// the proxy could not reach the target, or the target did not answer.
func upstreamSuspect(err error) bool {
	var se *socks5.Error
	if !errors.As(err, &se) {
		return false
	}
	var re *socks5.ReplyError
	switch se.Stage {
	case socks5.StageRelayData, socks5.StageUDPRoundTrip:
		return true
	case socks5.StageRequest:
		return errors.As(err, &re) && re.Code >= 3 && re.Code <= 6
	}
	return false
}

// nonce returns random bytes to relay, so an echo cannot be faked by a
// stale buffer. It needs to be unpredictable, not secret: math/rand/v2's
// generator is seeded by the runtime from the kernel, and crypto/rand would
// add its package initialisation to every action's start-up.
func nonce() []byte {
	b := binary.LittleEndian.AppendUint64(nil, rand.Uint64())
	b = binary.LittleEndian.AppendUint64(b, rand.Uint64())
	return []byte("ocfkit-" + hex.EncodeToString(b) + "\n")
}

// runChecks checks every proxy address concurrently; reports come back in
// the order of proxies.
func (c *Check) runChecks(ctx context.Context, proxies []string) []Report {
	reports := make([]Report, len(proxies))
	var wg sync.WaitGroup
	for i, p := range proxies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i] = c.Run(ctx, p)
		}()
	}
	wg.Wait()
	return reports
}

// summary describes a report in one line, most telling part first
// (Pacemaker shows only the start of an exit reason), then the stage
// timings.
func (r Report) summary(depth Depth) string {
	var b strings.Builder
	switch {
	case r.Err == nil:
		fmt.Fprintf(&b, "SOCKS proxy %s passes depth %d", r.Proxy, depth)
	case r.Upstream:
		// The cause first: Pacemaker keeps the first 128 bytes of a
		// reason, and two IPv6 host:ports fill most of them.
		fmt.Fprintf(&b, "upstream failure: %s: %s through the proxy %s (the same proxy relays to the check's own endpoint)", upstreamCause(r.Err), r.Target, r.Proxy)
	default:
		fmt.Fprintf(&b, "depth %d: %s", depth, describeFailure(r.Err))
	}
	for i, t := range r.Timings {
		if i == 0 {
			b.WriteString(" [")
		} else {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s %.2fms", t.Label, float64(t.Took.Microseconds())/1000)
		if i == len(r.Timings)-1 {
			b.WriteString("]")
		}
	}
	return b.String()
}

// describeFailure says which stage failed against which address, and why,
// briefly: a time-out is "timed out", a SOCKS reply its meaning.
func describeFailure(err error) string {
	var se *socks5.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	why := se.Err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		why = "timed out"
	}
	return fmt.Sprintf("%s failed at %s: %s", se.Stage, se.Proxy, why)
}

// upstreamCause says which stage failed and why, without the proxy's
// address, which the upstream reason names once: "relay-data timed out".
func upstreamCause(err error) string {
	var se *socks5.Error
	if !errors.As(err, &se) {
		return err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s timed out", se.Stage)
	}
	return fmt.Sprintf("%s failed: %v", se.Stage, se.Err)
}

// echoAddress picks where the echo endpoint listens for a proxy with these
// external: entries: the first usable address.
func echoAddress(ctx context.Context, external []string) (netip.Addr, error) {
	for _, e := range external {
		if addrs, err := resolveHost(ctx, e); err == nil && len(addrs) > 0 {
			return addrs[0], nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no usable address in external: %v", external)
}

// localAddressTowards returns the address this host uses to reach host:port;
// no packet is sent.
func localAddressTowards(hostport string) (netip.Addr, error) {
	c, err := net.Dial("udp", hostport)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return netip.Addr{}, err
	}
	return ap.Addr().Unmap(), nil
}

// answersNegotiation returns nil when every address answers SOCKS5 method
// negotiation. A refusal of every offered method (FF) still proves the
// server negotiates, which is all start waits for.
func answersNegotiation(ctx context.Context, proxies []netip.AddrPort) error {
	for _, p := range proxies {
		err := (&socks5.Client{Proxy: p.String()}).Greet(ctx)
		if err != nil && !errors.Is(err, socks5.ErrNoAcceptableMethod) {
			return err
		}
	}
	return nil
}
