// Package metadata holds the OCF meta-data documents of every ocfkit agent.
//
// The XML files in this directory are the one source of parameter names,
// types, defaults and the required/unique flags: agents print them verbatim
// for the meta-data action and read their parameters through them.
package metadata

import (
	"embed"
	"encoding/xml"
	"fmt"
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

// Load parses the meta-data document of the named agent.
func Load(agent string) (*Agent, error) {
	b, err := Raw(agent)
	if err != nil {
		return nil, err
	}
	a, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("meta-data of %q: %w", agent, err)
	}
	return a, nil
}

// Parse parses a meta-data document.
func Parse(doc []byte) (*Agent, error) {
	var a Agent
	if err := xml.Unmarshal(doc, &a); err != nil {
		return nil, fmt.Errorf("parsing meta-data: %w", err)
	}
	return &a, nil
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
