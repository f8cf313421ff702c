package realserver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// procConf is where the per-interface IPv4 sysctls live; a variable so
// unit tests can point it elsewhere.
var procConf = "/proc/sys/net/ipv4/conf"

// The two sysctls of a real server, and the values that keep it from
// answering ARP for a VIP on its loopback (arp_ignore 1, 2 and 8 all only
// answer for addresses of the interface asked on; 0 and the reserved 4-7
// answer for any local address) and from using a VIP as the sender of its
// own ARP requests (arp_announce 2).
const (
	arpIgnore   = "arp_ignore"
	arpAnnounce = "arp_announce"
)

// wanted returns the value to write to a sysctl and whether v is fine
// already.
func wanted(name, v string) (string, bool) {
	switch name {
	case arpIgnore:
		return "1", v == "1" || v == "2" || v == "8"
	case arpAnnounce:
		return "2", v == "2"
	}
	panic("realserver: unknown sysctl " + name)
}

// sysctlPath returns the file of a sysctl for conf (all, default or an
// interface).
func sysctlPath(conf, name string) string { return filepath.Join(procConf, conf, name) }

// sysctlName returns the dotted name of a sysctl file, for messages.
func sysctlName(path string) string {
	rel, err := filepath.Rel(filepath.Dir(procConf), path)
	if err != nil {
		return path
	}
	return "net.ipv4." + strings.ReplaceAll(rel, "/", ".")
}

// arpInterfaceNames checks arp_interfaces: "all", or interface names
// separated by commas or spaces, which it returns sorted (nil for all).
func arpInterfaceNames(arpInterfaces string) ([]string, error) {
	fields := strings.FieldsFunc(arpInterfaces, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	switch {
	case len(fields) == 1 && fields[0] == "all":
		return nil, nil
	case len(fields) == 0:
		return nil, errors.New("arp_interfaces is empty: want all or interface names")
	}
	for _, f := range fields {
		if f == "all" || f == "." || f == ".." || strings.ContainsAny(f, "/\x00") || len(f) > 15 {
			return nil, fmt.Errorf("arp_interfaces: %q is not an interface name", f)
		}
	}
	sort.Strings(fields)
	return fields, nil
}

// confs returns the sysctl directories arp_interfaces names: "all" is
// all, default and every interface there is now.
func confs(arpInterfaces string) ([]string, error) {
	names, err := arpInterfaceNames(arpInterfaces)
	if err != nil || names != nil {
		return names, err
	}
	entries, err := os.ReadDir(procConf)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", procConf, err)
	}
	out := []string{"all", "default"}
	for _, e := range entries {
		if n := e.Name(); n != "all" && n != "default" {
			out = append(out, n)
		}
	}
	return out, nil
}

// sysctlFiles returns every sysctl file for confs.
func sysctlFiles(confs []string) []string {
	var out []string
	for _, c := range confs {
		out = append(out, sysctlPath(c, arpIgnore), sysctlPath(c, arpAnnounce))
	}
	return out
}

// readSysctl returns a sysctl's value, trimmed.
func readSysctl(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(path, v string) error {
	// O_WRONLY without O_CREATE: a sysctl that is gone stays gone.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(v + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sysctlOK reports whether path holds a value that keeps the VIPs silent;
// a sysctl that is gone (its interface removed) is fine.
func sysctlOK(path string) (string, bool, error) {
	v, err := readSysctl(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", true, nil
	}
	if err != nil {
		return "", false, err
	}
	_, ok := wanted(filepath.Base(path), v)
	return v, ok, nil
}

// effective returns the value the kernel uses for an interface: the
// larger of conf/all and conf/IFACE (both arp_ignore and arp_announce
// take the maximum).
func effective(iface, name string) (int, error) {
	best := 0
	for _, c := range []string{"all", iface} {
		v, err := readSysctl(sysctlPath(c, name))
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("%s=%q: %w", sysctlName(sysctlPath(c, name)), v, err)
		}
		best = max(best, n)
	}
	return best, nil
}
