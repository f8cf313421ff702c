// Package ddns is a small RFC 2136 dynamic update client: it reads a
// BIND-format TSIG key file, builds UPDATE messages with prerequisites,
// signs each attempt afresh, sends them over TCP and reads back the RRset a
// server holds. It renders an update as an nsupdate script for dry runs.
// The DNS wire protocol is github.com/miekg/dns.
package ddns

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/miekg/dns"

	"github.com/ocfkit/ocfkit/internal/filesafe"
)

// Algorithms accepted in a key file. hmac-md5 is accepted only when the
// caller allows it explicitly (AllowMD5).
var algorithms = map[string]string{
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-md5":    dns.HmacMD5,
}

// ErrMD5 is returned for an hmac-md5 key that the configuration did not
// allow explicitly.
var ErrMD5 = errors.New("hmac-md5 key refused (set allow_hmac_md5 = true to use it)")

// ErrKeyReadable is wrapped by the error for a key file that others can
// read.
var ErrKeyReadable = errors.New("key file readable by others")

// MaxKeyFile is the largest key file read.
const MaxKeyFile = 64 << 10

// Key is one TSIG key.
type Key struct {
	Name      string // fully qualified, lower case
	Algorithm string // miekg/dns algorithm name (fully qualified)
	Secret    string // base64, as in the file

	line int // of its key statement, for errors
}

// LoadKey reads the key named name (the first one when name is empty) from
// a BIND-format key file (tsig-keygen's output). The file is a secret: it
// must be safe as filesafe has it (owned by root or the effective user, not
// writable by group or others) and not readable by others (0600 or 0640,
// as BIND's own key files).
func LoadKey(path, name string, allowMD5 bool) (*Key, error) {
	data, err := filesafe.ReadFile(path, os.Geteuid(), MaxKeyFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("refusing key file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return nil, fmt.Errorf("refusing key file %s (mode %04o): %w; chmod 0600 or 0640", path, fi.Mode().Perm(), ErrKeyReadable)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	k, err := pick(keys, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if k.Algorithm == dns.HmacMD5 && !allowMD5 {
		return nil, fmt.Errorf("%s: key at line %d: %w", path, k.line, ErrMD5)
	}
	return k, nil
}

func pick(keys []*Key, name string) (*Key, error) {
	if len(keys) == 0 {
		return nil, errors.New("no key statement")
	}
	if name == "" {
		return keys[0], nil
	}
	want := dns.Fqdn(strings.ToLower(name))
	for _, k := range keys {
		if k.Name == want {
			return k, nil
		}
	}
	return nil, fmt.Errorf("no key %q", name)
}

// ParseKeys reads every `key "NAME" { algorithm ALG; secret "B64"; };`
// statement of a named.conf fragment. Comments (#, //, /* */) are skipped;
// any other statement is an error.
//
// The file holds secrets, and its errors end up in logs and mail: an error
// names the line and column and the kind of problem, never a word of the
// file (a key file in another format, or a misplaced secret, would
// otherwise be printed).
func ParseKeys(data []byte) ([]*Key, error) {
	toks, err := tokenize(string(data))
	if err != nil {
		return nil, err
	}
	var keys []*Key
	for i := 0; i < len(toks); {
		k, next, err := parseKey(toks, i)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		i = next
	}
	return keys, nil
}

// parseKey reads the key statement starting at toks[i] and returns it with
// the index of the token after it.
func parseKey(toks []token, i int) (*Key, int, error) {
	start := toks[i]
	if start.text != "key" || start.quoted {
		return nil, 0, start.errorf("only key statements are allowed%s", formatHint(start.text))
	}
	if i+2 >= len(toks) || toks[i+2].text != "{" {
		return nil, 0, start.errorf("want key \"NAME\" {")
	}
	name := toks[i+1]
	if _, ok := dns.IsDomainName(name.text); !ok || name.text == "" || strings.ContainsAny(name.text, "{};") {
		return nil, 0, name.errorf("key name is not a domain name")
	}
	k := &Key{Name: dns.Fqdn(strings.ToLower(name.text)), line: start.line}
	i += 3
	for {
		if i >= len(toks) {
			return nil, 0, start.errorf("key statement not closed")
		}
		if toks[i].text == "}" && !toks[i].quoted {
			i++
			break
		}
		if i+2 >= len(toks) || toks[i+2].text != ";" {
			return nil, 0, toks[i].errorf("want OPTION VALUE;")
		}
		if err := k.set(toks[i], toks[i+1]); err != nil {
			return nil, 0, err
		}
		i += 3
	}
	if i >= len(toks) || toks[i].text != ";" {
		return nil, 0, start.errorf("key statement: want }; at its end")
	}
	if k.Algorithm == "" || k.Secret == "" {
		return nil, 0, start.errorf("key statement needs algorithm and secret")
	}
	return k, i + 1, nil
}

// set applies one OPTION VALUE; of a key statement.
func (k *Key) set(opt, val token) error {
	switch opt.text {
	case "algorithm":
		alg, ok := algorithms[strings.ToLower(strings.TrimSuffix(val.text, "."))]
		if !ok {
			return val.errorf("unknown algorithm: want hmac-sha256, hmac-sha384, hmac-sha512 (or hmac-sha224, hmac-sha1, hmac-md5)")
		}
		k.Algorithm = alg
	case "secret":
		b, err := base64.StdEncoding.DecodeString(val.text)
		if err != nil || len(b) == 0 {
			return val.errorf("secret is not base64")
		}
		k.Secret = val.text
	default:
		return opt.errorf("unknown key option: want algorithm or secret")
	}
	return nil
}

// formatHint recognises the other common key formats, without quoting them.
func formatHint(word string) string {
	if strings.Contains(word, ":") {
		return " (this looks like nsupdate -y / knsupdate ALG:NAME:SECRET form: write the key as tsig-keygen does)"
	}
	return " (want key \"NAME\" { algorithm ALG; secret \"BASE64\"; }; as tsig-keygen writes it)"
}

type token struct {
	text   string
	quoted bool
	line   int
	col    int // 1-based, in bytes
}

// errorf returns an error located at the token, never quoting it.
func (t token) errorf(format string, args ...any) error {
	return posErrorf(t.line, t.col, format, args...)
}

func posErrorf(line, col int, format string, args ...any) error {
	return fmt.Errorf("line %d, column %d: %s", line, col, fmt.Sprintf(format, args...))
}

// tokenize splits a named.conf fragment into words, quoted strings and the
// punctuation { } ;, dropping comments.
func tokenize(s string) ([]token, error) {
	var toks []token
	line, lineStart := 1, 0
	for i := 0; i < len(s); {
		c := s[i]
		col := i - lineStart + 1
		switch {
		case c == '\n':
			line++
			i++
			lineStart = i
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, posErrorf(line, col, "comment not closed")
			}
			if nl := strings.LastIndexByte(s[i:i+2+end], '\n'); nl >= 0 {
				line += strings.Count(s[i:i+2+end], "\n")
				lineStart = i + nl + 1
			}
			i += end + 4
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, token{text: string(c), line: line, col: col})
			i++
		case c == '"':
			end := strings.IndexAny(s[i+1:], "\"\n")
			if end < 0 || s[i+1+end] != '"' {
				return nil, posErrorf(line, col, "string not closed")
			}
			toks = append(toks, token{text: s[i+1 : i+1+end], quoted: true, line: line, col: col})
			i += end + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};\"#", rune(s[j])) && !strings.HasPrefix(s[j:], "//") && !strings.HasPrefix(s[j:], "/*") {
				j++
			}
			if j == i {
				return nil, posErrorf(line, col, "unexpected character")
			}
			toks = append(toks, token{text: s[i:j], line: line, col: col})
			i = j
		}
	}
	return toks, nil
}
