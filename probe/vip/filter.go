package vip

import (
	"net/netip"

	"golang.org/x/net/bpf"
)

// replyFilter is the classic BPF program of the probe's socket. It lets
// through ARP replies (for resolving the real servers on the same socket)
// and unfragmented IPv4 TCP segments from vip:port to src, so only the
// probe's answers reach user space.
func replyFilter(src, vip netip.Addr, port uint16) []bpf.Instruction {
	if vip.Is6() {
		return replyFilter6(src, vip, port)
	}
	v, s := vip.As4(), src.As4()
	be := func(b [4]byte) uint32 { return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) }
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                                   // 0 EtherType
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0806, SkipFalse: 2},           // 1 ARP?
		bpf.LoadAbsolute{Off: 20, Size: 2},                                   // 2 ARP operation
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 2, SkipTrue: 12, SkipFalse: 13}, // 3 reply: accept
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x0800, SkipTrue: 12},        // 4 not IPv4: drop
		bpf.LoadAbsolute{Off: 23, Size: 1},                                   // 5 IP protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 6, SkipTrue: 10},             // 6
		bpf.LoadAbsolute{Off: 26, Size: 4},                                   // 7 IP source
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: be(v), SkipTrue: 8},          // 8
		bpf.LoadAbsolute{Off: 30, Size: 4},                                   // 9 IP destination
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: be(s), SkipTrue: 6},          // 10
		bpf.LoadAbsolute{Off: 20, Size: 2},                                   // 11 flags + fragment offset
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipTrue: 4},          // 12 MF or offset: a fragment
		bpf.LoadMemShift{Off: 14},                                            // 13 X = IP header length
		bpf.LoadIndirect{Off: 14, Size: 2},                                   // 14 TCP source port
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(port), SkipTrue: 1},   // 15
		bpf.RetConstant{Val: 0xffff},                                         // 16 accept
		bpf.RetConstant{Val: 0},                                              // 17 drop
	}
}

// replyFilter6 is replyFilter for an IPv6 VIP: neighbour advertisements,
// and TCP segments (no extension headers) from vip:port to src.
func replyFilter6(src, vip netip.Addr, port uint16) []bpf.Instruction {
	v, s := vip.As16(), src.As16()
	word := func(b [16]byte, i int) uint32 {
		return uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
	}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                            // 0 EtherType
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x86dd, SkipTrue: 24}, // 1 not IPv6: drop (26)
		bpf.LoadAbsolute{Off: 20, Size: 1},                            // 2 next header
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 58, SkipTrue: 19},        // 3 ICMPv6 (23)
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 6, SkipTrue: 21},      // 4 not TCP: drop (26)
	}
	// 5..20: source == vip, destination == src, word by word.
	for i, w := range []uint32{word(v, 0), word(v, 4), word(v, 8), word(v, 12), word(s, 0), word(s, 4), word(s, 8), word(s, 12)} {
		at := uint32(22 + 4*i)
		skip := uint8(26 - (5 + 2*i + 2)) // from the jump's successor to drop
		prog = append(prog, bpf.LoadAbsolute{Off: at, Size: 4}, bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: w, SkipTrue: skip})
	}
	return append(prog,
		bpf.LoadAbsolute{Off: 54, Size: 2},                                            // 21 TCP source port
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipTrue: 2, SkipFalse: 3}, // 22
		bpf.LoadAbsolute{Off: 54, Size: 1},                                            // 23 ICMPv6 type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 136, SkipFalse: 1},                       // 24 neighbour advertisement
		bpf.RetConstant{Val: 0xffff},                                                  // 25 accept
		bpf.RetConstant{Val: 0},                                                       // 26 drop
	)
}
