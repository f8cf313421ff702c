package sockd

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// tcpState is the state column of /proc/net/tcp (include/net/tcp_states.h).
type tcpState uint8

// tcpListen is the state of a listening socket in /proc/net/tcp
// (TCP_LISTEN).
const tcpListen tcpState = 0x0A

// maxProcNet bounds what is read of /proc/PID/net/tcp{,6}: a host with
// tens of thousands of connections, not more.
const maxProcNet = 64 << 20

// listeningSockets returns the TCP addresses the processes listen on, read
// from their own network namespace (/proc/PID/net/tcp and tcp6), matched
// to their open descriptors: what Dante really bound, not what its
// configuration names now.
func listeningSockets(procs []Process) (map[netip.AddrPort]bool, error) {
	out := map[netip.AddrPort]bool{}
	for _, p := range procs {
		dir := filepath.Join(procRoot, strconv.Itoa(p.PID))
		inodes, err := socketInodes(filepath.Join(dir, "fd"))
		if err != nil {
			return nil, err
		}
		for _, name := range []string{"tcp", "tcp6"} {
			b, _, err := filesafe.ReadRegular(filepath.Join(dir, "net", name), 0, maxProcNet)
			if err != nil {
				if os.IsNotExist(err) {
					continue // no IPv6 in this kernel
				}
				return nil, fmt.Errorf("listening sockets of PID %d: %w", p.PID, err)
			}
			for _, s := range parseProcNetTCP(b) {
				if s.state == tcpListen && inodes[s.inode] {
					out[s.addr] = true
				}
			}
		}
	}
	return out, nil
}

// socketInodes returns the inodes of the sockets among a process's open
// descriptors.
func socketInodes(fdDir string) (map[uint64]bool, error) {
	names, err := readDirNames(fdDir)
	if err != nil {
		return nil, fmt.Errorf("descriptors: %w", err)
	}
	out := map[uint64]bool{}
	for _, n := range names {
		target, err := os.Readlink(filepath.Join(fdDir, n))
		if err != nil {
			continue // closed meanwhile
		}
		if s, ok := strings.CutPrefix(target, "socket:["); ok {
			if ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				out[ino] = true
			}
		}
	}
	return out, nil
}

// tcpSocket is one line of /proc/net/tcp or tcp6.
type tcpSocket struct {
	addr  netip.AddrPort
	state tcpState
	inode uint64
}

// parseProcNetTCP reads the lines of /proc/net/tcp or tcp6 ("sl
// local_address rem_address st ... inode ..."); lines it cannot read are
// skipped. An address is printed as 32-bit words in host byte order. The
// kernel lists listening sockets first, so a table cut at maxProcNet still
// holds them.
func parseProcNetTCP(b []byte) []tcpSocket {
	var out []tcpSocket
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 10 {
			continue
		}
		addr, ok := parseHexAddrPort(f[1])
		if !ok {
			continue
		}
		state, err1 := strconv.ParseUint(f[3], 16, 8)
		inode, err2 := strconv.ParseUint(f[9], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, tcpSocket{addr: addr, state: tcpState(state), inode: inode})
	}
	return out
}

// parseHexAddrPort reads "0100007F:0438" or its 32-digit IPv6 form.
func parseHexAddrPort(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || (len(h) != 8 && len(h) != 32) || len(p) != 4 {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	port, err2 := strconv.ParseUint(p, 16, 16)
	if err != nil || err2 != nil {
		return netip.AddrPort{}, false
	}
	// Each 32-bit word was printed as a host-order number.
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}

// onlyBound keeps, of the addresses found for interface names, those the
// instance listens on: Dante binds an interface's addresses once, at
// start, so one added later (another resource's address) is not its, and
// one it never bound is no failure. Other addresses are kept: Dante must
// serve what its configuration names. An interface with none left is an
// error.
func onlyBound(targets []target, listen map[netip.AddrPort]bool) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	kept := map[string]bool{}
	for _, t := range targets {
		if t.iface == "" || listens(listen, t.AddrPort) {
			out = append(out, t.AddrPort)
			kept[t.iface] = true
		}
	}
	for _, t := range targets {
		if t.iface != "" && !kept[t.iface] {
			return nil, fmt.Errorf("Dante listens on none of the addresses of interface %s on port %d", t.iface, t.Port())
		}
	}
	return out, nil
}

// listens reports whether a listening socket accepts connections to a,
// itself or a wildcard of its port.
func listens(listen map[netip.AddrPort]bool, a netip.AddrPort) bool {
	return listen[a] || listen[netip.AddrPortFrom(netip.IPv4Unspecified(), a.Port())] ||
		listen[netip.AddrPortFrom(netip.IPv6Unspecified(), a.Port())]
}

// boundEndpoints returns the addresses to check of a running instance:
// the configuration's, those of interface names only as its mothers
// bound them.
func boundEndpoints(targets []target, mothers []Process) ([]netip.AddrPort, error) {
	if !slices.ContainsFunc(targets, func(t target) bool { return t.iface != "" }) {
		// No interface names: nothing to read (a busy proxy's socket
		// table is large).
		return onlyBound(targets, nil)
	}
	listen, err := listeningSockets(mothers)
	if err != nil {
		return nil, err
	}
	return onlyBound(targets, listen)
}
