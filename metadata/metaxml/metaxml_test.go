package metaxml

import (
	"reflect"
	"testing"

	"github.com/ocfkit/ocfkit/metadata"
)

// TestParsedCurrent proves that every agent's entry in the table parsed
// ahead of time (metadata/parsed.go) is current: Load accepts it (its
// digest is the embedded document's) and its content is what Parse reads
// from the document. Run go generate ./metadata when it fails.
func TestParsedCurrent(t *testing.T) {
	names := metadata.Names()
	if len(names) == 0 {
		t.Fatal("no meta-data document")
	}
	for _, name := range names {
		doc, err := metadata.Raw(name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Parse(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := metadata.Load(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parsed.go holds for %s %+v, Parse reads %+v: run go generate ./metadata", name, *got, *want)
		}
	}
}

// TestParseRefuses proves that a document that is not XML is an error.
func TestParseRefuses(t *testing.T) {
	if _, err := Parse([]byte("<resource-agent")); err == nil {
		t.Error("Parse accepted a truncated document")
	}
}
