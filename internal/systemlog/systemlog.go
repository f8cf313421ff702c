// Package systemlog sends messages to the system log: the systemd journal
// where it runs, else syslog (/dev/log). The connection is opened at the
// first message, so a program that logs nothing pays nothing, and a missing
// system log is never an error: Send reports whether the message went
// anywhere, and the caller decides on a fallback.
//
// Logging never blocks the program for long. The system log is a datagram
// socket, and a reader that stalls (journald hung or restarting, an I/O
// stall) fills its queue; a plain send then waits for ever, and with it an
// action that must finish within its timeout (a stop before fencing). So a
// send waits at most SendWait for room, and all sends of one Log together
// at most WaitBudget; once that is spent, a send is a single non-blocking
// attempt. A message that finds no room is dropped and counted (Dropped),
// and the first drop is reported once on standard error.
package systemlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/syslog"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

// severity is the syslog severity (journal PRIORITY) of each Priority.
var severity = map[Priority]syslog.Priority{Error: syslog.LOG_ERR, Warning: syslog.LOG_WARNING, Info: syslog.LOG_INFO, Debug: syslog.LOG_DEBUG}

// Bounds on the time spent waiting for a full system log socket.
const (
	// SendWait is the longest one message waits for room.
	SendWait = 50 * time.Millisecond
	// WaitBudget is the longest all messages of one Log wait together.
	WaitBudget = 200 * time.Millisecond
)

// maxMessage bounds a message's text; longer ones are cut (a datagram must
// fit the socket's buffer).
const maxMessage = 8 << 10

// The sockets of the system log.
const (
	JournalSocket = "/run/systemd/journal/socket"
	SyslogSocket  = "/dev/log"
)

// Log is a program's connection to the system log.
type Log struct {
	tag      string
	fields   map[string]string
	facility syslog.Priority

	// journalPath and syslogPaths are where the system log is looked for;
	// tests point them elsewhere.
	journalPath string
	syslogPaths []string
	// notice receives the one line saying messages are being dropped
	// (os.Stderr unless the caller gives its own with NoticeTo).
	notice io.Writer

	mu      sync.Mutex
	opened  bool
	journal bool   // the journal's native protocol, else syslog's
	path    string // the socket in use; "" when there is none
	conn    *net.UnixConn
	waited  time.Duration // time spent waiting for room so far
	dropped int
}

// New returns a system log for the program tag; fields are added to
// journal entries (such as the resource instance).
func New(tag string, fields map[string]string) *Log {
	return &Log{tag: tag, fields: fields, facility: syslog.LOG_DAEMON,
		journalPath: JournalSocket, syslogPaths: []string{SyslogSocket, "/var/run/syslog", "/var/run/log"},
		notice: os.Stderr}
}

// NoticeTo sends the one line saying that the system log is not taking
// messages to w (a program's stderr as its caller gave it) instead of
// os.Stderr, and returns l. Call it before l is used.
func (l *Log) NoticeTo(w io.Writer) *Log {
	l.notice = w
	return l
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

// isSocket reports whether path names a socket.
func isSocket(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Type() == fs.ModeSocket
}

// open picks the journal, else the first syslog socket present.
func (l *Log) open() {
	l.opened = true
	if isSocket(l.journalPath) {
		l.journal, l.path = true, l.journalPath
		return
	}
	for _, p := range l.syslogPaths {
		if isSocket(p) {
			l.path = p
			return
		}
	}
}

// dial connects a datagram socket to the system log. It is connected so
// that the poller tells when the reader's queue has room again.
func (l *Log) dial() error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: l.path, Net: "unixgram"})
	if err != nil {
		return err
	}
	l.conn = c
	return nil
}

// Send logs msg and reports whether a system log took it. It never waits
// more than SendWait (see the package documentation).
func (l *Log) Send(pri Priority, msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.opened {
		l.open()
	}
	if l.path == "" {
		return false
	}
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	var b []byte
	if l.journal {
		b = l.journalEntry(pri, msg)
	} else {
		b = l.syslogLine(pri, msg)
	}
	err := l.send(b)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOTCONN) {
		// The reader restarted: its socket is a new one.
		l.close()
		err = l.send(b)
	}
	if err == nil {
		return true
	}
	if errors.Is(err, errFull) {
		l.dropped++
		if l.dropped == 1 {
			fmt.Fprintf(l.notice, "%s: the system log (%s) is not taking messages: dropping them\n", l.tag, l.path)
		}
	}
	return false
}

// errFull means the system log's queue had no room in time.
var errFull = errors.New("system log full")

// send sends one datagram, waiting for room within what is left of the
// budget, and no more than SendWait.
func (l *Log) send(b []byte) error {
	if l.conn == nil {
		if err := l.dial(); err != nil {
			return err
		}
	}
	wait := min(SendWait, WaitBudget-l.waited)
	start := time.Now()
	err := sendWithin(l.conn, b, wait)
	l.waited += time.Since(start)
	return err
}

// sendWithin writes b to c, waiting at most wait for room (0: one attempt).
func sendWithin(c *net.UnixConn, b []byte, wait time.Duration) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var deadline time.Time
	if wait > 0 {
		deadline = time.Now().Add(wait)
	}
	if err := c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	var werr error
	err = raw.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), b)
		// false: wait for the poller to report room, until the deadline.
		return !(werr == unix.EAGAIN && wait > 0)
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(werr, unix.EAGAIN), errors.Is(werr, unix.ENOBUFS):
		return errFull
	case err != nil:
		return err
	}
	return werr
}

// journalEntry is msg in the journal's native protocol.
func (l *Log) journalEntry(pri Priority, msg string) []byte {
	var b bytes.Buffer
	field := func(k, v string) {
		if strings.ContainsRune(v, '\n') {
			// KEY\n, the value's length (64-bit little endian), the value.
			b.WriteString(k + "\n")
			_ = binary.Write(&b, binary.LittleEndian, uint64(len(v)))
			b.WriteString(v + "\n")
			return
		}
		b.WriteString(k + "=" + v + "\n")
	}
	field("PRIORITY", strconv.Itoa(int(severity[pri])))
	field("MESSAGE", msg)
	field("SYSLOG_IDENTIFIER", l.tag)
	field("SYSLOG_FACILITY", strconv.Itoa(int(l.facility)>>3))
	keys := make([]string, 0, len(l.fields))
	for k := range l.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field(k, l.fields[k])
	}
	return b.Bytes()
}

// syslogLine is msg as log/syslog sends it to a local syslog daemon.
func (l *Log) syslogLine(pri Priority, msg string) []byte {
	return []byte(fmt.Sprintf("<%d>%s %s[%d]: %s\n", l.facility|severity[pri],
		time.Now().Format(time.Stamp), l.tag, os.Getpid(), strings.TrimSuffix(msg, "\n")))
}

// Dropped returns how many messages found the system log full and were
// dropped.
func (l *Log) Dropped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped
}

func (l *Log) close() {
	if l.conn != nil {
		_ = l.conn.Close()
		l.conn = nil
	}
}

// Close releases the connection, if one was opened.
func (l *Log) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.close()
}
