// Package socks_test benchmarks the SOCKS probe (probe/socks5: CONNECT and
// an HTTP exchange through a real Dante) against `curl --socks5`, the check
// a script would run, in the same run: see bench/probes.sh.
package socks_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/internal/pairbench"
	"github.com/ocfkit/ocfkit/internal/testenv"
	"github.com/ocfkit/ocfkit/probe/socks5"
)

const body = "anycast origin OK\n"

func BenchmarkConnect(b *testing.B) {
	testenv.RequireRoot(b)
	danted := testenv.RequireCommand(b, "danted")
	curl := testenv.RequireCommand(b, "curl")
	ns := testenv.NewNS(b, "skb")
	var ln net.Listener
	if err := ns.Within(func() (err error) { ln, err = net.Listen("tcp", "127.0.0.1:8080"); return err }); err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })

	dir := testenv.SharedTempDir(b, "skb")
	conf := filepath.Join(dir, "danted.conf")
	cfg := testenv.DanteConfig{LogFile: filepath.Join(dir, "danted.log")}
	if err := os.WriteFile(conf, []byte(cfg.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	ns.Start(b, danted, "-f", conf, "-p", filepath.Join(dir, "danted.pid"))

	client := &socks5.Client{Proxy: "127.0.0.1:1080"}
	request := []byte("GET / HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n\r\n")
	w, err := pairbench.NewWorker(ns.Name)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	ours := func() error {
		return w.Do(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			conn, err := client.Dial(ctx, "127.0.0.1:8080")
			if err != nil {
				return err
			}
			defer conn.Close()
			return client.Exchange(ctx, conn, request, []byte(body))
		})
	}
	testenv.WaitFor(b, 10*time.Second, "danted relaying", ours)
	pairbench.Run(b, pairbench.Pair{
		Ours: ours,
		Tool: func() *exec.Cmd {
			return exec.Command(curl, "-sf", "-m", "2", "--socks5", client.Proxy, "http://127.0.0.1:8080/")
		},
		Check: func(out []byte) error {
			if !strings.Contains(string(out), "origin OK") {
				return errors.New("no body")
			}
			return nil
		},
		Within: w.Do,
	})
}
