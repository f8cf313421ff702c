package realserver

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeState: state.json, whatever its bytes, is decoded or refused
// with an error, never a panic; a decoded state has every map and
// survives being written and read again unchanged.
func FuzzDecodeState(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.state.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2]) // truncated by a crash
	}
	for _, s := range []string{"", " \n", "{}", "null", "[]", `{"instances":[1]}`, `{"owned":{"lo 10.0.0.1":"yes"}}`,
		`{"instances":{"x":null},"owned":null,"saved":{"f":null}}`, "[[[[[[[[[[[[[[[[", "{\"instances\":{\"\x00\":{}}}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data, "state.json")
		if err != nil {
			return
		}
		if st.Instances == nil || st.Owned == nil || st.Saved == nil {
			t.Fatalf("decoded %q with a nil map: %+v", data, st)
		}
		once, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeState(once, "state.json")
		if err != nil {
			t.Fatalf("the agent cannot read what it wrote: %v\n%s", err, once)
		}
		twice, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("written, read and written again differs:\n%s\n%s", once, twice)
		}
	})
}
