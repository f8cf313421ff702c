package vipcheck

import (
	"fmt"

	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/probe/vip"
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

// via is how a balancer of role r reaches the real servers.
func (r Role) via() vip.Via {
	if r == Master {
		return vip.ThroughVIP
	}
	return vip.Direct
}

// RoleMode is the role a check is told to take.
type RoleMode string

// Roles a check can be told to take.
const (
	RoleMaster RoleMode = "master" // raw probe through the VIP
	RoleBackup RoleMode = "backup" // plain connect to each real server
	RoleAuto   RoleMode = "auto"   // master when the VIP is configured here
)

// ParseRoleMode reads master, backup or auto.
func ParseRoleMode(s string) (RoleMode, error) {
	switch m := RoleMode(s); m {
	case RoleMaster, RoleBackup, RoleAuto:
		return m, nil
	}
	return "", fmt.Errorf("unknown role %q (want master, backup or auto)", s)
}

// role decides between the raw probe and the plain connect: the role
// file when set (as check_tcp_raw's -r), else the mode.
func (c Check) role() (Role, error) {
	if c.RoleFile != "" {
		return RoleFromFile(c.RoleFile)
	}
	switch c.Role {
	case "", RoleMaster:
		return Master, nil
	case RoleBackup:
		return Backup, nil
	case RoleAuto:
		local, err := vip.IsLocal(c.VIP)
		if local {
			return Master, err
		}
		return Backup, err
	}
	_, err := ParseRoleMode(string(c.Role))
	return Backup, err
}

// RoleFromFile reads a role file as check_tcp_raw does: a first byte '1'
// means master, anything else (an empty file too) backup. The file must be
// a regular file, opened without blocking: a FIFO or a device there (in a
// directory others can write, say) cannot hang the check.
func RoleFromFile(path string) (Role, error) {
	b, _, err := filesafe.ReadRegular(path, 0, 1)
	if err != nil {
		return Backup, fmt.Errorf("reading the role file: %w", err)
	}
	if len(b) == 1 && b[0] == '1' {
		return Master, nil
	}
	return Backup, nil
}
