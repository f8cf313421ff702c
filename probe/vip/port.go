package vip

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// reserveTCPPort binds a TCP socket to port 0 on src and keeps it open until
// release is called, so the kernel hands the port to nothing else while the
// probe uses it. The socket never listens: segments to it are not delivered.
func reserveTCPPort(src netip.Addr) (uint16, func(), error) {
	var (
		family int
		sa     unix.Sockaddr
	)
	if src.Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: src.As4()}
	} else {
		family, sa = unix.AF_INET6, &unix.SockaddrInet6{Addr: src.As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("opening a TCP socket: %w", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return 0, nil, fmt.Errorf("binding a TCP socket to %v: %w", src, err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return 0, nil, fmt.Errorf("reading the reserved port: %w", err)
	}
	var port int
	switch a := bound.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	default:
		unix.Close(fd)
		return 0, nil, fmt.Errorf("unexpected socket address %T", bound)
	}
	return uint16(port), func() { unix.Close(fd) }, nil
}
