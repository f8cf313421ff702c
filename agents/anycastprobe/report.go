package anycastprobe

// The daemon's state as data: the JSON of `anycast-probe status --json`
// and the Prometheus text of the metrics endpoint, both from one snapshot.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/ocfkit/ocfkit/internal/metrics"
)

// StatusJSON is `anycast-probe status --json`. The field names are stable.
type StatusJSON struct {
	Summary  string        `json:"summary"` // the first line of the text status
	Paused   bool          `json:"paused"`
	Up       int           `json:"services_up"`
	Total    int           `json:"services_total"`
	Services []ServiceJSON `json:"services"`
}

// ServiceJSON is one service in StatusJSON.
type ServiceJSON struct {
	Name        string `json:"name"`
	State       string `json:"state"`   // "up" or "down"
	Probing     bool   `json:"probing"` // false while paused or not started
	Rising      int    `json:"rising"`  // good probes in a row towards rise (while down)
	Falling     int    `json:"falling"` // bad probes in a row towards fall (while up)
	Rise        int    `json:"rise"`
	Fall        int    `json:"fall"`
	Transitions int    `json:"transitions"`
	// Holds names what the service holds when up (address or route).
	Holds []string `json:"holds"`
	// LastProbe is the time of the last probe round, absent before one.
	LastProbe *time.Time  `json:"last_probe,omitempty"`
	Checks    []CheckJSON `json:"checks"`
	// ProbesOK and ProbesFailed count probe rounds; ProbeSeconds is their
	// total duration.
	ProbesOK     uint64  `json:"probes_ok"`
	ProbesFailed uint64  `json:"probes_failed"`
	ProbeSeconds float64 `json:"probe_seconds_sum"`
	// LastFailure is the most recent failed check (kept after recovery).
	LastFailure *FailureJSON `json:"last_failure,omitempty"`
	// BackendError is the last failure to add or remove an address or to
	// run a hook.
	BackendError string `json:"backend_error,omitempty"`
}

// CheckJSON is one check's last result.
type CheckJSON struct {
	Name    string  `json:"name"`
	OK      bool    `json:"ok"`
	Stage   string  `json:"stage,omitempty"` // the stage it failed at
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds"`
}

// FailureJSON is a service's most recent failed check.
type FailureJSON struct {
	Check string    `json:"check"`
	Stage string    `json:"stage"`
	At    time.Time `json:"at"`
}

// snapshot gathers every service's state.
func (d *daemon) snapshot() (StatusJSON, map[string]*metrics.HistogramSnapshot) {
	up, total := d.counts()
	st := StatusJSON{Summary: d.statusLine(), Up: up, Total: total, Services: []ServiceJSON{}}
	hists := map[string]*metrics.HistogramSnapshot{}
	d.mu.Lock()
	st.Paused = d.paused
	names := d.cfg.Names()
	rs := make([]*runner, len(names))
	for i, n := range names {
		rs[i] = d.runners[n]
	}
	d.mu.Unlock()
	for i, n := range names {
		if rs[i] == nil {
			s := d.cfg.Services[n]
			st.Services = append(st.Services, ServiceJSON{Name: n, State: "down", Rise: s.Rise, Fall: s.Fall, Holds: []string{}, Checks: []CheckJSON{}})
			continue
		}
		sj, h := rs[i].snapshot()
		st.Services = append(st.Services, sj)
		hists[n] = h
	}
	return st, hists
}

// snapshot is the runner's part of the daemon's snapshot.
func (r *runner) snapshot() (ServiceJSON, *metrics.HistogramSnapshot) {
	h := r.duration.Snapshot()
	holds := []string{}
	for _, b := range r.backend {
		holds = append(holds, b.Name())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ServiceJSON{Name: r.svc.Name, State: "down", Probing: true, Rising: r.good, Falling: r.bad,
		Rise: r.svc.Rise, Fall: r.svc.Fall, Transitions: r.transitions, Holds: holds, Checks: []CheckJSON{},
		ProbesOK: r.probesOK, ProbesFailed: r.probesFailed, ProbeSeconds: h.Sum, BackendError: r.lastErr}
	if r.up {
		s.State = "up"
	}
	if !r.lastAt.IsZero() {
		t := r.lastAt.UTC()
		s.LastProbe = &t
	}
	for _, c := range r.last {
		cj := CheckJSON{Name: c.name, OK: c.err == nil, Seconds: c.took.Seconds()}
		if c.err != nil {
			cj.Stage, cj.Error = Stage(c.err), c.err.Error()
		}
		s.Checks = append(s.Checks, cj)
	}
	if r.failStage != "" {
		s.LastFailure = &FailureJSON{Check: r.failCheck, Stage: r.failStage, At: r.failAt.UTC()}
	}
	return s, h
}

// statusJSON is the JSON status, indented, with a final newline.
func (d *daemon) statusJSON() []byte {
	st, _ := d.snapshot()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil { // cannot happen: plain types only
		return []byte(fmt.Sprintf("{\"error\": %q}\n", err.Error()))
	}
	return append(b, '\n')
}

// Metric names (see families).
const (
	metricUp          = "anycast_probe_service_up"
	metricTransitions = "anycast_probe_transitions_total"
	metricProbes      = "anycast_probe_probes_total"
	metricDuration    = "anycast_probe_probe_duration_seconds"
	metricFailStage   = "anycast_probe_last_error_stage"
	metricFailTime    = "anycast_probe_last_error_timestamp_seconds"
	metricChecksOK    = "anycast_probe_check_ok"
	metricPaused      = "anycast_probe_paused"
)

// families is the daemon's state as metric families.
func (d *daemon) families() []metrics.Family {
	st, hists := d.snapshot()
	up := metrics.Family{Name: metricUp, Kind: metrics.Gauge, Help: "1 while the service holds its addresses (routes), else 0."}
	tr := metrics.Family{Name: metricTransitions, Kind: metrics.Counter, Help: "Changes of the service's state (up or down) since it started."}
	pr := metrics.Family{Name: metricProbes, Kind: metrics.Counter, Help: "Probe rounds of the service by result (ok, failed)."}
	du := metrics.Family{Name: metricDuration, Kind: metrics.Histogram, Help: "Duration of the service's probe rounds (all its checks at once)."}
	fs := metrics.Family{Name: metricFailStage, Kind: metrics.Gauge, Help: "1 for the check and stage of the service's most recent failure (kept after recovery)."}
	ft := metrics.Family{Name: metricFailTime, Kind: metrics.Gauge, Help: "Unix time of the service's most recent failed check."}
	ck := metrics.Family{Name: metricChecksOK, Kind: metrics.Gauge, Help: "1 if the check passed in the service's last probe round, else 0."}
	pa := metrics.Family{Name: metricPaused, Kind: metrics.Gauge, Help: "1 while paused by SIGTSTP."}
	pa.Samples = []metrics.Sample{{Value: b2f(st.Paused)}}
	for _, s := range st.Services {
		svc := []metrics.Label{{Name: "service", Value: s.Name}}
		up.Samples = append(up.Samples, metrics.Sample{Labels: svc, Value: b2f(s.State == "up")})
		tr.Samples = append(tr.Samples, metrics.Sample{Labels: svc, Value: float64(s.Transitions)})
		pr.Samples = append(pr.Samples,
			metrics.Sample{Labels: append(svc[:1:1], metrics.Label{Name: "result", Value: "ok"}), Value: float64(s.ProbesOK)},
			metrics.Sample{Labels: append(svc[:1:1], metrics.Label{Name: "result", Value: "failed"}), Value: float64(s.ProbesFailed)})
		if h := hists[s.Name]; h != nil {
			du.Samples = append(du.Samples, metrics.Sample{Labels: svc, Hist: h})
		}
		if f := s.LastFailure; f != nil {
			fs.Samples = append(fs.Samples, metrics.Sample{Labels: append(svc[:1:1],
				metrics.Label{Name: "check", Value: f.Check}, metrics.Label{Name: "stage", Value: f.Stage}), Value: 1})
			ft.Samples = append(ft.Samples, metrics.Sample{Labels: svc, Value: float64(f.At.UnixMilli()) / 1000})
		}
		for _, c := range s.Checks {
			ck.Samples = append(ck.Samples, metrics.Sample{Labels: append(svc[:1:1], metrics.Label{Name: "check", Value: c.Name}), Value: b2f(c.OK)})
		}
	}
	return []metrics.Family{up, tr, pr, du, fs, ft, ck, pa}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// serveMetrics serves GET /metrics on ln until ctx ends.
func (d *daemon) serveMetrics(ctx context.Context, ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", metrics.ContentType)
		if err := metrics.Write(w, d.families()); err != nil {
			d.logf("metrics: %v", err)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		d.logf("metrics: %v", err)
	}
}
