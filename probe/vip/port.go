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
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("opening a TCP socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src.As4()}); err != nil {
		unix.Close(fd)
		return 0, nil, fmt.Errorf("binding a TCP socket to %v: %w", src, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return 0, nil, fmt.Errorf("reading the reserved port: %w", err)
	}
	in4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		unix.Close(fd)
		return 0, nil, fmt.Errorf("unexpected socket address %T", sa)
	}
	return uint16(in4.Port), func() { unix.Close(fd) }, nil
}
