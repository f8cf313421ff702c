package ifaddr

// The protocol numbers that mark the addresses ocfkit's programs add. Each
// program finds its own addresses by its number and removes them, so no
// two programs may share one.
const (
	// ProtoRealserver marks the VIPs ocf-realserver adds.
	ProtoRealserver = 248
	// ProtoAnycastProbe is anycast-probe's default; it may be configured
	// to another number, never to ProtoRealserver.
	ProtoAnycastProbe = 249
)
