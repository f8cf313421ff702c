package vipcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/probe/l7"
	"github.com/ocfkit/ocfkit/probe/vip"
)

func TestHTTPOptionsBuild(t *testing.T) {
	body := "OK"
	h, err := HTTPOptions{Method: "head", Host: "www.example.test", Path: "/h", Headers: []string{"Accept: a, b"},
		WantHeaders: []string{"Server:"}, Body: &body, MD5: "D36F8F9425C4A8000AD9C4A97185ACA5", Regex: "^O"}.Build()
	if err != nil {
		t.Fatal(err)
	}
	if h.Method != "HEAD" || h.Header.Get("Accept") != "a, b" || h.WantHeader[0] != (l7.HeaderWant{Name: "Server"}) ||
		h.MD5 != "d36f8f9425c4a8000ad9c4a97185aca5" || h.Regex == nil || h.TLS != nil {
		t.Errorf("built %+v", h)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]HTTPOptions{
		"method":          {Method: "PUT", Host: "h", Path: "/"},
		"path":            {Host: "h", Path: "h"},
		"host":            {Path: "/"},
		"header":          {Host: "h", Path: "/", Headers: []string{"nocolon"}},
		"response header": {Host: "h", Path: "/", WantHeaders: []string{": x"}},
		"md5":             {Host: "h", Path: "/", MD5: "abc"},
		"regex":           {Host: "h", Path: "/", Regex: "("},
		"max body":        {Host: "h", Path: "/", MaxBody: -1},
		"insecure alone":  {Host: "h", Path: "/", Insecure: true},
		"CA not PEM":      {Host: "h", Path: "/", TLS: true, CAFile: ca},
		"CA missing":      {Host: "h", Path: "/", TLS: true, CAFile: ca + ".none"},
	} {
		if _, err := o.Build(); err == nil {
			t.Errorf("%s: %+v built", name, o)
		}
	}
}

func TestHTTPReport(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	o := Report{Role: Master, Results: []vip.Result{
		{Target: netip.MustParseAddr("10.0.0.1"), Status: vip.Up, MAC: mac, RTT: time.Millisecond, SYNs: 1},
		{Target: netip.MustParseAddr("10.0.0.2"), Status: vip.Up, MAC: mac, SYNs: 1},
		{Target: netip.MustParseAddr("10.0.0.3"), Status: vip.Up, MAC: mac, SYNs: 1},
		{Target: netip.MustParseAddr("10.0.0.4"), Status: vip.NoAnswer, MAC: mac, SYNs: 6},
	}, HTTP: []l7.Result{
		{Status: 200, Bytes: 2},
		{Status: 503, Failure: l7.Status, Observed: "503"},
		{Failure: l7.Protocol, Err: errors.New("reading the body: EOF")},
		{},
	}}
	if o.Healthy() != 1 || !o.Up(0) || o.Up(1) || o.Up(3) {
		t.Errorf("healthy %d", o.Healthy())
	}
	for i, want := range []string{"10.0.0.1 up status=200 bytes=2 mac=02:00:00:00:00:01 connect=1.000ms syns=1 total=",
		`10.0.0.2 http-status observed="503"`, `10.0.0.3 http error="reading the body: EOF"`, "10.0.0.4 no-answer mac="} {
		if got := o.Line(i); !strings.HasPrefix(got, want) {
			t.Errorf("line %d: %q, want prefix %q", i, got, want)
		}
	}
	r := report(checkstyle.Nagios, Check{VIP: netip.MustParseAddr("10.0.0.100"), Port: 80}, o)
	if r.Status != checkstyle.Down || !strings.Contains(r.Summary, "1 of 4 real servers up") ||
		!strings.Contains(r.Summary, "10.0.0.2 http-status, 10.0.0.3 http, 10.0.0.4 no-answer") {
		t.Errorf("nagios: %+v", r)
	}
}

// TestNoRetryAfterTheDeadline shows that an HTTP check the deadline cut
// asks for no new connection, even in the moment when the connection's
// deadline has passed but the context does not say so yet: the retry would
// report "sending the request" instead of the stage that was cut. A broken
// connection asks for one (vip.Check bounds the attempts and the time).
func TestNoRetryAfterTheDeadline(t *testing.T) {
	cut := l7.Result{Failure: l7.Protocol, Err: fmt.Errorf("reading the body: %w", context.DeadlineExceeded)}
	if againHTTP(cut) {
		t.Error("a check cut by the deadline was retried")
	}
	broken := l7.Result{Failure: l7.Protocol, Err: errors.New("reading the body: connection reset by peer")}
	if !againHTTP(broken) {
		t.Error("a reset connection was not retried")
	}
	if againHTTP(l7.Result{Status: 503, Failure: l7.Status, Observed: "503"}) {
		t.Error("a verdict on the response was retried")
	}
}
