package ocf

import (
	"fmt"
	"io"
	"strings"

	"github.com/ocfkit/ocfkit/internal/systemlog"
)

// Logger writes an agent's messages to stderr (which Pacemaker records)
// and to the system log (journald, else syslog), tagged with the agent and
// the resource instance. Logging never fails an action.
type Logger struct {
	tag, instance string
	stderr        io.Writer
	system        *systemlog.Log
}

// NewLogger returns a logger for one resource instance of an agent.
func NewLogger(tag, instance string, stderr io.Writer) *Logger {
	return &Logger{tag: tag, instance: instance, stderr: stderr,
		system: systemlog.New(tag, map[string]string{"OCF_RESOURCE": instance})}
}

// Infof logs an informational message.
func (l *Logger) Infof(format string, args ...any) {
	l.log(systemlog.Info, "INFO", format, args...)
}

// Warnf logs a warning.
func (l *Logger) Warnf(format string, args ...any) {
	l.log(systemlog.Warning, "WARNING", format, args...)
}

// Errorf logs an error.
func (l *Logger) Errorf(format string, args ...any) {
	l.log(systemlog.Error, "ERROR", format, args...)
}

func (l *Logger) log(pri systemlog.Priority, level, format string, args ...any) {
	if l == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if l.stderr != nil {
		fmt.Fprintf(l.stderr, "%s(%s)[%s]: %s\n", l.tag, l.instance, level, msg)
	}
	l.system.Send(pri, l.instance+": "+msg)
}

// Close releases the system log connection, if any.
func (l *Logger) Close() {
	if l != nil {
		l.system.Close()
	}
}

// OneLine folds a message onto one line, as the exit reason must be.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
