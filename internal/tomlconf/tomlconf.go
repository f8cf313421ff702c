// Package tomlconf reads the strict TOML configuration files of the agents
// that run commands as root: the file must be safe as filesafe has it, has
// a size limit, holds no NUL byte, and every key must be known. Its errors
// name the file and, where TOML gives one, the line.
package tomlconf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Error is a problem of a configuration file, at a line when Line > 0.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Decode checks data (CheckSize, no NUL byte) and decodes it into v with
// Strict, naming it path in errors.
func Decode(path string, data []byte, v any, limit int) error {
	if err := CheckSize(path, data, limit); err != nil {
		return err
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return &Error{Path: path, Msg: "a NUL byte is not allowed"}
	}
	return Strict(path, data, v, nil)
}

// CheckSize refuses data above limit bytes.
func CheckSize(path string, data []byte, limit int) error {
	if len(data) <= limit {
		return nil
	}
	size := fmt.Sprintf("%d bytes", limit)
	if limit >= 1<<20 && limit%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", limit>>20)
	}
	return &Error{Path: path, Msg: "file larger than " + size}
}

// Strict decodes data into v, refusing keys that v has no field for. Its
// errors are *Error values with lines (one per unknown key, joined).
// unknown words the message for an unknown key; nil is UnknownKey.
func Strict(path string, data []byte, v any, unknown func(key []string) string) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return DecodeError(path, err, unknown)
	}
	return nil
}

// UnknownKey words an unknown key by its dotted path: unknown key "a.b.c".
func UnknownKey(key []string) string {
	return fmt.Sprintf("unknown key %q", strings.Join(key, "."))
}

// DecodeError turns go-toml's errors into *Error values with lines;
// unknown words the message for an unknown key (nil is UnknownKey).
func DecodeError(path string, err error, unknown func(key []string) string) error {
	if unknown == nil {
		unknown = UnknownKey
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var errs []error
		for i := range strict.Errors {
			e := &strict.Errors[i]
			row, _ := e.Position()
			errs = append(errs, &Error{Path: path, Line: row, Msg: unknown(e.Key())})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		return &Error{Path: path, Line: row, Msg: de.Error()}
	}
	return &Error{Path: path, Msg: err.Error()}
}
