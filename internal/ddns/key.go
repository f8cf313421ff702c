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
		return nil, fmt.Errorf("%s: key %s: %w", path, k.Name, ErrMD5)
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
func ParseKeys(data []byte) ([]*Key, error) {
	toks, err := tokenize(string(data))
	if err != nil {
		return nil, err
	}
	var keys []*Key
	for i := 0; i < len(toks); {
		if toks[i].text != "key" || toks[i].quoted {
			return nil, fmt.Errorf("line %d: %q: only key statements are allowed", toks[i].line, toks[i].text)
		}
		if i+2 >= len(toks) || toks[i+2].text != "{" {
			return nil, fmt.Errorf("line %d: want key \"NAME\" {", toks[i].line)
		}
		k := &Key{}
		line := toks[i].line
		name := toks[i+1].text
		if _, ok := dns.IsDomainName(name); !ok || name == "" || strings.ContainsAny(name, "{};") {
			return nil, fmt.Errorf("line %d: key name %q is not a domain name", line, name)
		}
		k.Name = dns.Fqdn(strings.ToLower(name))
		i += 3
		for {
			if i >= len(toks) {
				return nil, fmt.Errorf("line %d: key %s not closed", line, name)
			}
			if toks[i].text == "}" && !toks[i].quoted {
				i++
				break
			}
			if i+2 >= len(toks) || toks[i+2].text != ";" {
				return nil, fmt.Errorf("line %d: want OPTION VALUE;", toks[i].line)
			}
			opt, val := toks[i].text, toks[i+1].text
			switch opt {
			case "algorithm":
				alg, ok := algorithms[strings.ToLower(strings.TrimSuffix(val, "."))]
				if !ok {
					return nil, fmt.Errorf("line %d: algorithm %q: want hmac-sha256, hmac-sha384, hmac-sha512 (or hmac-sha224, hmac-sha1, hmac-md5)", toks[i].line, val)
				}
				k.Algorithm = alg
			case "secret":
				b, err := base64.StdEncoding.DecodeString(val)
				if err != nil || len(b) == 0 {
					return nil, fmt.Errorf("line %d: secret is not base64", toks[i].line)
				}
				k.Secret = val
			default:
				return nil, fmt.Errorf("line %d: unknown key option %q", toks[i].line, opt)
			}
			i += 3
		}
		if i >= len(toks) || toks[i].text != ";" {
			return nil, fmt.Errorf("line %d: key %s: want }; at its end", line, name)
		}
		i++
		if k.Algorithm == "" || k.Secret == "" {
			return nil, fmt.Errorf("line %d: key %s needs algorithm and secret", line, name)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

type token struct {
	text   string
	quoted bool
	line   int
}

// tokenize splits a named.conf fragment into words, quoted strings and the
// punctuation { } ;, dropping comments.
func tokenize(s string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || strings.HasPrefix(s[i:], "//"):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: comment not closed", line)
			}
			line += strings.Count(s[i:i+2+end], "\n")
			i += end + 4
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, token{text: string(c), line: line})
			i++
		case c == '"':
			end := strings.IndexAny(s[i+1:], "\"\n")
			if end < 0 || s[i+1+end] != '"' {
				return nil, fmt.Errorf("line %d: string not closed", line)
			}
			toks = append(toks, token{text: s[i+1 : i+1+end], quoted: true, line: line})
			i += end + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};\"#", rune(s[j])) && !strings.HasPrefix(s[j:], "//") && !strings.HasPrefix(s[j:], "/*") {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("line %d: unexpected %q", line, c)
			}
			toks = append(toks, token{text: s[i:j], line: line})
			i = j
		}
	}
	return toks, nil
}
