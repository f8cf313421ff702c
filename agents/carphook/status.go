package carphook

import (
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/agents/carphook/store"
	"github.com/ocfkit/ocfkit/internal/procstat"
)

// Status returns the recorded status of a group (by name or match key).
func (h *Hook) Status(key string) (*store.Status, error) {
	g, err := h.Config.Find(key)
	if err != nil {
		return nil, err
	}
	return h.Store.Read(g.Name)
}

// WorkerAlive reports whether the status's worker process still exists:
// the PID answers, is no zombie, and (where the system tells) started when
// the worker did, so a reused PID is not taken for the worker.
func WorkerAlive(st *store.Status) bool {
	if st.WorkerPID <= 0 {
		return false
	}
	if err := syscall.Kill(st.WorkerPID, 0); err != nil && err != syscall.EPERM {
		return false
	}
	state, start, ok := procStat(st.WorkerPID)
	if !ok {
		return true // no /proc: the PID is all there is to go by
	}
	return state != "Z" && (st.WorkerStart == "" || start == st.WorkerStart)
}

// workerGone reports whether the status says a worker is applying the
// last event but that worker is dead (killed, crashed): the event was
// abandoned.
func workerGone(st *store.Status) bool {
	return st.Outcome == store.OutcomeRunning && !WorkerAlive(st)
}

// procStat returns a process's state letter and start time (in clock ticks
// since boot, as text) from /proc/PID/stat; ok is false where there is no
// such file (the BSDs without procfs) or it has no start time.
func procStat(pid int) (state, start string, ok bool) {
	st, err := procstat.Read(pid)
	if err != nil || !st.HasStart {
		return "", "", false
	}
	return string(st.State), strconv.FormatUint(st.Start, 10), true
}

// procStart returns the start time of process pid, "" where unknown.
func procStart(pid int) string {
	_, start, _ := procStat(pid)
	return start
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
	switch {
	case workerGone(st):
		outcome = store.OutcomeAbandoned
		fallthrough
	case outcome == store.OutcomeAbandoned:
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
