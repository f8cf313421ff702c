package sockd

import (
	"bytes"
	"io"
	"os"
	"strings"
)

// daemonLog follows the file destinations of Dante's logoutput: from the
// moment it is made, so that an action can quote what Dante said about a
// failure: Dante writes its errors there, not on stderr.
type daemonLog struct {
	offsets map[string]int64
	syslog  bool
}

// followLog records the current size of each log file of cfg.
func followLog(cfg *Config) *daemonLog {
	l := &daemonLog{offsets: map[string]int64{}}
	for _, out := range cfg.LogOutput {
		if strings.HasPrefix(out, "syslog") {
			l.syslog = true
		}
	}
	for _, f := range cfg.LogFiles() {
		var size int64
		if fi, err := os.Stat(f); err == nil {
			size = fi.Size()
		}
		l.offsets[f] = size
	}
	return l
}

// maxLogRead bounds how much new log the agent reads per file.
const maxLogRead = 64 * 1024

// problems returns what Dante logged since followLog as errors, without
// the timestamp prefix, newest last; when it logged no error, its alerts
// and warnings.
func (l *daemonLog) problems() []string {
	var found []string
	for f, off := range l.offsets {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		if fi, err := fh.Stat(); err == nil && fi.Size()-off > maxLogRead {
			off = fi.Size() - maxLogRead
		}
		b, _ := io.ReadAll(io.LimitReader(io.NewSectionReader(fh, off, maxLogRead), maxLogRead))
		fh.Close()
		found = append(found, logProblems(b)...)
	}
	var errs []string
	for _, line := range found {
		if strings.HasPrefix(line, "error:") {
			errs = append(errs, line)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return found
}

// reason summarises what Dante logged, for an exit reason.
func (l *daemonLog) reason() string {
	p := l.problems()
	switch {
	case len(p) > 0:
		if len(p) > 3 {
			p = p[len(p)-3:]
		}
		return strings.Join(p, "; ")
	case l.syslog:
		return "see Dante's messages in syslog"
	case len(l.offsets) == 0:
		return "Dante logs nowhere the agent can read (set logoutput: to a file)"
	}
	return "Dante logged no error"
}

// logProblems picks the error, alert and warning lines out of Dante log
// text. A line looks like
//
//	Nov 22 02:50:01 (1763779801.123456) danted[4242]: error: ...
//
// and is returned from the level on: "error: ...".
func logProblems(b []byte) []string {
	var out []string
	for _, line := range bytes.Split(b, []byte("\n")) {
		s := string(bytes.TrimSpace(line))
		for _, level := range []string{"error:", "alert:", "warning:", "emerg:", "crit:"} {
			if i := strings.Index(s, "]: "+level); i >= 0 {
				out = append(out, s[i+3:])
				break
			}
		}
	}
	return out
}
