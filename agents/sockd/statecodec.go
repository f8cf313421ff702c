package sockd

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// decodeState decodes a state file as json.Unmarshal does. A file in the
// form saveState writes (json.Marshal of a startState) with no escaped
// character is read by scanState; anything else goes to json.Unmarshal,
// so what is accepted, and how, is unchanged. encoding/json's first use
// builds its knowledge of the type by reflection, which was a tenth of a
// depth-0 monitor.
func decodeState(b []byte) (*startState, error) {
	if st, ok := scanState(b); ok {
		return st, nil
	}
	var st startState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// scanState reads exactly the form json.Marshal gives a startState, keys
// in field order and no white space, with strings holding no escape
// sequence; false for anything else.
func scanState(b []byte) (*startState, bool) {
	s := stateScanner{b: b, ok: true}
	var st startState
	s.lit(`{"params":[`)
	for i := range st.Params {
		if i > 0 {
			s.lit(`,`)
		}
		st.Params[i] = s.str()
	}
	s.lit(`],"binary":`)
	st.Binary = s.str()
	s.lit(`,"exe":{"Dev":`)
	st.Exe.Dev = s.uint()
	s.lit(`,"Ino":`)
	st.Exe.Ino = s.uint()
	s.lit(`},"config":`)
	st.Config = s.str()
	s.lit(`,"mntns":`)
	st.MntNS = s.str()
	s.lit(`,"args":`)
	st.Args = s.strs()
	s.lit(`}`)
	if !s.ok || len(s.b) > 0 {
		return nil, false
	}
	return &st, true
}

// stateScanner reads a state file from the front of b; ok turns false at
// the first byte out of the expected form, and stays false.
type stateScanner struct {
	b  []byte
	ok bool
}

// lit consumes t.
func (s *stateScanner) lit(t string) {
	if !s.ok || len(s.b) < len(t) || string(s.b[:len(t)]) != t {
		s.ok = false
		return
	}
	s.b = s.b[len(t):]
}

// str reads a string without escape sequences: valid UTF-8 with no
// control character, which json.Unmarshal returns as it is.
func (s *stateScanner) str() string {
	s.lit(`"`)
	if !s.ok {
		return ""
	}
	for i, c := range s.b {
		if c == '"' {
			if v := s.b[:i]; utf8.Valid(v) {
				s.b = s.b[i+1:]
				return string(v)
			}
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	s.ok = false
	return ""
}

// uint reads a number as json.Marshal writes a uint64: decimal digits
// without a leading zero.
func (s *stateScanner) uint() uint64 {
	n := 0
	for n < len(s.b) && s.b[n] >= '0' && s.b[n] <= '9' {
		n++
	}
	if !s.ok || n == 0 || (n > 1 && s.b[0] == '0') {
		s.ok = false
		return 0
	}
	v, err := strconv.ParseUint(string(s.b[:n]), 10, 64)
	if err != nil {
		s.ok = false
		return 0
	}
	s.b = s.b[n:]
	return v
}

// strs reads null (nil) or an array of strings (empty, not nil, for []).
func (s *stateScanner) strs() []string {
	if !s.ok {
		return nil
	}
	if len(s.b) >= 4 && string(s.b[:4]) == "null" {
		s.b = s.b[4:]
		return nil
	}
	s.lit(`[`)
	v := []string{}
	if s.ok && len(s.b) > 0 && s.b[0] == ']' {
		s.b = s.b[1:]
		return v
	}
	for s.ok {
		v = append(v, s.str())
		if s.ok && len(s.b) > 0 && s.b[0] == ']' {
			s.b = s.b[1:]
			return v
		}
		s.lit(`,`)
	}
	return nil
}
