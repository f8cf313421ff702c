package vip

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// kernelGuard keeps this host's own TCP stack from seeing the real
// servers' segments to the stack's reserved ports. The reserving socket is
// bound but neither listening nor connected, so the kernel answers every
// such segment with a RST to the VIP. ARP delivers those to the VIP's
// owner (the master) in a correct LVS-DR set-up, but to a real server that
// answers ARP for the VIP they reset the check's connection. The guard is
// an nftables table, inet ocfkit-vipcheck-PID, whose raw-priority
// prerouting chain drops segments from VIP:port to each reserved source
// port; the packet socket still sees them (it taps frames before
// netfilter). Close removes the table; a table whose process is gone is
// removed by the next guard.
type kernelGuard struct {
	mu    sync.Mutex // one netlink transaction at a time
	conn  *nftables.Conn
	table *nftables.Table
	chain *nftables.Chain
	match []expr.Any // protocol, addresses and VIP port
}

// newKernelGuard creates the table and chain in this network namespace. It
// needs CAP_NET_ADMIN.
func newKernelGuard(vip, src netip.Addr, port uint16) (*kernelGuard, error) {
	conn, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("opening nftables: %w", err)
	}
	g := &kernelGuard{conn: conn}
	removeStaleGuards(conn)
	g.table = conn.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: fmt.Sprintf("%s%d", guardPrefix, os.Getpid())})
	g.chain = conn.AddChain(&nftables.Chain{Name: "replies", Table: g.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw})
	proto, saddr, daddr, alen := byte(unix.NFPROTO_IPV4), uint32(12), uint32(16), uint32(4)
	if vip.Is6() {
		proto, saddr, daddr, alen = unix.NFPROTO_IPV6, 8, 24, 16
	}
	g.match = []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: saddr, Len: alen},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: vip.AsSlice()},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: daddr, Len: alen},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: src.AsSlice()},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(port >> 8), byte(port)}},
	}
	if err := conn.Flush(); err != nil {
		conn.CloseLasting()
		return nil, fmt.Errorf("creating the nftables guard: %w", err)
	}
	return g, nil
}

// guardPrefix starts the name of every guard table; the process ID ends it.
const guardPrefix = "ocfkit-vipcheck-"

// removeStaleGuards queues the deletion of guard tables left behind by
// processes that no longer exist (killed before they could remove them);
// the next Flush carries it out.
func removeStaleGuards(conn *nftables.Conn) {
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return
	}
	for _, t := range tables {
		pid, ok := strings.CutPrefix(t.Name, guardPrefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); errors.Is(err, fs.ErrNotExist) {
			conn.DelTable(t)
		}
	}
}

// add drops the segments for one reserved port.
func (g *kernelGuard) add(port uint16) error {
	exprs := append(append([]expr.Any(nil), g.match...),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(port >> 8), byte(port)}},
		&expr.Verdict{Kind: expr.VerdictDrop})
	g.mu.Lock()
	defer g.mu.Unlock()
	g.conn.AddRule(&nftables.Rule{Table: g.table, Chain: g.chain, Exprs: exprs})
	if err := g.conn.Flush(); err != nil {
		return fmt.Errorf("adding an nftables guard rule for port %d: %w", port, err)
	}
	return nil
}

// close removes the table.
func (g *kernelGuard) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.conn.DelTable(g.table)
	err := g.conn.Flush()
	if cerr := g.conn.CloseLasting(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("removing the nftables guard: %w", err)
	}
	return nil
}
