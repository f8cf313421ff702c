package dnsfailover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/ddns"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// TestLoopReload runs the daemon's loop with an interval of an hour and
// asks it to reload twice: a configuration that cannot be read leaves the
// running one in force and the loop going; a good one takes effect at
// once, with a round (its new member, healthy and absent from the
// primary, is added), and the rise and fall state of the members both
// name is kept.
func TestLoopReload(t *testing.T) {
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"127.0.0.1"}})
	conf := func(addrs ...string) *Config {
		var b strings.Builder
		fmt.Fprintf(&b, "primaries = [%q]\nzone = \"z.test\"\nfall = 1\nrise = 1\ninterval = \"1h\"\ntimeout = \"1s\"\n[[record]]\nname = \"www.z.test\"\n", p.addr)
		for _, a := range addrs {
			fmt.Fprintf(&b, "[[record.member]]\naddress = %q\ncheck = { type = \"exec\", command = [\"/bin/true\"] }\n", a)
		}
		cfg, err := ParseConfig("t.toml", []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	log := &testenv.SyncBuffer{}
	e := newEngine(conf("127.0.0.1"), nil, newState(), &logger{stderr: log, debug: true})
	e.probe = func(context.Context, *Member) error { return nil }
	hup := make(chan os.Signal, 1)
	replies := make(chan func() (*Config, *ddns.Key, error), 2)
	replies <- func() (*Config, *ddns.Key, error) { return nil, nil, errors.New("t.toml:3: broken on purpose") }
	replies <- func() (*Config, *ddns.Key, error) { return conf("127.0.0.1", "127.0.0.2"), nil, nil }
	reload := func() (*Config, *ddns.Key, error) { return (<-replies)() }
	stopLoop := startLoop(e, hup, reload)
	testenv.WaitFor(t, 5*time.Second, "the first round", func() error {
		if !strings.Contains(log.String(), "round 1:") {
			return errors.New("not yet")
		}
		return nil
	})
	hup <- syscall.SIGHUP
	testenv.WaitFor(t, 5*time.Second, "the refused reload", func() error {
		if !strings.Contains(log.String(), "reload refused, the running configuration stays: t.toml:3: broken on purpose") {
			return errors.New("not yet")
		}
		return nil
	})
	hup <- syscall.SIGHUP
	testenv.WaitFor(t, 5*time.Second, "the new member added after the reload", func() error {
		if got := p.get("www.z.test."); got != "127.0.0.1 127.0.0.2" {
			return fmt.Errorf("primary holds %s", got)
		}
		return nil
	})
	if err := stopLoop(); err != nil {
		t.Fatal(err)
	}
	text := log.String()
	if !strings.Contains(text, "reloaded: 1 records, 1 primaries") || len(e.cfg.Records[0].Members) != 2 {
		t.Fatalf("the new configuration is not in force:\n%s", text)
	}
	if ms := e.state.Members["www.z.test. A 127.0.0.1"]; ms == nil || ms.OK < 2 {
		t.Fatalf("127.0.0.1's state was not kept across the reload: %+v\n%s", ms, text)
	}
}

// TestReloadKeepsWatching proves that a reload ends the old watches and
// watches the new configuration's members.
func TestReloadKeepsWatching(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	kill := make(chan struct{})
	defer close(kill)
	go serveBanner(ln, kill)
	port := ln.Addr().(*net.TCPAddr).Port
	p := newFakePrimary(t, map[string][]string{"www.z.test.": {"127.0.0.1"}})
	conf := func(watch bool) *Config {
		cfg, err := ParseConfig("t.toml", []byte(fmt.Sprintf("primaries = [%q]\nzone = \"z.test\"\ninterval = \"1h\"\ntimeout = \"1s\"\nwatch = %v\n[[record]]\nname = \"www.z.test\"\n[[record.member]]\naddress = \"127.0.0.1\"\ncheck = { type = \"send-expect\", port = \"%d\", expect = \"220\" }\n", p.addr, watch, port)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	log := &testenv.SyncBuffer{}
	e := newEngine(conf(true), nil, newState(), &logger{stderr: log, debug: true})
	hup := make(chan os.Signal, 1)
	next := conf(false)
	reload := func() (*Config, *ddns.Key, error) { return next, nil, nil }
	stopLoop := startLoop(e, hup, reload)
	testenv.WaitFor(t, 5*time.Second, "the watch", func() error {
		if text := log.String(); !strings.Contains(text, "round 1:") || !strings.Contains(text, "watching") {
			return errors.New("not yet")
		}
		return nil
	})
	old := e.watch
	hup <- syscall.SIGHUP
	testenv.WaitFor(t, 5*time.Second, "the reload", func() error {
		if !strings.Contains(log.String(), "reloaded:") {
			return errors.New("not yet")
		}
		return nil
	})
	if err := stopLoop(); err != nil {
		t.Fatal(err)
	}
	if n := old.count(); n != 0 {
		t.Errorf("%d watches of the old configuration still open", n)
	}
	if e.watch != nil {
		t.Errorf("a configuration without watch kept a watcher")
	}
}
