package vip

import (
	"net/netip"

	"golang.org/x/net/bpf"
)

// replyFilter is the classic BPF program of the probe's socket: it lets
// through only unfragmented IPv4 TCP segments from vip:port to src, so the
// replies of the probe reach user space and nothing else does.
func replyFilter(src, vip netip.Addr, port uint16) []bpf.Instruction {
	v, s := vip.As4(), src.As4()
	be := func(b [4]byte) uint32 { return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) }
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},                                 // 0 EtherType
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x0800, SkipTrue: 12},      // 1
		bpf.LoadAbsolute{Off: 23, Size: 1},                                 // 2 IP protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 6, SkipTrue: 10},           // 3
		bpf.LoadAbsolute{Off: 26, Size: 4},                                 // 4 IP source
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: be(v), SkipTrue: 8},        // 5
		bpf.LoadAbsolute{Off: 30, Size: 4},                                 // 6 IP destination
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: be(s), SkipTrue: 6},        // 7
		bpf.LoadAbsolute{Off: 20, Size: 2},                                 // 8 flags + fragment offset
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipTrue: 4},        // 9 MF or offset: a fragment
		bpf.LoadMemShift{Off: 14},                                          // 10 X = IP header length
		bpf.LoadIndirect{Off: 14, Size: 2},                                 // 11 TCP source port
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(port), SkipTrue: 1}, // 12
		bpf.RetConstant{Val: 0xffff},                                       // 13 accept
		bpf.RetConstant{Val: 0},                                            // 14 drop
	}
}
