package vip

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
)

// Role is what a balancer is for the VIP: the master holds it and probes
// through it; a backup checks real servers with a plain connect.
type Role int

const (
	// Backup does not hold the VIP.
	Backup Role = iota
	// Master holds the VIP.
	Master
)

// String returns "master" or "backup".
func (r Role) String() string {
	if r == Master {
		return "master"
	}
	return "backup"
}

// RoleFromFile reads a role file as check_tcp_raw does: a first byte '1'
// means master, anything else (an empty file too) backup.
func RoleFromFile(path string) (Role, error) {
	f, err := os.Open(path)
	if err != nil {
		return Backup, fmt.Errorf("reading the role file: %w", err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.Read(b[:]); err != nil && !errors.Is(err, io.EOF) {
		return Backup, fmt.Errorf("reading the role file %s: %w", path, err)
	}
	if b[0] == '1' {
		return Master, nil
	}
	return Backup, nil
}

// RoleFromAddresses returns Master when vip is configured on any local
// interface of this network namespace, else Backup.
func RoleFromAddresses(vip netip.Addr) (Role, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return Backup, fmt.Errorf("listing local addresses: %w", err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == vip {
			return Master, nil
		}
	}
	return Backup, nil
}
