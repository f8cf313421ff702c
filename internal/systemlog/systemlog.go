// Package systemlog sends messages to the system log: the systemd journal
// where it runs, else syslog. The connection is opened at the first
// message, so a program that logs nothing pays nothing, and a missing
// system log is never an error: Send reports whether the message went
// anywhere, and the caller decides on a fallback.
package systemlog

import (
	"log/syslog"
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
)

// Log is a program's connection to the system log.
type Log struct {
	tag    string
	fields map[string]string

	open    sync.Once
	journal bool
	syslog  *syslog.Writer
}

// New returns a system log for the program tag; fields are added to
// journal entries (such as the resource instance).
func New(tag string, fields map[string]string) *Log {
	return &Log{tag: tag, fields: fields}
}

func (l *Log) connect() {
	if journal.Enabled() {
		l.journal = true
	} else if w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, l.tag); err == nil {
		l.syslog = w
	}
}

// Send logs msg and reports whether a system log took it.
func (l *Log) Send(pri Priority, msg string) bool {
	l.open.Do(l.connect)
	switch {
	case l.journal:
		vars := map[string]string{"SYSLOG_IDENTIFIER": l.tag}
		for k, v := range l.fields {
			vars[k] = v
		}
		return journal.Send(msg, map[Priority]journal.Priority{Error: journal.PriErr, Warning: journal.PriWarning, Info: journal.PriInfo}[pri], vars) == nil
	case l.syslog != nil:
		switch pri {
		case Error:
			return l.syslog.Err(msg) == nil
		case Warning:
			return l.syslog.Warning(msg) == nil
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
