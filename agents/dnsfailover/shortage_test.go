package dnsfailover

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestFDShortageNoVerdict: a round run while this host has no file
// descriptor left (a thousand watches under a low LimitNOFILE) fails
// every check with EMFILE; that says nothing of the members, who are not
// judged on it. Before, they were counted failed: with fall = 1 both were
// marked down, and the round after the shortage (rise 2) removed one of
// them although both had always been healthy.
func TestFDShortageNoVerdict(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Temporary() { //nolint:staticcheck // EMFILE is
					continue
				}
				return
			}
			c.Write([]byte("220 ready\r\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"127.0.0.1", "127.0.0.2"}})
	cfg, err := ParseConfig("t.toml", []byte(fmt.Sprintf("primaries = [%q]\nzone = \"z.test\"\nfall = 1\nrise = 2\ntimeout = \"1s\"\n[[record]]\nname = \"www.z.test\"\ncheck = { type = \"send-expect\", port = \"%d\", expect = \"220\" }\n[[record.member]]\naddress = \"127.0.0.1\"\n[[record.member]]\naddress = \"127.0.0.2\"\n", p.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	e := newEngine(cfg, nil, newState(), &logger{stderr: log})
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	short := lim
	short.Cur = uint64(len(fds)) // none left
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &short); err != nil {
		t.Fatal(err)
	}
	e.Round(context.Background())
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "too many open files") {
		t.Fatalf("the shortage did not reach the checks:\n%s", log)
	}
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.get("www.z.test."); got != "127.0.0.1 127.0.0.2" {
		t.Fatalf("primary holds %q after a descriptor shortage\n%s", got, log)
	}
	for _, m := range cfg.Records[0].Members {
		if st := e.state.member(memberKey(cfg.Records[0], m)); !st.Up {
			t.Errorf("%s judged on a check this host could not run: %+v", m.Addr, st)
		}
	}
}
