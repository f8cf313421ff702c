package harness

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/testenv"
)

// Status is the part of `crm_mon -1 -A --output-as=xml` the tests read.
type Status struct {
	DC struct {
		Present bool   `xml:"present,attr"`
		Name    string `xml:"name,attr"`
	} `xml:"summary>current_dc"`
	Nodes          []StatusNode     `xml:"nodes>node"`
	Resources      ResourceList     `xml:"resources"`
	NodeAttributes []NodeAttributes `xml:"node_attributes>node"`
	History        []NodeHistory    `xml:"node_history>node"`
	Failures       []Failure        `xml:"failures>failure"`
}

// StatusNode is a cluster node as crm_mon sees it.
type StatusNode struct {
	Name   string `xml:"name,attr"`
	Online bool   `xml:"online,attr"`
	IsDC   bool   `xml:"is_dc,attr"`
}

// ResourceList holds primitives, groups and clones; groups and clones nest.
type ResourceList struct {
	Resources []Resource   `xml:"resource"`
	Groups    []Group      `xml:"group"`
	Clones    []CloneGroup `xml:"clone"`
}

// Group is a resource group.
type Group struct {
	ID        string     `xml:"id,attr"`
	Resources []Resource `xml:"resource"`
}

// CloneGroup is a clone of a primitive or of a group.
type CloneGroup struct {
	ID        string     `xml:"id,attr"`
	Resources []Resource `xml:"resource"`
	Groups    []Group    `xml:"group"`
}

// Resource is one primitive (or one clone instance).
type Resource struct {
	ID      string `xml:"id,attr"`
	Agent   string `xml:"resource_agent,attr"`
	Role    string `xml:"role,attr"`
	Active  bool   `xml:"active,attr"`
	Failed  bool   `xml:"failed,attr"`
	Blocked bool   `xml:"blocked,attr"`
	Nodes   []struct {
		Name string `xml:"name,attr"`
	} `xml:"node"`
}

// NodeAttributes are the transient and permanent attributes of one node.
type NodeAttributes struct {
	Node       string `xml:"name,attr"`
	Attributes []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"attribute"`
}

// NodeHistory is the resource history of one node: the fail counts.
type NodeHistory struct {
	Node      string `xml:"name,attr"`
	Resources []struct {
		ID        string `xml:"id,attr"`
		FailCount string `xml:"fail-count,attr"`
	} `xml:"resource_history"`
}

// Failure is one failed operation, as shown by `crm_mon --failcounts`.
type Failure struct {
	OpKey      string   `xml:"op_key,attr"`
	Node       string   `xml:"node,attr"`
	ExitStatus string   `xml:"exitstatus,attr"`
	ExitReason string   `xml:"exitreason,attr"`
	ExitCode   ocf.Code `xml:"exitcode,attr"`
	Call       int      `xml:"call,attr"`
	Task       string   `xml:"task,attr"`
	Interval   string   `xml:"interval,attr"`
}

// ParseStatus parses crm_mon's XML output.
func ParseStatus(b []byte) (*Status, error) {
	var s struct {
		XMLName xml.Name `xml:"pacemaker-result"`
		Status
	}
	if err := xml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parsing crm_mon XML: %w", err)
	}
	return &s.Status, nil
}

// Status reads the cluster status from node n.
func (n *Node) Status() (*Status, error) {
	out, err := n.Output("crm_mon", "-1", "-A", "--output-as=xml")
	if err != nil {
		return nil, err
	}
	return ParseStatus([]byte(out))
}

// Status reads the cluster status from the first node that answers.
func (c *Cluster) Status() (*Status, error) {
	var err error
	for _, n := range c.Nodes {
		var s *Status
		if s, err = n.Status(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// WaitStatus polls the cluster status until check accepts it, failing the
// test with check's last error when timeout passes.
func (c *Cluster) WaitStatus(t testing.TB, timeout time.Duration, what string, check func(*Status) error) *Status {
	t.Helper()
	var last *Status
	testenv.WaitFor(t, timeout, what, func() error {
		s, err := c.Status()
		if err != nil && strings.Contains(err.Error(), "failed to execute") {
			return testenv.Stop(err) // nsenter found no crm_mon: waiting cannot mend it
		}
		if err != nil {
			return err
		}
		last = s
		return check(s)
	})
	return last
}

// WaitStarted waits until resource id runs on node (any node when node is
// empty) and returns that node's name.
func (c *Cluster) WaitStarted(t testing.TB, timeout time.Duration, id, node string) string {
	t.Helper()
	var on string
	c.WaitStatus(t, timeout, id+" started", func(s *Status) error {
		var ok bool
		if on, ok = s.StartedOn(id, node); !ok {
			return fmt.Errorf("%s is %s", id, s.Describe(id))
		}
		return nil
	})
	return on
}

// StartedOn returns the node where an instance of resource id runs, started
// and not failed, on node unless node is empty; false when there is none.
func (s *Status) StartedOn(id, node string) (string, bool) {
	for _, r := range s.Find(id) {
		if r.Active && !r.Failed && r.Role == "Started" && len(r.Nodes) > 0 && (node == "" || r.Nodes[0].Name == node) {
			return r.Nodes[0].Name, true
		}
	}
	return "", false
}

// NodeOnline reports whether the named node is online.
func (s *Status) NodeOnline(name string) bool {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n.Online
		}
	}
	return false
}

// Find returns every instance of the primitive id, wherever it is nested.
func (s *Status) Find(id string) []Resource {
	var out []Resource
	add := func(rs []Resource) {
		for _, r := range rs {
			if r.ID == id || strings.HasPrefix(r.ID, id+":") {
				out = append(out, r)
			}
		}
	}
	add(s.Resources.Resources)
	for _, g := range s.Resources.Groups {
		add(g.Resources)
	}
	for _, c := range s.Resources.Clones {
		add(c.Resources)
		for _, g := range c.Groups {
			add(g.Resources)
		}
	}
	return out
}

// Describe summarises the instances of resource id for messages.
func (s *Status) Describe(id string) string {
	rs := s.Find(id)
	if len(rs) == 0 {
		return "absent"
	}
	var parts []string
	for _, r := range rs {
		d := r.Role
		if r.Failed {
			d += " (failed)"
		}
		for _, n := range r.Nodes {
			d += " on " + n.Name
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, ", ")
}

// FailuresOf returns the failed operations of resource id.
func (s *Status) FailuresOf(id string) []Failure {
	var out []Failure
	for _, f := range s.Failures {
		// op_key is RESOURCE_TASK_INTERVAL; resource IDs may contain "_".
		if f.OpKey == id+"_"+f.Task+"_"+f.Interval {
			out = append(out, f)
		}
	}
	return out
}

// FailCount returns the fail count of resource id on node ("" when none;
// "1000000" stands for INFINITY).
func (s *Status) FailCount(id, node string) string {
	for _, h := range s.History {
		if h.Node != node {
			continue
		}
		for _, r := range h.Resources {
			if r.ID == id {
				return r.FailCount
			}
		}
	}
	return ""
}

// Attribute returns a node attribute and whether it is set.
func (s *Status) Attribute(node, name string) (string, bool) {
	for _, na := range s.NodeAttributes {
		if na.Node != node {
			continue
		}
		for _, a := range na.Attributes {
			if a.Name == name {
				return a.Value, true
			}
		}
	}
	return "", false
}
