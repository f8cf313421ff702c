package action

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ocfkit/ocfkit/agents/ocf/ocfcode"
)

// OCF runs an OCF resource agent's start on MASTER and stop otherwise, with
// the environment Pacemaker would give it, so a service fails over with its
// address and keeps its agent's deep checks.
type OCF struct {
	Agent    string
	Instance string
	Params   map[string]string
	Root     string
	Timeout  time.Duration
}

// Name describes the action.
func (o *OCF) Name() string { return fmt.Sprintf("ocf %s (%s)", filepath.Base(o.Agent), o.Instance) }

// CheckHost checks that the agent exists and is safe to run as root.
func (o *OCF) CheckHost() error { return CheckProgram(o.Agent) }

// Up runs start; only 0 is success.
func (o *OCF) Up(ctx context.Context) error { return o.call(ctx, "start", ocfcode.Success) }

// Down runs stop; 0 and 7 (not running) are success.
func (o *OCF) Down(ctx context.Context) error {
	return o.call(ctx, "stop", ocfcode.Success, ocfcode.NotRunning)
}

// Env returns the environment for one agent call.
func (o *OCF) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCF_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"OCF_ROOT="+o.Root,
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_INSTANCE="+o.Instance,
		"OCF_RESOURCE_TYPE="+filepath.Base(o.Agent),
		"OCF_RESKEY_CRM_meta_timeout="+strconv.FormatInt(o.Timeout.Milliseconds(), 10),
	)
	keys := make([]string, 0, len(o.Params))
	for k := range o.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, "OCF_RESKEY_"+k+"="+o.Params[k])
	}
	return env
}

func (o *OCF) call(ctx context.Context, op string, ok ...ocfcode.Code) error {
	res, err := run(ctx, []string{o.Agent, op}, o.Env(), o.Timeout)
	if err != nil {
		return fmt.Errorf("%s %s: %w", o.Agent, op, err)
	}
	for _, c := range ok {
		if res.Code == int(c) {
			return nil
		}
	}
	reason := lastLine(res.Output)
	for _, l := range strings.Split(res.Output, "\n") {
		if r, found := strings.CutPrefix(strings.TrimSpace(l), ocfcode.ExitReasonPrefix); found {
			reason = strings.TrimSpace(r)
		}
	}
	return fmt.Errorf("%s %s exited with %d: %s", o.Agent, op, res.Code, reason)
}
