package sockd

import (
	"encoding/json"
	"reflect"
	"testing"
)

// stateSamples are records as start writes them: with and without
// arguments, with characters json.Marshal escapes, and not.
func stateSamples() []*startState {
	return []*startState{
		{Params: [3]string{"/usr/sbin/danted", "/etc/danted.conf", "/run/danted.pid"}, Binary: "/usr/sbin/danted",
			Exe: fileID{Dev: 2049, Ino: 1234567}, Config: "/etc/danted.conf", MntNS: "mnt:[4026531841]"},
		{Params: [3]string{"", "", "/run/d.pid"}, Args: []string{}},
		{Params: [3]string{"/opt/dante ü/sockd", "/etc/ä.conf", "/run/p"}, Args: []string{"-N", "2", "-d", "1"},
			Exe: fileID{Dev: 0, Ino: 18446744073709551615}},
		{Params: [3]string{`/a"b`, `c\d`, "e<f>&"}, Binary: "\u2028", Config: "\t", Args: []string{"x\x00y"}},
		{Binary: "\xff\xfe", Args: []string{""}},
	}
}

// TestDecodeStateAsUnmarshal proves that decodeState reads every record
// start writes as json.Unmarshal does, and that the records without
// escaped characters take the fast path.
func TestDecodeStateAsUnmarshal(t *testing.T) {
	for i, st := range stateSamples() {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var want startState
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got, err := decodeState(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: decodeState = %#v, json.Unmarshal = %#v", b, *got, want)
		}
		if _, fast := scanState(b); fast != (i < 3) {
			t.Errorf("%s: fast path taken: %v", b, fast)
		}
	}
}

// FuzzDecodeState checks that decodeState accepts what json.Unmarshal
// accepts, refuses what it refuses, and reads the same.
func FuzzDecodeState(f *testing.F) {
	for _, st := range stateSamples() {
		b, _ := json.Marshal(st)
		f.Add(b)
	}
	f.Add([]byte(`{"params":["a","b","c","d"],"binary":"x","exe":{"Dev":01,"Ino":2},"config":"","mntns":"","args":null}`))
	f.Add([]byte(`{"params":["a","b","c"],"binary":"x","exe":{"Dev":1,"Ino":99999999999999999999},"config":"","mntns":"","args":[,]} `))
	f.Add([]byte(`{"PARAMS":["a"],"args":null,"args":["z"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want startState
		werr := json.Unmarshal(b, &want)
		got, err := decodeState(b)
		if (err != nil) != (werr != nil) {
			t.Fatalf("%q: decodeState error %v, json.Unmarshal error %v", b, err, werr)
		}
		if err == nil && !reflect.DeepEqual(*got, want) {
			t.Fatalf("%q: decodeState = %#v, json.Unmarshal = %#v", b, *got, want)
		}
	})
}
