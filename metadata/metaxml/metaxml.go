// Package metaxml parses OCF meta-data documents. Agents never do: they
// read the table package metadata holds, parsed ahead of time, so that
// encoding/xml is not part of a one-shot action's start-up. The generator
// of that table, the tests that keep it current and the man-page tools
// parse with this package.
package metaxml

import (
	"encoding/xml"
	"fmt"

	"github.com/ocfkit/ocfkit/metadata"
)

// Parse parses a meta-data document.
func Parse(doc []byte) (*metadata.Agent, error) {
	var a metadata.Agent
	if err := xml.Unmarshal(doc, &a); err != nil {
		return nil, fmt.Errorf("parsing meta-data: %w", err)
	}
	return &a, nil
}
