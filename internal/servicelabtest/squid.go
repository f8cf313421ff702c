package servicelabtest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// The squid test set-up: squid on SquidProxy, in front of an origin on
// OriginHTTP (and OriginHTTPS) of the same namespace answering OriginBody.
const (
	OriginBody  = "anycast origin OK\n"
	SquidProxy  = "127.0.0.1:3128"
	OriginHTTP  = "127.0.0.1:8080"
	OriginHTTPS = "127.0.0.1:8443"
)

// Squid is a real squid in a namespace of its own, in front of an origin
// server on OriginHTTP of the same namespace (served by the test).
type Squid struct {
	Server
	TLS *tls.Config // trusts the TLS origin on OriginHTTPS
}

// StartSquid writes the configuration (the snippet and the test's own
// paths) and starts squid and the origin.
func StartSquid(t testing.TB, ready Ready) *Squid {
	t.Helper()
	testenv.RequireRoot(t)
	bin := testenv.RequireCommand(t, "squid")
	testenv.RequireCommand(t, "mount")
	ns := testenv.NewNS(t, "sq")
	StartOrigin(t, ns)
	roots := StartTLSOrigin(t, ns)
	dir := testenv.SharedTempDir(t, "squid")
	// squid's defaults would write under /var/log/squid, start helpers
	// and use the host's resolver: all set here.
	conf := readSnippet(t, "anycast-squid.conf") + fmt.Sprintf(`visible_hostname probe-squid
cache_effective_user proxy
cache_effective_group proxy
pid_filename %[1]s/squid.pid
cache_log %[1]s/cache.log
access_log stdio:%[1]s/access.log squid
cache_store_log none
netdb_filename none
coredump_dir %[1]s
pinger_enable off
dns_nameservers 127.0.0.1
cache_mem 8 MB
cache deny all
shutdown_lifetime 1 seconds
`, dir)
	path := filepath.Join(dir, "squid.conf")
	WriteFile(t, path, conf)
	testenv.Run(t, "chown", "-R", "proxy:proxy", dir)
	// squid refuses root (it runs as proxy) and keeps shared memory in
	// /dev/shm: a tmpfs of its own in the private mount namespace that
	// `ip netns exec` makes, so nothing is left on the host.
	s := &Squid{TLS: &tls.Config{RootCAs: roots}, Server: Server{T: t, Name: "squid", NS: ns, Ready: ready,
		Argv: []string{"sh", "-c",
			`mount -t tmpfs -o size=64m,mode=1777 ocfkit-squid-shm /dev/shm && exec "$0" -N -d 1 -f "$1"`, bin, path}}}
	s.Start()
	return s
}

// StartOrigin serves / (OriginBody) and /hang (answers only when the
// request ends) on OriginHTTP of ns.
func StartOrigin(t testing.TB, ns *testenv.NS) {
	t.Helper()
	var ln net.Listener
	if err := ns.Within(func() (err error) { ln, err = net.Listen("tcp", OriginHTTP); return err }); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, OriginBody) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { close(stop); srv.Close() })
}

// StartTLSOrigin serves OriginBody over TLS on OriginHTTPS of ns and
// returns the roots that trust it.
func StartTLSOrigin(t testing.TB, ns *testenv.NS) *x509.CertPool {
	t.Helper()
	var ln net.Listener
	if err := ns.Within(func() (err error) { ln, err = net.Listen("tcp", OriginHTTPS); return err }); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, OriginBody) }))
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return roots
}
