package radius

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// fakeServer answers every request on a UDP socket with reply(req).
func fakeServer(t *testing.T, reply func(req []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if r := reply(append([]byte(nil), buf[:n]...)); r != nil {
				pc.WriteTo(r, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// answer encodes a reply to req with code, signed with secret (and a
// Message-Authenticator when withMA).
func answer(t *testing.T, req []byte, code radius.Code, secret string, withMA bool, msg string) []byte {
	p, err := radius.Parse(req, []byte(secret))
	if err != nil {
		t.Error(err)
		return nil
	}
	r := p.Response(code)
	if msg != "" {
		rfc2865.ReplyMessage_SetString(r, msg)
	}
	if withMA {
		rfc2869.MessageAuthenticator_Set(r, make([]byte, 16))
		b, _ := r.MarshalBinary()
		signMessageAuthenticator(b, req[4:20], []byte(secret))
		r, _ = radius.Parse(b, []byte(secret))
	}
	b, err := r.Encode()
	if err != nil {
		t.Error(err)
	}
	return b
}

func probeCtx(t *testing.T, cfg Config) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return Probe(ctx, cfg)
}

// TestForgedReply checks that a reply signed with another secret fails
// at StageAuthenticator (a wrong shared secret on a port that answers).
func TestForgedReply(t *testing.T) {
	for _, withMA := range []bool{false, true} {
		addr := fakeServer(t, func(req []byte) []byte { return answer(t, req, radius.CodeAccessAccept, "other", withMA, "") })
		_, err := probeCtx(t, Config{Server: addr, Secret: []byte("mine")})
		var e *Error
		if !errors.As(err, &e) || e.Stage != StageAuthenticator {
			t.Errorf("withMA=%v: err = %v, want stage authenticator", withMA, err)
		}
	}
}

// TestReplyChecks covers codes, Reply-Message and a bad Message-Authenticator.
func TestReplyChecks(t *testing.T) {
	good := fakeServer(t, func(req []byte) []byte { return answer(t, req, radius.CodeAccessAccept, "s", true, "hi there") })
	res, err := probeCtx(t, Config{Server: good, Secret: []byte("s"), ReplyMessage: "there"})
	if err != nil || res.Code != radius.CodeAccessAccept || res.Sent != 1 {
		t.Fatalf("Probe = %+v, %v", res, err)
	}
	_, err = probeCtx(t, Config{Server: good, Secret: []byte("s"), Accounting: true})
	if e := new(Error); !errors.As(err, &e) || e.Stage != StageCode {
		t.Fatalf("accounting against Access-Accept: %v", err)
	}
	// A reply whose MA was signed with another secret but whose Response
	// Authenticator is right.
	badMA := fakeServer(t, func(req []byte) []byte {
		b := answer(t, req, radius.CodeAccessAccept, "s", true, "")
		off := findAttr(b, 80)
		b[off+2] ^= 1
		p, _ := radius.Parse(b, []byte("s"))
		copy(p.Authenticator[:], req[4:20])
		b, _ = p.Encode()
		return b
	})
	_, err = probeCtx(t, Config{Server: badMA, Secret: []byte("s")})
	if e := new(Error); !errors.As(err, &e) || e.Stage != StageAuthenticator || !strings.Contains(err.Error(), "Message-Authenticator") {
		t.Fatalf("bad Message-Authenticator: %v", err)
	}
}

// TestRetransmit checks that a lost request is sent again (same packet).
func TestRetransmit(t *testing.T) {
	var first []byte
	addr := fakeServer(t, func(req []byte) []byte {
		if first == nil {
			first = req
			return nil
		}
		if string(req) != string(first) {
			t.Error("retransmission differs from the request")
		}
		return answer(t, req, radius.CodeAccessAccept, "s", false, "")
	})
	res, err := probeCtx(t, Config{Server: addr, Secret: []byte("s"), Retry: 50 * time.Millisecond})
	if err != nil || res.Sent < 2 {
		t.Fatalf("Probe = %+v, %v; want success after a retransmission", res, err)
	}
}

// TestValidate refuses settings that make no sense.
func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Server: "nohost", Secret: []byte("s")},
		{Server: "127.0.0.1:1", Secret: nil},
		{Server: "127.0.0.1:1", Secret: []byte("s"), User: "u"},
		{Server: "127.0.0.1:1", Secret: []byte("s"), Kind: AccessRequest},
		{Server: "127.0.0.1:1", Secret: []byte("s"), Kind: AccessRequest, User: "u", Accounting: true},
		{Server: "127.0.0.1:1", Secret: []byte("s"), Kind: "coa"},
	} {
		if _, err := probeCtx(t, c); err == nil || !strings.Contains(err.Error(), "config") {
			t.Errorf("%+v: err = %v, want a config error", c, err)
		}
	}
}

// FuzzCheckReply feeds arbitrary replies to the reply parser and checker.
func FuzzCheckReply(f *testing.F) {
	req, err := (&Config{Server: "x:1", Secret: []byte("s")}).request()
	if err != nil {
		f.Fatal(err)
	}
	seeds, _ := filepath.Glob("testdata/reply-*")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{2, req[1], 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1 {
			b[1] = req[1]
		}
		p, err := CheckReply(b, req, []byte("s"))
		if err == nil && p == nil {
			t.Fatal("nil packet without error")
		}
	})
}
