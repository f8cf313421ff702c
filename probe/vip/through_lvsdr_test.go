package vip_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/probe/vip"
)

// TestPathsLVSDR opens full TCP connections through the VIP with the
// userspace stack: data both ways, the typed dial errors, and nothing left
// behind on the real servers.
func TestPathsLVSDR(t *testing.T) {
	l := testenv.NewLVSDR(t, "vct")
	for i := range l.RS {
		l.StartHTTP(i, 8080, "", "")
	}
	rs1, rs2 := netip.MustParseAddr(l.RSAddr[0]), netip.MustParseAddr(l.RSAddr[1])
	absent := netip.MustParseAddr("10.206.0.99")
	l.RS[1].MustRun(t, "ip", "addr", "del", l.VIP+"/32", "dev", "lo")

	err := l.Master.Within(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cfg := vip.Config{Interface: ifi, VIP: netip.MustParseAddr(l.VIP), Port: 8080}
		paths, err := vip.OpenPaths(ctx, cfg, []vip.Target{{Addr: rs1}, {Addr: rs2}, {Addr: absent}})
		if err != nil {
			return err
		}
		defer paths.Close()
		conn, a, err := paths.Dial(ctx, rs1)
		if err != nil {
			return fmt.Errorf("dial rs1: %w", err)
		}
		if a.Port == 0 || a.SYNs < 1 {
			t.Errorf("attempt %+v", a)
		}
		if mac, _ := paths.Resolved(rs1); mac.String() != l.MAC(l.RS[0]).String() {
			t.Errorf("rs1 resolved to %v", mac)
		}
		if _, err := io.WriteString(conn, "GET /small HTTP/1.0\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		b, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || !strings.HasSuffix(string(b), testenv.SmallBody) || !strings.Contains(string(b), "X-Server: "+l.RS[0].Name) {
			t.Errorf("response from rs1: %v %q", err, b)
		}
		short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancelShort()
		if _, a, err := paths.Dial(short, rs2); !errors.Is(err, vip.ErrNoAnswer) || vip.StatusOf(err) != vip.NoAnswer || a.SYNs < 3 {
			t.Errorf("rs2 without the VIP: %v, %+v", err, a)
		}
		if _, _, err := paths.Dial(short, absent); vip.StatusOf(err) != vip.NoARP {
			t.Errorf("absent real server: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Refused: the probe's port 80 listener is there, 8081 is not.
	err = l.Master.Within(func() error {
		ifi, _ := net.InterfaceByName("eth0")
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		paths, err := vip.OpenPaths(ctx, vip.Config{Interface: ifi, VIP: netip.MustParseAddr(l.VIP), Port: 8081}, []vip.Target{{Addr: rs1}})
		if err != nil {
			return err
		}
		defer paths.Close()
		if _, _, err := paths.Dial(ctx, rs1); !errors.Is(err, vip.ErrRefused) {
			t.Errorf("closed port: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	noHalfOpen(t, l)
	testenv.WaitFor(t, 5*time.Second, "no open connection on rs1", func() error {
		out, _ := l.RS[0].Command("ss", "-Htn", "state", "connected", "sport = :8080").Output()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" && !strings.HasPrefix(line, "TIME-WAIT") {
				return fmt.Errorf("left: %s", out)
			}
		}
		return nil
	})
}
