// Package metadata holds the OCF meta-data documents of every ocfkit agent.
//
// The XML files in this directory are the one source of parameter names,
// types, defaults and the required/unique flags: agents print them verbatim
// for the meta-data action and read their parameters through them.
package metadata

import (
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

//go:embed *.xml
var files embed.FS

// Agent is the parsed meta-data of one resource agent.
type Agent struct {
	Name       string      `xml:"name,attr"`
	Version    string      `xml:"version"`
	Parameters []Parameter `xml:"parameters>parameter"`
	Actions    []Action    `xml:"actions>action"`
}

// Parameter is one instance parameter of an agent.
type Parameter struct {
	Name     string  `xml:"name,attr"`
	Required bool    `xml:"required,attr"`
	Unique   bool    `xml:"unique,attr"`
	Content  Content `xml:"content"`
}

// Content describes a parameter's type and default value.
type Content struct {
	Type    string `xml:"type,attr"`
	Default string `xml:"default,attr"`
}

// Action is one action an agent advertises, with its suggested timeout
// (seconds, as "20s") and, for monitors, interval and check depth.
type Action struct {
	Name     string `xml:"name,attr"`
	Timeout  string `xml:"timeout,attr"`
	Interval string `xml:"interval,attr"`
	Depth    string `xml:"depth,attr"`
}

// Raw returns the meta-data document of the named agent (the base name of
// its XML file, such as "sockd"), exactly as it is printed.
func Raw(agent string) ([]byte, error) {
	b, err := files.ReadFile(agent + ".xml")
	if err != nil {
		return nil, fmt.Errorf("no meta-data for agent %q: %w", agent, err)
	}
	return b, nil
}

//go:generate go run gen.go

// ErrStale is wrapped by Load's error when an agent's document has no
// current entry in the table parsed ahead of time.
var ErrStale = errors.New("meta-data changed since parsed.go was generated: run go generate ./metadata")

// Load returns the parsed meta-data document of the named agent, from the
// table parsed ahead of time (gen.go). No agent parses XML at run time:
// the XML decoder and its package initialisation would be most of what
// a one-shot action costs. An entry whose document has changed since it
// was generated is refused; TestParsedCurrent keeps the table current, and
// package metaxml parses a document for tools and tests.
func Load(agent string) (*Agent, error) {
	b, err := Raw(agent)
	if err != nil {
		return nil, err
	}
	for _, p := range parsed {
		if p.name == agent {
			if p.sum != Digest(b) {
				break
			}
			a := p.agent.clone()
			return &a, nil
		}
	}
	return nil, fmt.Errorf("meta-data of %q: %w", agent, ErrStale)
}

// parsedDoc is the document of the agent name parsed ahead of time, with
// the Digest of the document it was parsed from. The table is a slice, not
// a map, so the linker lays it out and no code builds it at start-up.
type parsedDoc struct {
	name  string
	sum   uint64
	agent Agent
}

// clone returns a copy of a that shares no slice with it, so a caller
// cannot change the table.
func (a Agent) clone() Agent {
	a.Parameters = slices.Clone(a.Parameters)
	a.Actions = slices.Clone(a.Actions)
	return a
}

// Digest returns a hash of a document, which tells whether an entry
// parsed ahead of time still describes it: FNV-1a taken over 64-bit words,
// so it costs a run a microsecond (hash/crc32 builds its tables first,
// hash/fnv goes byte by byte).
func Digest(doc []byte) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for ; len(doc) >= 8; doc = doc[8:] {
		h = (h ^ binary.LittleEndian.Uint64(doc)) * prime
	}
	for _, c := range doc {
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// Parameter returns the named parameter, or false when the agent has none
// of that name.
func (a *Agent) Parameter(name string) (Parameter, bool) {
	for _, p := range a.Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}

// Action returns the first advertised action of that name, or false.
func (a *Agent) Action(name string) (Action, bool) {
	for _, act := range a.Actions {
		if act.Name == name {
			return act, true
		}
	}
	return Action{}, false
}

// MonitorDepths returns the check depths the agent advertises for monitor,
// always including 0, in the order they appear.
func (a *Agent) MonitorDepths() []int {
	depths := []int{0}
	for _, act := range a.Actions {
		if act.Name != "monitor" || act.Depth == "" {
			continue
		}
		if d, err := strconv.Atoi(act.Depth); err == nil && d != 0 {
			depths = append(depths, d)
		}
	}
	return depths
}
