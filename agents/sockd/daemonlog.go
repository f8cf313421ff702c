package sockd

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// daemonLog follows the file destinations of Dante's logoutput: from the
// moment it is made, so that an action can quote what Dante said about a
// failure: Dante writes its errors there, not on stderr.
type daemonLog struct {
	// files are the log files in the configuration's order, each with
	// what it was when followed.
	files  []followedFile
	syslog bool
}

// followedFile is a log file as followLog found it.
type followedFile struct {
	path string
	// info is nil when the file did not exist.
	info os.FileInfo
	size int64
}

// followLog records the current size and identity of each log file of cfg.
func followLog(cfg *Config) *daemonLog {
	l := &daemonLog{}
	for _, out := range cfg.LogOutput {
		if strings.HasPrefix(out, "syslog") {
			l.syslog = true
		}
	}
	for _, f := range cfg.LogFiles() {
		ff := followedFile{path: f}
		if fi, err := os.Stat(f); err == nil {
			ff.info, ff.size = fi, fi.Size()
		}
		l.files = append(l.files, ff)
	}
	return l
}

// maxLogRead bounds how much new log the agent reads per file.
const maxLogRead = 64 * 1024

// newText returns what was written to the file since it was followed: the
// text past the recorded size, or the whole file (its last maxLogRead
// bytes) when it was rotated (the path names another file) or truncated.
func (ff followedFile) newText() []byte {
	fh, err := filesafe.OpenRegular(ff.path, 0)
	if err != nil {
		return nil
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil
	}
	off := ff.size
	if ff.info == nil || !os.SameFile(ff.info, fi) || fi.Size() < off {
		off = 0
	}
	if fi.Size()-off > maxLogRead {
		off = fi.Size() - maxLogRead
	}
	b, _ := io.ReadAll(io.NewSectionReader(fh, off, maxLogRead))
	return b
}

// problems returns what Dante logged since followLog as errors, without
// the timestamp prefix, oldest first across every file (by Dante's
// timestamps); when it logged no error, its alerts and warnings.
func (l *daemonLog) problems() []string {
	var found []logLine
	for _, ff := range l.files {
		found = append(found, logProblems(ff.newText())...)
	}
	slices.SortStableFunc(found, func(a, b logLine) int {
		switch {
		case a.time < b.time:
			return -1
		case a.time > b.time:
			return 1
		}
		return 0
	})
	var errs, all []string
	for _, line := range found {
		all = append(all, line.text)
		if strings.HasPrefix(line.text, "error:") {
			errs = append(errs, line.text)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return all
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
	case len(l.files) == 0:
		return "Dante logs nowhere the agent can read (set logoutput: to a file)"
	}
	return "Dante logged no error"
}

// logLine is one problem Dante logged, with its time (0 when unknown).
type logLine struct {
	time float64
	text string
}

// logProblems picks the error, alert and warning lines out of Dante log
// text. A line looks like
//
//	Nov 22 02:50:01 (1763779801.123456) danted[4242]: error: ...
//
// and is returned from the level on: "error: ...", with the time in
// parentheses.
func logProblems(b []byte) []logLine {
	var out []logLine
	for _, line := range bytes.Split(b, []byte("\n")) {
		s := string(bytes.TrimSpace(line))
		for _, level := range []string{"error:", "alert:", "warning:", "emerg:", "crit:"} {
			if i := strings.Index(s, "]: "+level); i >= 0 {
				out = append(out, logLine{time: logTime(s[:i]), text: s[i+3:]})
				break
			}
		}
	}
	return out
}

// logTime reads the Unix time in parentheses at the start of a Dante log
// line, 0 when there is none.
func logTime(prefix string) float64 {
	open := strings.IndexByte(prefix, '(')
	end := strings.IndexByte(prefix, ')')
	if open < 0 || end < open {
		return 0
	}
	t, err := strconv.ParseFloat(prefix[open+1:end], 64)
	if err != nil {
		return 0
	}
	return t
}
