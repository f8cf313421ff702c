package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
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

// run starts argv (no shell) in its own process group with stdin from
// /dev/null, and kills the whole group when timeout passes or ctx ends. A
// daemon that keeps the output open does not hold it up: output is read for
// at most half a second after the command exits.
func run(ctx context.Context, argv, env []string, timeout time.Duration) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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
