package carphook

import (
	"fmt"
	"io"

	"github.com/ocfkit/ocfkit/internal/systemlog"
)

// Logger receives carp-hook's outcome messages.
type Logger interface {
	Infof(format string, a ...any)
	Errorf(format string, a ...any)
	// Debugf logs only with --debug.
	Debugf(format string, a ...any)
}

// NopLogger drops everything.
type NopLogger struct{}

// Infof drops the message.
func (NopLogger) Infof(string, ...any) {}

// Errorf drops the message.
func (NopLogger) Errorf(string, ...any) {}

// Debugf drops the message.
func (NopLogger) Debugf(string, ...any) {}

// writerLogger writes "carp-hook: LEVEL: message" lines to w.
type writerLogger struct{ w io.Writer }

// Infof writes an informational line.
func (l writerLogger) Infof(format string, a ...any) {
	fmt.Fprintf(l.w, "carp-hook: info: "+format+"\n", a...)
}

// Errorf writes an error line.
func (l writerLogger) Errorf(format string, a ...any) {
	fmt.Fprintf(l.w, "carp-hook: error: "+format+"\n", a...)
}

// Debugf writes a debug line.
func (l writerLogger) Debugf(format string, a ...any) {
	fmt.Fprintf(l.w, "carp-hook: debug: "+format+"\n", a...)
}

// systemLogger logs to the systemd journal where it runs, else syslog, else
// stderr (the program's standard error). With debug, it logs debug
// messages too, to stderr as well (a worker's is /dev/null).
type systemLogger struct {
	log    *systemlog.Log
	debug  bool
	stderr writerLogger
}

// newSystemLogger returns a systemLogger for carp-hook.
func newSystemLogger(debug bool, stderr io.Writer) Logger {
	return systemLogger{log: systemlog.New("carp-hook", nil), debug: debug, stderr: writerLogger{stderr}}
}

// Debugf sends a debug message, with --debug only.
func (l systemLogger) Debugf(format string, a ...any) {
	if !l.debug {
		return
	}
	l.stderr.Debugf(format, a...)
	l.log.Send(systemlog.Info, "debug: "+fmt.Sprintf(format, a...))
}

// Infof sends an informational message.
func (l systemLogger) Infof(format string, a ...any) {
	if !l.log.Send(systemlog.Info, fmt.Sprintf(format, a...)) {
		l.stderr.Infof(format, a...)
	}
}

// Errorf sends an error message.
func (l systemLogger) Errorf(format string, a ...any) {
	if !l.log.Send(systemlog.Error, fmt.Sprintf(format, a...)) {
		l.stderr.Errorf(format, a...)
	}
}
