package vipcheck

import (
	"context"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/metadata"
)

// TestSettingsReadEveryParameter shows that the meta-data and the agent
// agree: every declared parameter is read, with the documented defaults.
func TestSettingsReadEveryParameter(t *testing.T) {
	meta, err := metadata.Load("vipcheck")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OCF_RESKEY_vip": "192.0.2.80", "OCF_RESKEY_real_servers": "192.0.2.21,192.0.2.22"}
	p := ocf.NewParams(meta, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	s, err := readSettings(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range p.Unread() {
		t.Errorf("parameter %s is declared but never read", name)
	}
	if s.spec.Port != 80 || s.spec.Timeout != time.Second || s.spec.Role != RoleMaster || s.attribute != "vipcheck" ||
		s.multiplier != 1 || s.dampen != "5s" || s.spec.Close || s.arpLeak || len(s.spec.Targets) != 2 || s.spec.HTTP != nil {
		t.Errorf("defaults: %+v", s)
	}
	for k, v := range map[string]string{"OCF_RESKEY_port": "70000", "OCF_RESKEY_multiplier": "x",
		"OCF_RESKEY_close": "maybe", "OCF_RESKEY_attribute": "a b", "OCF_RESKEY_timeout": "0",
		"OCF_RESKEY_check": "udp", "OCF_RESKEY_http_status": "x", "OCF_RESKEY_http_max_body": "-",
		"OCF_RESKEY_tls_insecure": "perhaps"} {
		env[k] = v
		if _, err := readSettings(context.Background(), p); ocf.CodeOf(err) != ocf.ErrConfigured {
			t.Errorf("%s=%s: %v, want ErrConfigured", k, v, err)
		}
		delete(env, k)
	}
	// Numbers that overflow, or lie out of range, never pass.
	for _, kv := range [][2]string{{"OCF_RESKEY_timeout", "10000000000000"}, {"OCF_RESKEY_timeout", "18446744073710"},
		{"OCF_RESKEY_timeout", "-5"}, {"OCF_RESKEY_timeout", "2h"}, {"OCF_RESKEY_multiplier", "9223372036854775807"},
		{"OCF_RESKEY_multiplier", "-1"}, {"OCF_RESKEY_dampen", "18446744073710"}, {"OCF_RESKEY_dampen", "5 s"},
		{"OCF_RESKEY_http_max_body", "99999999999999999999"}} {
		env[kv[0]] = kv[1]
		if _, err := readSettings(context.Background(), p); ocf.CodeOf(err) != ocf.ErrConfigured {
			t.Errorf("%s=%s: %v, want ErrConfigured", kv[0], kv[1], err)
		}
		delete(env, kv[0])
	}
	for v, want := range map[string]string{"5": "5s", "1500ms": "1500ms", "1min": "60s", "0": "0s"} {
		env["OCF_RESKEY_dampen"] = v
		if s, err := readSettings(context.Background(), p); err != nil || s.dampen != want {
			t.Errorf("dampen=%s: %q, %v; want %q", v, s.dampen, err, want)
		}
	}
	delete(env, "OCF_RESKEY_dampen")
	env["OCF_RESKEY_timeout"] = "3s"
	if s, err := readSettings(context.Background(), p); err != nil || s.spec.Timeout != 3*time.Second {
		t.Errorf("timeout=3s: %v, %v", s.spec.Timeout, err)
	}
	delete(env, "OCF_RESKEY_timeout")

	// check=http and https build the HTTP check from the parameters.
	env["OCF_RESKEY_check"] = "https"
	env["OCF_RESKEY_http_path"] = "/health"
	env["OCF_RESKEY_http_headers"] = "Accept: */* | X-A: b"
	env["OCF_RESKEY_http_expect_headers"] = "Server:"
	env["OCF_RESKEY_http_body"] = "OK"
	s, err = readSettings(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	h := s.spec.HTTP
	if h == nil || h.TLS == nil || h.Host != "192.0.2.80" || h.Path != "/health" || h.Status != 200 ||
		h.Header.Get("X-A") != "b" || len(h.WantHeader) != 1 || h.Body == nil || *h.Body != "OK" || h.Method != "GET" {
		t.Errorf("https settings: %+v", h)
	}
	for k, v := range map[string]string{"OCF_RESKEY_http_method": "POST", "OCF_RESKEY_http_path": "health",
		"OCF_RESKEY_http_md5": "abc", "OCF_RESKEY_http_regex": "(", "OCF_RESKEY_http_headers": "nocolon",
		"OCF_RESKEY_tls_ca": "/nonexistent/ca.pem"} {
		old, had := env[k]
		env[k] = v
		if _, err := readSettings(context.Background(), p); ocf.CodeOf(err) != ocf.ErrConfigured {
			t.Errorf("%s=%s: %v, want ErrConfigured", k, v, err)
		}
		if had {
			env[k] = old
		} else {
			delete(env, k)
		}
	}
}
