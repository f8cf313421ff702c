package ocf

import (
	"fmt"
	"io"
	"log/syslog"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// Logger writes an agent's messages to stderr and to journald (or syslog
// when journald is absent), tagged with the agent and resource instance.
// Logging never fails an action: a sink that cannot be written is dropped.
type Logger struct {
	tag, instance string
	stderr        io.Writer
	// The system log is opened at the first message: most monitors log
	// nothing and should not pay for it.
	open    sync.Once
	syslog  *syslog.Writer
	journal bool
}

// NewLogger returns a logger for one resource instance of an agent.
func NewLogger(tag, instance string, stderr io.Writer) *Logger {
	return &Logger{tag: tag, instance: instance, stderr: stderr}
}

func (l *Logger) openSystemLog() {
	if journal.Enabled() {
		l.journal = true
	} else if w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, l.tag); err == nil {
		l.syslog = w
	}
}

// Infof logs an informational message.
func (l *Logger) Infof(format string, args ...any) {
	l.log(journal.PriInfo, "INFO", format, args...)
}

// Warnf logs a warning.
func (l *Logger) Warnf(format string, args ...any) {
	l.log(journal.PriWarning, "WARNING", format, args...)
}

// Errorf logs an error.
func (l *Logger) Errorf(format string, args ...any) {
	l.log(journal.PriErr, "ERROR", format, args...)
}

func (l *Logger) log(pri journal.Priority, level, format string, args ...any) {
	if l == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if l.stderr != nil {
		fmt.Fprintf(l.stderr, "%s(%s)[%s]: %s\n", l.tag, l.instance, level, msg)
	}
	line := l.instance + ": " + msg
	l.open.Do(l.openSystemLog)
	switch {
	case l.journal:
		_ = journal.Send(line, pri, map[string]string{
			"SYSLOG_IDENTIFIER": l.tag,
			"OCF_RESOURCE":      l.instance,
		})
	case l.syslog != nil:
		switch pri {
		case journal.PriErr:
			_ = l.syslog.Err(line)
		case journal.PriWarning:
			_ = l.syslog.Warning(line)
		default:
			_ = l.syslog.Info(line)
		}
	}
}

// Close releases the syslog connection, if any.
func (l *Logger) Close() {
	if l != nil && l.syslog != nil {
		_ = l.syslog.Close()
	}
}

// oneLine folds a message onto one line, as the exit reason must be.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
