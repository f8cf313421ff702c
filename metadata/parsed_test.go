package metadata

import (
	"reflect"
	"slices"
	"testing"
)

// TestParsedCurrent proves that every document parsed ahead of time
// (parsed.go) is current: its digest is the embedded document's and its
// content what Parse reads from it. Run go generate ./metadata when it
// fails.
func TestParsedCurrent(t *testing.T) {
	if len(parsed) == 0 {
		t.Fatal("no document parsed ahead of time")
	}
	for _, p := range parsed {
		name := p.name
		doc, err := Raw(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.sum != Digest(doc) {
			t.Errorf("%s.xml changed since parsed.go was generated: run go generate ./metadata", name)
		}
		want, err := Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.agent, *want) {
			t.Errorf("parsed.go holds for %s %+v, Parse reads %+v: run go generate ./metadata", name, p.agent, *want)
		}
	}
}

// TestLoadStale proves that Load parses a document whose entry in
// parsed.go is out of date instead of returning the entry.
func TestLoadStale(t *testing.T) {
	i := slices.IndexFunc(parsed, func(p parsedDoc) bool { return p.name == "sockd" })
	if i < 0 {
		t.Fatal("sockd is not parsed ahead of time")
	}
	saved := parsed[i]
	t.Cleanup(func() { parsed[i] = saved })
	stale := saved
	stale.sum++
	stale.agent = Agent{Name: "stale"}
	parsed[i] = stale
	a, err := Load("sockd")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "sockd" || len(a.Parameters) == 0 {
		t.Errorf("Load returned the stale entry: %+v", a)
	}
}

// TestLoadCopy proves that a caller changing what Load returned does not
// change the next Load.
func TestLoadCopy(t *testing.T) {
	a, err := Load("sockd")
	if err != nil {
		t.Fatal(err)
	}
	a.Parameters[0].Name = "changed"
	a.Actions[0].Name = "changed"
	b, err := Load("sockd")
	if err != nil {
		t.Fatal(err)
	}
	if b.Parameters[0].Name == "changed" || b.Actions[0].Name == "changed" {
		t.Error("Load shares its slices between calls")
	}
}
