package dnsfailover

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestFDShortageNoVerdict: a round run while this host has no file
// descriptor left (a thousand watches under a low LimitNOFILE) fails
// every check with EMFILE; that says nothing of the members, who are not
// judged on it. Before, they were counted failed: with fall = 1 both were
// marked down, and the round after the shortage (rise 2) removed one of
// them although both had always been healthy.
func TestFDShortageNoVerdict(t *testing.T) {
	port := bannerProcess(t)
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"127.0.0.1", "127.0.0.2"}})
	cfg, err := ParseConfig("t.toml", []byte(fmt.Sprintf("primaries = [%q]\nzone = \"z.test\"\nfall = 1\nrise = 2\ntimeout = \"1s\"\n[[record]]\nname = \"www.z.test\"\ncheck = { type = \"send-expect\", port = \"%d\", expect = \"220\" }\n[[record.member]]\naddress = \"127.0.0.1\"\n[[record.member]]\naddress = \"127.0.0.2\"\n", p.addr, port)))
	if err != nil {
		t.Fatal(err)
	}
	log := &testenv.SyncBuffer{}
	e := newEngine(cfg, nil, newState(), &logger{stderr: log})
	if err := e.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	short := lim
	short.Cur = 3 // below what is open: none left
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

// BannerMemberEnv set to 1 makes the test binary bannerProcess's member.
const BannerMemberEnv = "DNS_FAILOVER_BANNER_SERVER"

// bannerProcess starts a member in a process of its own (this test
// binary, where TestMain runs ServeBannerMember), so that this process's shortage is
// not the member's; it answers each connection with a banner and closes
// it, until the test ends. It returns the member's port, on every
// address.
func bannerProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), BannerMemberEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	var port int
	if _, err := fmt.Fscan(out, &port); err != nil {
		t.Fatalf("the member process: %v", err)
	}
	return port
}

// ServeBannerMember is bannerProcess's member, run by TestMain in the
// process bannerProcess starts: it prints its port, answers each
// connection with a banner and closes it, until its standard input ends.
func ServeBannerMember() {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("220 ready\r\n"))
			c.Close()
		}
	}()
	io.Copy(io.Discard, os.Stdin) // until the test closes it
	os.Exit(0)
}
