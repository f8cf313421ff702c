package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"syscall"
)

const (
	oNoFollow = syscall.O_NOFOLLOW
	oNonBlock = syscall.O_NONBLOCK
)

// Parsed is a syslog message as received.
type Parsed struct {
	Priority int    // 0..191
	Version  int    // 1 for RFC 5424, 0 for RFC 3164 (BSD) forms
	Hostname []byte // RFC 5424 only
	AppName  []byte // RFC 5424 only
	Text     []byte // RFC 5424: MSG; RFC 3164: everything after PRI
}

// Parse reads one syslog message: "<PRI>" and then an RFC 5424 header
// ("1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]") or anything (RFC 3164
// forms differ between daemons, so their text is everything after PRI).
func Parse(b []byte) (Parsed, error) {
	var p Parsed
	if len(b) > MaxMessage {
		return p, fmt.Errorf("message of %d bytes, over %d", len(b), MaxMessage)
	}
	if len(b) < 3 || b[0] != '<' {
		return p, errors.New("no <PRI>")
	}
	end := bytes.IndexByte(b[:min(len(b), 5)], '>')
	if end < 2 {
		return p, errors.New("no <PRI>")
	}
	pri, err := strconv.Atoi(string(b[1:end]))
	if err != nil || pri < 0 || pri > 191 || (end > 2 && b[1] == '0') {
		return p, fmt.Errorf("PRI %q: want 0 to 191", b[1:end])
	}
	p.Priority = pri
	rest := b[end+1:]
	if len(rest) >= 2 && rest[0] == '1' && rest[1] == ' ' {
		return parse5424(p, rest[2:])
	}
	p.Text = rest
	return p, nil
}

// parse5424 reads the RFC 5424 header after "1 ".
func parse5424(p Parsed, b []byte) (Parsed, error) {
	p.Version = 1
	var fields [5][]byte // TIMESTAMP HOST APP PROCID MSGID
	for i := range fields {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			return p, fmt.Errorf("RFC 5424 header: field %d missing", i+2)
		}
		fields[i], b = b[:sp], b[sp+1:]
	}
	p.Hostname, p.AppName = fields[1], fields[2]
	sd, rest, err := structuredData(b)
	if err != nil {
		return p, err
	}
	_ = sd
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return p, errors.New("RFC 5424: no space after STRUCTURED-DATA")
		}
		rest = rest[1:]
	}
	p.Text = bytes.TrimPrefix(rest, []byte("\xef\xbb\xbf"))
	return p, nil
}

// structuredData splits "-" or "[...]..." from the rest, honouring the
// escapes \" \\ \] inside parameter values.
func structuredData(b []byte) (sd, rest []byte, err error) {
	if len(b) > 0 && b[0] == '-' {
		return b[:1], b[1:], nil
	}
	i := 0
	for i < len(b) && b[i] == '[' {
		inValue := false
		j := i + 1
		for ; j < len(b); j++ {
			c := b[j]
			if inValue {
				if c == '\\' {
					j++
				} else if c == '"' {
					inValue = false
				}
				continue
			}
			if c == '"' {
				inValue = true
			} else if c == ']' {
				break
			}
		}
		if j >= len(b) {
			return nil, nil, errors.New("RFC 5424: unterminated STRUCTURED-DATA")
		}
		i = j + 1
	}
	if i == 0 {
		return nil, nil, errors.New("RFC 5424: no STRUCTURED-DATA")
	}
	return b[:i], b[i:], nil
}

// SplitFrames is a bufio.SplitFunc for a syslog TCP stream (RFC 6587):
// a frame that starts with a digit is octet-counted ("LEN SP MSG"),
// anything else ends at LF (or NUL). Frames over MaxMessage are an error.
func SplitFrames(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	if data[0] >= '1' && data[0] <= '9' {
		sp := bytes.IndexByte(data[:min(len(data), 8)], ' ')
		if sp < 0 {
			if len(data) >= 8 {
				return 0, nil, errors.New("octet count too long or without a space")
			}
			if atEOF {
				return 0, nil, errors.New("stream ended inside an octet count")
			}
			return 0, nil, nil
		}
		n, err := strconv.Atoi(string(data[:sp]))
		if err != nil || n > MaxMessage {
			return 0, nil, fmt.Errorf("octet count %q: want 1 to %d", data[:sp], MaxMessage)
		}
		if len(data) < sp+1+n {
			if atEOF {
				return 0, nil, errors.New("stream ended inside a frame")
			}
			return 0, nil, nil
		}
		return sp + 1 + n, data[sp+1 : sp+1+n], nil
	}
	if i := bytes.IndexAny(data, "\n\x00"); i >= 0 {
		return i + 1, bytes.TrimSuffix(data[:i], []byte("\r")), nil
	}
	if len(data) > MaxMessage {
		return 0, nil, fmt.Errorf("frame over %d bytes without LF", MaxMessage)
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
