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

// WriterLogger writes "carp-hook: LEVEL: message" lines to W.
type WriterLogger struct{ W io.Writer }

// Infof writes an informational line.
func (l WriterLogger) Infof(format string, a ...any) {
	fmt.Fprintf(l.W, "carp-hook: info: "+format+"\n", a...)
}

// Errorf writes an error line.
func (l WriterLogger) Errorf(format string, a ...any) {
	fmt.Fprintf(l.W, "carp-hook: error: "+format+"\n", a...)
}

// SystemLogger returns a logger to the systemd journal where it runs, else
// syslog, else standard error.
func SystemLogger() Logger {
	return systemLogger{log: systemlog.New("carp-hook", nil), fallback: WriterLogger{W: os.Stderr}}
}

type systemLogger struct {
	log      *systemlog.Log
	fallback Logger
}

func (l systemLogger) Infof(format string, a ...any) {
	if !l.log.Send(systemlog.Info, fmt.Sprintf(format, a...)) {
		l.fallback.Infof(format, a...)
	}
}

func (l systemLogger) Errorf(format string, a ...any) {
	if !l.log.Send(systemlog.Error, fmt.Sprintf(format, a...)) {
		l.fallback.Errorf(format, a...)
	}
}
