package procstat

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// full is a real line (bash in a session) with the 52 fields of Linux 6.
const full = "4242 (bash) S 4200 4242 4242 34816 4300 4194304 1385 6061 0 2 3 1 9 4 20 0 1 0 123456 8994816 1237 18446744073709551615 1 1 0 0 0 0 65536 3686404 1266761467 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Stat
	}{
		{full, Stat{PID: 4242, Comm: "bash", State: 'S', PPID: 4200, PGRP: 4242, Start: 123456, HasStart: true}},
		// A name with spaces and ')' in it: fields come after the last ')'.
		{strings.Replace(full, "(bash)", "(my prog) S 1 2)", 1),
			Stat{PID: 4242, Comm: "my prog) S 1 2", State: 'S', PPID: 4200, PGRP: 4242, Start: 123456, HasStart: true}},
		{"4242 (danted: io-child) (x)) T 4200 4200 4200 0 -1",
			Stat{PID: 4242, Comm: "danted: io-child) (x)", State: 'T', PPID: 4200, PGRP: 4200}},
		{"2 (kthreadd) S 0 0 0", Stat{PID: 2, Comm: "kthreadd", State: 'S'}},
		{"7 () Z 1 7 7", Stat{PID: 7, State: 'Z', PPID: 1, PGRP: 7}},
	} {
		got, err := Parse([]byte(tc.line))
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, bad := range []string{
		"", "42", "x (a) S 1 1", "42 (a) S x 1", "42 (a) SS 1 1", "42 (a", "0()\x00 0 0",
		"42 (a) \x00 1 1", "42 (a) Q 1 1", "0 (a) S 1 1", "-4 (a) S 1 1", "42 (a) S -1 1",
		"42 (a) S 1", "42(a) S 1 1", "42 a) S 1 1", "42 (a) S 1 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 x",
	} {
		if st, err := Parse([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrMalformed", bad, st, err)
		}
	}
}

// TestReadSpaces checks the parser against the kernel: a process whose
// name holds spaces and parentheses is read right, start time included.
func TestReadSpaces(t *testing.T) {
	sleep := testenv.RequireCommand(t, "sleep")
	name := t.TempDir() + "/a b) c"
	if err := os.Symlink(sleep, name); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var st Stat
	testenv.WaitFor(t, 5*time.Second, "the child's stat to name it", func() error {
		var err error
		if st, err = Read(cmd.Process.Pid); err == nil && st.Comm != "a b) c" {
			err = fmt.Errorf("command name %q", st.Comm)
		}
		return err
	})
	if st.PID != cmd.Process.Pid || st.PPID != os.Getpid() || !st.HasStart || st.Start == 0 || st.Zombie() {
		t.Fatalf("read %+v for child %d of %d", st, cmd.Process.Pid, os.Getpid())
	}
}

func TestReadGone(t *testing.T) {
	if _, err := Read(1 << 30); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read(no such PID): %v, want fs.ErrNotExist", err)
	}
}

// FuzzParse checks that no content makes the parser panic, and that what
// it accepts is a valid state and PID whose fields come after the last ')'.
func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte("4242 (danted) S 1 4242 4242 0 -1"))
	f.Add([]byte("1 ((a) b)) Z 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Parse(b)
		if err != nil {
			return
		}
		if !strings.ContainsRune(States, rune(st.State)) || st.PID <= 0 || st.PPID < 0 || st.PGRP < 0 {
			t.Errorf("invalid stat accepted: %+v", st)
		}
		if last := strings.LastIndexByte(string(b), ')'); !strings.HasSuffix(string(b[:last+1]), "("+st.Comm+")") {
			t.Errorf("command name %q does not end at the last ')'", st.Comm)
		}
	})
}
