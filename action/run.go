package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// outputLimit is how much of a command's output is kept for error messages.
const outputLimit = 4096

// tailBuffer keeps the last outputLimit bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > outputLimit {
		t.b = append([]byte(nil), t.b[len(t.b)-outputLimit:]...)
	}
	return len(p), nil
}

// result is how a command ended.
type result struct {
	Code   int    // exit status; -1 when killed or not started
	Output string // tail of stdout and stderr
}

// CheckProgram refuses a program that someone other than root or the
// effective user could have written (see filesafe): it would run as root.
func CheckProgram(path string) error {
	if err := filesafe.Executable(path, os.Geteuid()); err != nil {
		return fmt.Errorf("refusing to run %s: %w", path, err)
	}
	return nil
}

// interpreters read their program from their first operand.
var interpreters = map[string]bool{"sh": true, "bash": true, "dash": true, "ksh": true, "mksh": true, "zsh": true,
	"python": true, "python3": true, "perl": true, "ruby": true, "tclsh": true, "awk": true}

// CheckCommand is CheckProgram for argv[0] and, when argv[0] is an
// interpreter (sh, python3, perl...) given a script file rather than
// inline code (-c, -e), for that script too: it is as much a root command.
func CheckCommand(argv []string) error {
	if err := CheckProgram(argv[0]); err != nil {
		return err
	}
	if !interpreters[filepath.Base(argv[0])] {
		return nil
	}
	for _, a := range argv[1:] {
		switch {
		case a == "-c" || a == "-e" || a == "-E" || a == "--":
			return nil // inline code: nothing on disk to check
		case strings.HasPrefix(a, "-"):
			continue
		case filepath.IsAbs(a) || strings.Contains(a, "/"):
			if err := filesafe.Check(a, os.Geteuid()); err != nil {
				return fmt.Errorf("refusing to run %s with %s: %w", argv[0], a, err)
			}
		}
		return nil
	}
	return nil
}

// run starts argv (no shell) in its own process group with stdin from
// /dev/null, and kills the whole group when timeout passes or ctx ends. A
// daemon that keeps the output open does not hold it up: output is read for
// at most half a second after the command exits. The program must pass
// CheckCommand; where the system allows it, the command is killed when the
// process running it dies (a killed worker leaves no orphan behind).
func run(ctx context.Context, argv, env []string, timeout time.Duration) (result, error) {
	if err := CheckCommand(argv); err != nil {
		return result{Code: -1}, err
	}
	// Pdeathsig follows the thread that started the command: keep it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	err := cmd.Run()
	res := result{Code: -1, Output: string(bytes.TrimSpace(out.b))}
	if cmd.ProcessState != nil {
		res.Code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s: killed after %v: %w", argv[0], timeout, ctx.Err())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		return res, fmt.Errorf("running %s: %w", argv[0], err)
	}
	return res, nil
}

// lastLine returns the last non-empty line of s, for error messages.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
