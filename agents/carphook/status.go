package carphook

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/agents/carphook/store"
)

// Status returns the recorded status of a group (by name or match key).
func (h *Hook) Status(key string) (*store.Status, error) {
	g, err := h.Config.Find(key)
	if err != nil {
		return nil, err
	}
	return h.Store.Read(g.Name)
}

// WorkerAlive reports whether the status's worker process still exists.
func WorkerAlive(st *store.Status) bool {
	if st.WorkerPID <= 0 {
		return false
	}
	if err := syscall.Kill(st.WorkerPID, 0); err != nil && err != syscall.EPERM {
		return false
	}
	// A zombie is not alive (Linux only; elsewhere this file is absent).
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.WorkerPID)); err == nil {
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return false
		}
	}
	return true
}

// writeStatus prints a status for people.
func writeStatus(w io.Writer, st *store.Status) {
	if st.Seq == 0 {
		fmt.Fprintf(w, "group %s: no event recorded\n", st.Group)
		return
	}
	ev := st.Event
	fmt.Fprintf(w, "group %s\n", st.Group)
	fmt.Fprintf(w, "  last event:  #%d %s from %s at %s", st.Seq, ev.State, ev.Source, st.EventTime.Format(time.RFC3339Nano))
	if ev.Interface != "" || ev.VIP != "" {
		fmt.Fprintf(w, " (%s %s)", ev.Interface, ev.VIP)
	}
	fmt.Fprintln(w)
	if st.CriticalError != "" {
		fmt.Fprintf(w, "  immediate:   %s\n", st.CriticalError)
	}
	outcome := st.Outcome
	if outcome == store.OutcomeRunning && !WorkerAlive(st) {
		outcome += " (worker gone)"
	}
	fmt.Fprintf(w, "  applied:     #%d %s: %s", st.Applied, st.AppliedState, outcome)
	if st.WorkerPID > 0 {
		fmt.Fprintf(w, " (worker %d", st.WorkerPID)
		if !st.Finished.IsZero() {
			fmt.Fprintf(w, ", %v", st.Finished.Sub(st.Started).Round(time.Millisecond))
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
	for _, s := range st.Steps {
		res := "ok"
		if s.Error != "" {
			res = "error: " + s.Error
		}
		fmt.Fprintf(w, "    %-4s %s: %s (%v)\n", s.Dir, s.Action, res, s.Duration.Round(time.Millisecond))
	}
	if st.Error != "" {
		fmt.Fprintf(w, "  error:       %s\n", st.Error)
	}
}
