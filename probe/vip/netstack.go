package vip

import (
	"fmt"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// nicID is the only NIC of a Paths stack.
const nicID = 1

// minRTO is the stack's smallest retransmission timeout: real servers are
// on the same segment, so the 200 ms of RFC 6298 would waste most of a
// check's time on a lost segment.
const minRTO = 30 * time.Millisecond

// newStack builds the userspace stack of a Paths: one NIC, a channel
// endpoint the bridge drains and fills, with src as its only address, a
// route to everything of vip's family, and TCP tuned for one segment
// (minRTO, SACK).
func newStack(hw []byte, mtu int, src, vip netip.Addr) (*stack.Stack, *channel.Endpoint, tcpip.NetworkProtocolNumber, error) {
	if mtu <= 0 || mtu > 65535 {
		mtu = 1500
	}
	st := stack.New(stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocolWithOptions(ipv6.Options{
			DADConfigs: stack.DADConfigurations{DupAddrDetectTransmits: 0},
		})},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	ep := channel.New(512, uint32(mtu), tcpip.LinkAddress(hw))
	// The interface checked the checksums of what it received (on veth the
	// sender's are not even filled in yet); netstack computes its own.
	ep.LinkEPCapabilities = stack.CapabilityRXChecksumOffload
	fail := func(err error) (*stack.Stack, *channel.Endpoint, tcpip.NetworkProtocolNumber, error) {
		st.Destroy()
		return nil, nil, 0, err
	}
	if err := st.CreateNIC(nicID, ep); err != nil {
		return fail(fmt.Errorf("creating the stack's interface: %s", err))
	}
	proto, subnet := ipv4.ProtocolNumber, header.IPv4EmptySubnet
	if vip.Is6() {
		proto, subnet = ipv6.ProtocolNumber, header.IPv6EmptySubnet
	}
	pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddrFromSlice(src.AsSlice()).WithPrefix()}
	if err := st.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); err != nil {
		return fail(fmt.Errorf("adding %v to the stack: %s", src, err))
	}
	st.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: nicID}})
	rto := tcpip.TCPMinRTOOption(minRTO)
	sack := tcpip.TCPSACKEnabled(true)
	for _, opt := range []tcpip.SettableTransportProtocolOption{&rto, &sack} {
		if err := st.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			return fail(fmt.Errorf("setting %T: %s", opt, err))
		}
	}
	return st, ep, proto, nil
}
