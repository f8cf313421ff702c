package carphook

import (
	"fmt"
	"io"
	"os"
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

// SystemLogger returns the best logger available: the systemd journal where
// it runs, else syslog, else standard error.
func SystemLogger() Logger {
	if l := journalLogger(); l != nil {
		return l
	}
	if l := syslogLogger(); l != nil {
		return l
	}
	return WriterLogger{W: os.Stderr}
}

// Tee sends each message to every logger.
type Tee []Logger

// Infof logs everywhere.
func (t Tee) Infof(format string, a ...any) {
	for _, l := range t {
		l.Infof(format, a...)
	}
}

// Errorf logs everywhere.
func (t Tee) Errorf(format string, a ...any) {
	for _, l := range t {
		l.Errorf(format, a...)
	}
}
