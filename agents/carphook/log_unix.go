package carphook

import (
	"fmt"
	"log/syslog"

	"github.com/coreos/go-systemd/v22/journal"
)

type journalLog struct{}

func (journalLog) Infof(format string, a ...any) {
	_ = journal.Send(fmt.Sprintf(format, a...), journal.PriInfo, map[string]string{"SYSLOG_IDENTIFIER": "carp-hook"})
}

func (journalLog) Errorf(format string, a ...any) {
	_ = journal.Send(fmt.Sprintf(format, a...), journal.PriErr, map[string]string{"SYSLOG_IDENTIFIER": "carp-hook"})
}

func journalLogger() Logger {
	if journal.Enabled() {
		return journalLog{}
	}
	return nil
}

type syslogLog struct{ w *syslog.Writer }

func (l syslogLog) Infof(format string, a ...any)  { _ = l.w.Info(fmt.Sprintf(format, a...)) }
func (l syslogLog) Errorf(format string, a ...any) { _ = l.w.Err(fmt.Sprintf(format, a...)) }

func syslogLogger() Logger {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, "carp-hook")
	if err != nil {
		return nil
	}
	return syslogLog{w}
}
