// Package systemlog sends messages to the system log: the systemd journal
// where it runs, else syslog. The connection is opened at the first
// message, so a program that logs nothing pays nothing, and a missing
// system log is never an error: Send reports whether the message went
// anywhere, and the caller decides on a fallback.
package systemlog

import (
	"log/syslog"
	"strconv"
	"strings"
	"sync"

	"github.com/coreos/go-systemd/v22/journal"
)

// Priority is a message's severity.
type Priority int

// The severities used.
const (
	Error Priority = iota
	Warning
	Info
	Debug
)

// Log is a program's connection to the system log.
type Log struct {
	tag      string
	fields   map[string]string
	facility syslog.Priority

	open    sync.Once
	journal bool
	syslog  *syslog.Writer
}

// New returns a system log for the program tag; fields are added to
// journal entries (such as the resource instance).
func New(tag string, fields map[string]string) *Log {
	return &Log{tag: tag, fields: fields, facility: syslog.LOG_DAEMON}
}

// NewFacility is New with a syslog facility named as syslog.conf and
// HA_LOGFACILITY name it ("daemon", "local0", ...); "" or an unknown name
// is daemon.
func NewFacility(tag string, fields map[string]string, facility string) *Log {
	l := New(tag, fields)
	if f, ok := facilities[strings.ToLower(facility)]; ok {
		l.facility = f
	}
	return l
}

// facilities are the syslog facilities by name.
var facilities = map[string]syslog.Priority{
	"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL,
	"daemon": syslog.LOG_DAEMON, "auth": syslog.LOG_AUTH, "syslog": syslog.LOG_SYSLOG,
	"lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS, "uucp": syslog.LOG_UUCP,
	"cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV, "ftp": syslog.LOG_FTP,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
	"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
	"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

func (l *Log) connect() {
	if journal.Enabled() {
		l.journal = true
	} else if w, err := syslog.New(l.facility|syslog.LOG_INFO, l.tag); err == nil {
		l.syslog = w
	}
}

// Send logs msg and reports whether a system log took it.
func (l *Log) Send(pri Priority, msg string) bool {
	l.open.Do(l.connect)
	switch {
	case l.journal:
		vars := map[string]string{"SYSLOG_IDENTIFIER": l.tag, "SYSLOG_FACILITY": strconv.Itoa(int(l.facility) >> 3)}
		for k, v := range l.fields {
			vars[k] = v
		}
		return journal.Send(msg, map[Priority]journal.Priority{Error: journal.PriErr, Warning: journal.PriWarning, Info: journal.PriInfo, Debug: journal.PriDebug}[pri], vars) == nil
	case l.syslog != nil:
		switch pri {
		case Error:
			return l.syslog.Err(msg) == nil
		case Warning:
			return l.syslog.Warning(msg) == nil
		case Debug:
			return l.syslog.Debug(msg) == nil
		}
		return l.syslog.Info(msg) == nil
	}
	return false
}

// Close releases the syslog connection, if one was opened.
func (l *Log) Close() {
	if l.syslog != nil {
		_ = l.syslog.Close()
	}
}
