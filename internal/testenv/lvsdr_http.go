//go:build linux

package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HTTP test service paths of StartHTTP's server.
const (
	HTTPSmall    = "/small"    // 200, SmallBody, X-Check: ok
	HTTPBig      = "/big"      // 200, BigBody(): 1 MiB in many segments
	HTTPChunked  = "/chunked"  // 200, chunked: ChunkedBody
	HTTPLFOnly   = "/lf"       // 200, raw HTTP/1.0 response with bare LF line ends: LFBody
	HTTPRedirect = "/redirect" // 302 to /small
	HTTPMissing  = "/missing"  // 404
	SmallBody    = "hello from the real server\n"
	ChunkedBody  = "chunk one,chunk two,chunk three\n"
	LFBody       = "bare LF lines\n"
)

// BigBody returns the 1 MiB body of HTTPBig.
func BigBody() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}

// lvsdrHTTP is a small HTTP(S) server on [::]:PORT (IPv4 too) with the
// paths above; with a certificate and key it serves TLS.
const lvsdrHTTP = `import socket, socketserver, ssl, sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
port, name = int(sys.argv[1]), sys.argv[2]
BIG = bytes((i * 7) % 251 for i in range(1 << 20))
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Server", name)
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self): self.do_GET()
    def do_GET(self):
        p = self.path
        if p == "/small": self.reply(200, b"hello from the real server\n", [("X-Check", "ok")])
        elif p == "/big": self.reply(200, BIG)
        elif p == "/chunked":
            self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            for part in (b"chunk one,", b"chunk two,", b"chunk three\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part)); self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/lf":
            self.wfile.write(b"HTTP/1.0 200 OK\nContent-Type: text/plain\nX-Check: lf\n\nbare LF lines\n")
            self.close_connection = True
        elif p == "/redirect": self.reply(302, b"", [("Location", "/small")])
        else: self.reply(404, b"not found\n")
class S(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = name, port
s = S(("::", port), H)
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
`

// StartHTTP starts the HTTP server on real server i on port (TLS with the
// PEM files certFile and keyFile when both are given), and waits until it
// listens. It stops with the test, or with the returned function.
func (l *LVSDR) StartHTTP(i, port int, certFile, keyFile string) (stop func()) {
	l.t.Helper()
	py := Python3(l.t)
	args := []string{"-c", lvsdrHTTP, fmt.Sprint(port), l.RS[i].Name}
	if certFile != "" {
		args = append(args, certFile, keyFile)
	}
	cmd := l.RS[i].Start(l.t, py, args...)
	WaitFor(l.t, 10*time.Second, "HTTP server on "+l.RS[i].Name, func() error {
		out, _ := l.RS[i].Command("ss", "-Hltn", fmt.Sprintf("sport = :%d", port)).Output()
		if strings.TrimSpace(string(out)) == "" {
			return fmt.Errorf("nothing listens on port %d", port)
		}
		return nil
	})
	return func() { Kill(cmd) }
}

// TestCA is a certificate authority made for one test and a server
// certificate it signed, all as PEM files.
type TestCA struct {
	CAFile, CertFile, KeyFile string
}

// NewTestCA creates a CA and a server certificate for the DNS names names
// in a temporary directory of the test.
func NewTestCA(t testing.TB, names ...string) TestCA {
	t.Helper()
	dir := SharedTempDir(t, "ca")
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ocfkit test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: names}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := TestCA{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	for path, block := range map[string]*pem.Block{
		c.CAFile:   {Type: "CERTIFICATE", Bytes: caDER},
		c.CertFile: {Type: "CERTIFICATE", Bytes: der},
		c.KeyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return c
}
