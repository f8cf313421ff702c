package servicelabtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocfkit/ocfkit/internal/testenv"
)

// The FreeRADIUS test server: the status virtual server's secret is the
// one in docs/snippets/anycast-freeradius-status.conf.
const (
	RadiusStatusSecret = "status-secret-from-a-file"
	RadiusNASSecret    = "nas-secret"
	RadiusUser         = "probeuser"
	RadiusPassword     = "probepass"
	RadiusReply        = "hello probeuser"
	// RadiusStatusServer is the status virtual server's address.
	RadiusStatusServer = "127.0.0.1:18121"
)

// Freeradius is a real FreeRADIUS in a namespace of its own, with the
// Debian configuration, the status virtual server of the snippet, a client
// for 127.0.0.1 (RadiusNASSecret) and a test user.
type Freeradius struct {
	Server
	Dir string // the configuration directory
}

// StartFreeradius writes the configuration and starts the server.
func StartFreeradius(t testing.TB, ready Ready) *Freeradius {
	t.Helper()
	testenv.RequireRoot(t)
	bin := testenv.RequireCommand(t, "freeradius")
	if _, err := os.Stat("/etc/freeradius/3.0/radiusd.conf"); err != nil {
		t.Fatalf("FreeRADIUS configuration missing (Debian package freeradius): %v", err)
	}
	top := testenv.SharedTempDir(t, "radius")
	dir := filepath.Join(top, "raddb")
	testenv.Run(t, "cp", "-a", "/etc/freeradius/3.0", dir)
	for _, d := range []string{"log", "run"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Run(t, "chown", "-R", "freerad:freerad", filepath.Join(top, "log"), filepath.Join(top, "run"))
	conf, err := os.ReadFile(filepath.Join(dir, "radiusd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(conf)
	s = replaceLine(t, s, "logdir = ", "logdir = "+filepath.Join(top, "log"))
	s = replaceLine(t, s, "run_dir = ", "run_dir = "+filepath.Join(top, "run"))
	WriteFile(t, filepath.Join(dir, "radiusd.conf"), s)
	os.Remove(filepath.Join(dir, "sites-enabled", "status"))
	WriteFile(t, filepath.Join(dir, "sites-enabled", "status"), readSnippet(t, "anycast-freeradius-status.conf"))
	WriteFile(t, filepath.Join(dir, "clients.conf"),
		"client localhost {\n\tipaddr = 127.0.0.1\n\tsecret = "+RadiusNASSecret+"\n\tnas_type = other\n}\n")
	users := filepath.Join(dir, "mods-config", "files", "authorize")
	old, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, users, RadiusUser+"\tCleartext-Password := \""+RadiusPassword+"\"\n\tReply-Message := \""+RadiusReply+"\"\n\n"+string(old))
	f := &Freeradius{Dir: dir, Server: Server{T: t, Name: "freeradius",
		Hint: " (run freeradius -XC -d DIR to see why)", NS: testenv.NewNS(t, "rad"),
		Argv: []string{bin, "-f", "-l", "stdout", "-d", dir}, Ready: ready}}
	f.Start()
	return f
}

func replaceLine(t testing.TB, conf, prefix, line string) string {
	t.Helper()
	lines := strings.Split(conf, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = line
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("radiusd.conf has no line starting %q", prefix)
	return ""
}
