package vipcheck

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/internal/filesafe"
	"github.com/ocfkit/ocfkit/probe/l7"
)

// multiValue is a repeatable string option that, unlike cli's string
// slices, does not split its values at commas (header values contain
// them).
type multiValue []string

func (m *multiValue) Set(v string) error { *m = append(*m, v); return nil }
func (m *multiValue) String() string     { return strings.Join(*m, "; ") }

// httpFlags are check_http_raw's options, the shared check options (but
// -c) and the HTTP additions.
func httpFlags() []cli.Flag {
	var flags []cli.Flag
	for _, f := range checkFlags() {
		if f.Names()[0] != "close" {
			flags = append(flags, f)
		}
	}
	return append(flags,
		&cli.StringFlag{Name: "method", Aliases: []string{"M"}, Value: http.MethodGet, Usage: "HTTP `METHOD`: GET or HEAD"},
		// -H and --header (and -R, --response-header) are separate flags:
		// cli copies an alias's value into its other names, which would
		// append every header twice.
		&cli.GenericFlag{Name: "H", Value: &multiValue{}, Usage: "request `HEADER` \"Name: value\" (repeatable)"},
		&cli.GenericFlag{Name: "header", Value: &multiValue{}, Usage: "the same as -H"},
		&cli.IntFlag{Name: "status-code", Aliases: []string{"S"}, Usage: "expected `STATUS` (default 200)"},
		&cli.GenericFlag{Name: "R", Value: &multiValue{}, Usage: "expected response `HEADER` \"Name: value\", or \"Name:\" for presence (repeatable)"},
		&cli.GenericFlag{Name: "response-header", Value: &multiValue{}, Usage: "the same as -R"},
		&cli.StringFlag{Name: "body", Aliases: []string{"B"}, Usage: "expected response `BODY`, exactly"},
		&cli.StringFlag{Name: "hash", Aliases: []string{"A"}, Usage: "expected `MD5` of the response body, hex"},
		&cli.StringFlag{Name: "expect-regex", Usage: "`REGEX` the response body must match (Go syntax)"},
		&cli.Int64Flag{Name: "max-body", Value: l7.DefaultMaxBody, Usage: "largest response body in `BYTES`; a larger one fails"},
		&cli.BoolFlag{Name: "tls", Usage: "HTTPS: TLS with SNI from HOST"},
		&cli.StringFlag{Name: "ca", Usage: "CA certificates `FILE` (PEM) to verify the server with (default: the system's)"},
		&cli.BoolFlag{Name: "insecure", Usage: "with --tls: do not verify the server's certificate"},
		&cli.BoolFlag{Name: "nft-guard", Usage: "drop the real servers' segments before this host's TCP stack (an nftables table for the check's ports), so its kernel sends them no RST; needs CAP_NET_ADMIN"},
	)
}

// httpCommand is check_http_raw's command line.
func httpCommand() *cli.Command {
	return &cli.Command{
		Name:  "http",
		Usage: "check LVS-DR real servers with an HTTP(S) request through the VIP (check_http_raw compatible)",
		ArgsUsage: "IFACE REAL_SERVER VIP PORT HOST PATH\n\n   REAL_SERVER is an address (IPv4 or IPv6, as the VIP), a comma list, or @FILE;\n" +
			"   ADDR=MAC gives a static MAC. IFACE may be - for the interface of the route to the\n" +
			"   first real server. HOST is the Host header (and the TLS server name), PATH the request target.",
		Flags:                  httpFlags(),
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			a, err := positional(c, httpOrder)
			if err != nil {
				return err
			}
			h, err := httpFromCLI(c, a[4], a[5])
			if err != nil {
				return checkstyle.Usage(err)
			}
			return runCheck(c, httpOrder, a[0], a[1], a[2], a[3], h)
		},
	}
}

// MaxCAFile bounds a CA file (tls_ca, --ca): room for hundreds of
// certificates (a whole system bundle is some 200 KB), and a regular file
// only, opened without blocking.
const MaxCAFile = 1 << 20

// HTTPOptions are the HTTP check's settings as text, from the command line
// or the agent's parameters.
type HTTPOptions struct {
	Method, Host, Path   string
	Headers, WantHeaders []string
	Status               int
	Body                 *string
	MD5, Regex           string
	MaxBody              int64
	TLS, Insecure        bool
	CAFile               string
}

// Build checks the options and returns the check.
func (o HTTPOptions) Build() (*l7.HTTP, error) {
	h := &l7.HTTP{Method: strings.ToUpper(o.Method), Host: o.Host, Path: o.Path, Header: http.Header{},
		Status: o.Status, Body: o.Body, MD5: strings.ToLower(o.MD5), MaxBody: o.MaxBody}
	for _, s := range o.Headers {
		name, value, err := l7.ParseHeader(s)
		if err != nil {
			return nil, err
		}
		h.Header.Add(name, value)
	}
	for _, s := range o.WantHeaders {
		name, value, err := l7.ParseHeader(s)
		if err != nil {
			return nil, err
		}
		h.WantHeader = append(h.WantHeader, l7.HeaderWant{Name: name, Value: value})
	}
	if o.Regex != "" {
		re, err := regexp.Compile(o.Regex)
		if err != nil {
			return nil, fmt.Errorf("expect-regex: %w", err)
		}
		h.Regex = re
	}
	if o.MaxBody < 0 {
		return nil, fmt.Errorf("max-body %d is negative", o.MaxBody)
	}
	switch {
	case o.TLS:
		h.TLS = &tls.Config{InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12}
		if o.CAFile != "" {
			pem, err := filesafe.ReadSmall(o.CAFile, 0, MaxCAFile)
			if err != nil {
				return nil, fmt.Errorf("reading the CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("no PEM certificate in %s", o.CAFile)
			}
			h.TLS.RootCAs = pool
		}
	case o.Insecure || o.CAFile != "":
		return nil, errors.New("--ca and --insecure need --tls")
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return h, nil
}

func httpFromCLI(c *cli.Context, host, path string) (*l7.HTTP, error) {
	o := HTTPOptions{Method: c.String("method"), Host: host, Path: path,
		Headers:     append(values(c, "H"), values(c, "header")...),
		WantHeaders: append(values(c, "R"), values(c, "response-header")...),
		Status:      c.Int("status-code"), MD5: c.String("hash"), Regex: c.String("expect-regex"),
		MaxBody: c.Int64("max-body"), TLS: c.Bool("tls"), Insecure: c.Bool("insecure"), CAFile: c.String("ca")}
	if c.IsSet("body") {
		b := c.String("body")
		o.Body = &b
	}
	return o.Build()
}

// values returns a repeatable option's values.
func values(c *cli.Context, name string) []string {
	if m, ok := c.Generic(name).(*multiValue); ok {
		return *m
	}
	return nil
}
