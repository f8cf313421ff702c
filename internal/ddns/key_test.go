package ddns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// tsigKeygen is what `tsig-keygen -a hmac-sha256 ddns-key` prints.
const tsigKeygen = `key "ddns-key" {
	algorithm hmac-sha256;
	secret "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==";
};
`

func TestParseKeys(t *testing.T) {
	keys, err := ParseKeys([]byte("# comment\n// another\n/* block\n */\n" + tsigKeygen +
		`key other. { algorithm HMAC-SHA512; secret "AAAA"; };`))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Name != "ddns-key." || keys[0].Algorithm != dns.HmacSHA256 || keys[1].Algorithm != dns.HmacSHA512 {
		t.Fatalf("got %+v %+v", keys[0], keys[1])
	}
	for _, bad := range []string{
		`options { directory "/"; };`,
		`key "k" { algorithm hmac-sha256; secret "not base64!"; };`,
		`key "k" { algorithm rsa; secret "AAAA"; };`,
		`key "k" { algorithm hmac-sha256; };`,
		`key "k" { algorithm hmac-sha256; secret "AAAA"; }`,
		`key "k" { algorithm hmac-sha256; secret "AAAA";`,
		`key "k" { algorithm hmac-sha256; secret "AAAA`,
		`key "k" { algorithm hmac-sha256; secret "AAAA"; include "/etc/shadow"; };`,
		`key "a b{" { algorithm hmac-sha256; secret "AAAA"; };`,
		"/* open",
	} {
		if _, err := ParseKeys([]byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// TestKeyErrorsQuoteNothing: a key file in another format (nsupdate -y,
// knsupdate, a bare secret) or with a secret in the wrong place is refused
// with its line and column, never with its words: the error goes to the
// journal and to cron mail (adv3 F3).
func TestKeyErrorsQuoteNothing(t *testing.T) {
	const secret = "TOPSECRETb64bXlzZWNyZXQ="
	for _, text := range []string{
		"hmac-sha256:ddns:" + secret + "\n",
		"ddns:" + secret + "\n",
		secret + "\n",
		"\"" + secret + "\"\n",
		"key \"" + secret + "{\" { algorithm hmac-sha256; secret \"AAAA\"; };",
		"key \"k\" { algorithm " + secret + "; secret \"AAAA\"; };",
		"key \"k\" { " + secret + " hmac-sha256; secret \"AAAA\"; };",
		"key \"k\" { secret " + secret + "!; algorithm hmac-sha256; };",
		"key \"k\" { secret \"" + secret + "\"; };",
		"key \"k\" { secret \"" + secret + "\"; algorithm hmac-sha256; }",
		"key \"k\" { secret \"" + secret + "\"; algorithm hmac-sha256",
		"key \"k\" { secret \"" + secret,
		"key " + secret + " " + secret,
		"/* " + secret,
	} {
		_, err := ParseKeys([]byte(text))
		if err == nil {
			t.Errorf("%q: accepted", text)
			continue
		}
		if strings.Contains(err.Error(), "TOPSECRET") || !strings.Contains(err.Error(), "column") {
			t.Errorf("%q: error %q quotes the file or lacks the position", text, err)
		}
	}
	_, err := ParseKeys([]byte("\n  hmac-sha256:ddns:" + secret))
	if err == nil || !strings.HasPrefix(err.Error(), "line 2, column 3: ") || !strings.Contains(err.Error(), "nsupdate -y") {
		t.Errorf("got %v, want line 2, column 3 and the nsupdate -y hint", err)
	}
}

// TestLoadKey: a key file is a secret (0600 or 0640, as BIND's), hmac-md5
// needs an explicit yes, and a name picks the key.
func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, mode := range []os.FileMode{0o600, 0o640, 0o400} {
		if _, err := LoadKey(write("ok", tsigKeygen, mode), "", false); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	if _, err := LoadKey(write("readable", tsigKeygen, 0o644), "", false); !errors.Is(err, ErrKeyReadable) {
		t.Errorf("0644: %v, want ErrKeyReadable", err)
	}
	if _, err := LoadKey(write("writable", tsigKeygen, 0o660), "", false); err == nil {
		t.Error("0660 accepted")
	}
	// A link is followed as filesafe follows it, and its target judged.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "readable"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(link, "", false); !errors.Is(err, ErrKeyReadable) {
		t.Errorf("link to a 0644 key: %v, want ErrKeyReadable", err)
	}
	if _, err := LoadKey("/dev/zero", "", false); err == nil {
		t.Error("/dev/zero accepted")
	}
	md5 := write("md5", strings.Replace(tsigKeygen, "hmac-sha256", "hmac-md5", 1), 0o600)
	if _, err := LoadKey(md5, "", false); !errors.Is(err, ErrMD5) {
		t.Errorf("md5 not allowed: %v, want ErrMD5", err)
	}
	if k, err := LoadKey(md5, "ddns-key", true); err != nil || k.Algorithm != dns.HmacMD5 {
		t.Errorf("md5 allowed: %v %v", k, err)
	}
	if _, err := LoadKey(md5, "other", true); err == nil {
		t.Error("a missing key name was accepted")
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(tsigKeygen), uint16(0), uint64(0))
	f.Add([]byte(`key k { algorithm hmac-sha512; secret "AAAA"; }; # x`), uint16(22), uint64(7))
	f.Add([]byte("/* */ key \"k\" {};"), uint16(11), uint64(3))
	f.Add([]byte("hmac-sha256:ddns:\n"), uint16(17), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, at uint16, seed uint64) {
		// A secret-looking word (unique enough never to be error text)
		// is planted at a fuzzed place: no error may quote it.
		secret := fmt.Sprintf("Zq9%016xQ=", seed)
		pos := int(at) % (len(data) + 1)
		data = append(append(append([]byte{}, data[:pos]...), secret...), data[pos:]...)
		keys, err := ParseKeys(data)
		if err != nil {
			if strings.Contains(err.Error(), secret[:8]) {
				t.Fatalf("error quotes the file: %v", err)
			}
			return
		}
		for _, k := range keys {
			if k.Name == "" || k.Algorithm == "" || k.Secret == "" || !strings.HasSuffix(k.Name, ".") {
				t.Fatalf("incomplete key accepted: %+v", k)
			}
		}
	})
}

func TestScript(t *testing.T) {
	c := &Change{Zone: "z.", Name: "www.z.", Type: dns.TypeA, TTL: 60,
		Expect: addrs("10.0.0.1", "10.0.0.2"), Delete: addrs("10.0.0.2"), Add: addrs("10.0.0.3")}
	want := "server 10.53.0.1 53\nzone z.\nprereq yxrrset www.z. IN A 10.0.0.1\nprereq yxrrset www.z. IN A 10.0.0.2\n" +
		"update delete www.z. IN A 10.0.0.2\nupdate add www.z. 60 IN A 10.0.0.3\nsend\n"
	if got := Script("10.53.0.1:53", c); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	m := Msg(c)
	if len(m.Answer) != 2 || len(m.Ns) != 2 {
		t.Fatalf("prerequisites %d, updates %d: want 2 and 2\n%s", len(m.Answer), len(m.Ns), m)
	}
}
