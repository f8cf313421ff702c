package carphook

import (
	"fmt"
	"io"
	"os"

	"github.com/ocfkit/ocfkit/internal/systemlog"
)

// Logger receives carp-hook's outcome messages.
type Logger interface {
	Infof(format string, a ...any)
	Errorf(format string, a ...any)
}

// NopLogger drops everything.
type NopLogger struct{}

// Infof drops the message.
func (NopLogger) Infof(string, ...any) {}

// Errorf drops the message.
func (NopLogger) Errorf(string, ...any) {}

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

// systemLogger logs to the systemd journal where it runs, else syslog, else
// standard error.
type systemLogger struct{ log *systemlog.Log }

// newSystemLogger returns a systemLogger for carp-hook.
func newSystemLogger() Logger {
	return systemLogger{log: systemlog.New("carp-hook", nil)}
}

// Infof sends an informational message.
func (l systemLogger) Infof(format string, a ...any) {
	if !l.log.Send(systemlog.Info, fmt.Sprintf(format, a...)) {
		writerLogger{os.Stderr}.Infof(format, a...)
	}
}

// Errorf sends an error message.
func (l systemLogger) Errorf(format string, a ...any) {
	if !l.log.Send(systemlog.Error, fmt.Sprintf(format, a...)) {
		writerLogger{os.Stderr}.Errorf(format, a...)
	}
}
