package metadata

import (
	"errors"
	"slices"
	"testing"
)

// TestLoadStale proves that Load refuses a document whose entry in
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
	if !errors.Is(err, ErrStale) {
		t.Errorf("Load returned %+v, %v for a stale entry, want an error wrapping ErrStale", a, err)
	}
}

// TestLoadEveryAgent proves that every agent's document is in the table:
// an agent whose XML was added without go generate could not start.
func TestLoadEveryAgent(t *testing.T) {
	for _, name := range Names() {
		if _, err := Load(name); err != nil {
			t.Errorf("Load(%q): %v", name, err)
		}
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
