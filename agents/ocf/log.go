package ocf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocfkit/ocfkit/internal/systemlog"
)

// Logger writes an agent's messages as resource-agents' ocf_log does:
// to stderr (which Pacemaker records), appended to $HA_LOGFILE when set,
// and to the system log (journald, else syslog) with the facility
// $HA_LOGFACILITY names ("none" for no system log), tagged with the agent
// and the resource instance. Debug messages are written only with
// HA_debug set (and not 0), or --debug on a command. Logging never fails
// an action.
type Logger struct {
	tag, instance string
	stderr        io.Writer
	system        *systemlog.Log // nil: no system log
	file          string         // $HA_LOGFILE
	debug         bool
	now           func() time.Time

	mu          sync.Mutex // serialises appends to file
	fileRefused bool       // file is not a regular file: said once, not written
}

// NewLogger returns a logger for one resource instance of an agent,
// configured by env (HA_LOGFACILITY, HA_LOGFILE, HA_debug; see Logger).
func NewLogger(tag, instance string, env Env, stderr io.Writer) *Logger {
	return newLogger(tag, instance, stderr, env, true)
}

// newLogger returns a logger configured by env. An OCF action logs to the
// system log unless HA_LOGFACILITY is "none"; a human-facing command
// (systemByDefault false) only where HA_LOGFACILITY names a facility.
func newLogger(tag, instance string, stderr io.Writer, env Env, systemByDefault bool) *Logger {
	get := func(key string) string { v, _ := env(key); return strings.TrimSpace(v) }
	l := &Logger{tag: tag, instance: instance, stderr: stderr, file: get("HA_LOGFILE"),
		debug: get("HA_debug") != "" && get("HA_debug") != "0", now: time.Now}
	facility := get("HA_LOGFACILITY")
	if facility != "none" && (facility != "" || systemByDefault) {
		var fields map[string]string
		if instance != "" {
			fields = map[string]string{"OCF_RESOURCE": instance}
		}
		l.system = systemlog.NewFacility(tag, fields, facility).NoticeTo(stderr)
	}
	return l
}

// Debugf logs a debug message, when debugging is on.
func (l *Logger) Debugf(format string, args ...any) {
	if l != nil && l.debug {
		l.log(systemlog.Debug, "DEBUG", format, args...)
	}
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
		fmt.Fprintf(l.stderr, "%s[%s]: %s\n", l.tagged(), level, msg)
	}
	if l.file != "" {
		l.appendFile(level, msg)
	}
	if l.system != nil {
		if l.instance != "" {
			msg = l.instance + ": " + msg
		}
		l.system.Send(pri, level+": "+msg)
	}
}

// appendFile appends a line to $HA_LOGFILE in ha_log's format:
// "Nov 27 18:12:00  ocf-sockd(proxy)[4711]:    INFO: message". Only a
// regular file is written: a FIFO (with no reader, or one that does not
// read) or a device could block the action for ever, so the file is opened
// without blocking and anything else is refused, said once on stderr.
func (l *Logger) appendFile(level, msg string) {
	line := fmt.Sprintf("%s  %s[%d]:    %s: %s\n", l.now().Format("Jan 02 15:04:05"), l.tagged(), os.Getpid(), level, msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fileRefused {
		return
	}
	f, err := os.OpenFile(l.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0o644)
	if errors.Is(err, syscall.ENXIO) { // a FIFO nobody reads
		l.refuseFile()
		return
	}
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		l.refuseFile()
		return
	}
	_, _ = f.WriteString(line)
}

// refuseFile stops writing to $HA_LOGFILE, saying so on stderr.
func (l *Logger) refuseFile() {
	l.fileRefused = true
	if l.stderr != nil {
		fmt.Fprintf(l.stderr, "%s[WARNING]: HA_LOGFILE %s is not a regular file: not writing to it\n", l.tagged(), l.file)
	}
}

// tagged is the program's tag with the resource instance, as
// "ocf-sockd(proxy)", or the tag alone outside a resource.
func (l *Logger) tagged() string {
	if l.instance == "" {
		return l.tag
	}
	return l.tag + "(" + l.instance + ")"
}

// Close releases the system log connection, if any.
func (l *Logger) Close() {
	if l != nil && l.system != nil {
		l.system.Close()
	}
}
