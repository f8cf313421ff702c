package main

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/ocfkit/ocfkit/metadata"
	"github.com/ocfkit/ocfkit/metadata/metaxml"
)

// agentDoc is the documentation part of an agent's meta-data, which the
// metadata package does not parse.
type agentDoc struct {
	Name       string          `xml:"name,attr"`
	LongDesc   string          `xml:"longdesc"`
	ShortDesc  string          `xml:"shortdesc"`
	Parameters []paramDoc      `xml:"parameters>parameter"`
	meta       *metadata.Agent // actions and depths
}

type paramDoc struct {
	Name      string `xml:"name,attr"`
	Required  bool   `xml:"required,attr"`
	Unique    bool   `xml:"unique,attr"`
	LongDesc  string `xml:"longdesc"`
	ShortDesc string `xml:"shortdesc"`
	Content   struct {
		Type    string `xml:"type,attr"`
		Default string `xml:"default,attr"`
	} `xml:"content"`
}

// loadDoc reads an agent's meta-data with its descriptions.
func loadDoc(agent string) (*agentDoc, error) {
	raw, err := metadata.Raw(agent)
	if err != nil {
		return nil, err
	}
	d := &agentDoc{}
	if err := xml.Unmarshal(raw, d); err != nil {
		return nil, fmt.Errorf("meta-data of %s: %w", agent, err)
	}
	if d.meta, err = metaxml.Parse(raw); err != nil {
		return nil, err
	}
	return d, nil
}

// agentPageText returns the section 7 page of an agent, from its meta-data.
func (g *gen) agentPageText(agent string) (string, error) {
	d, err := loadDoc(agent)
	if err != nil {
		return "", err
	}
	prog, ok := programOf(agent)
	if !ok {
		return "", fmt.Errorf("agent %s: no program under cmd/ serves it (add it to programs)", agent)
	}
	name := ocfName(agent)
	var pg page
	pg.header(agentPage(agent), 7, g.Date, g.source(), "OCF resource agents", d.ShortDesc)

	pg.section("SYNOPSIS")
	pg.raw(bold("pcs resource create") + " " + italic("ID") + " " + bold(name) + " [" + italic("parameter") + "=" + italic("value") + " ...]")
	pg.raw(".br")
	pg.raw("[" + bold("OCF_RESKEY_") + italic("parameter") + "=" + italic("value") + " ...] " +
		bold("/usr/lib/ocf/"+installPath(agent)) + " " + italic("ACTION"))

	pg.section("DESCRIPTION")
	pg.text(d.LongDesc, ".PP")
	pg.raw(".PP")
	pg.text(fmt.Sprintf("The agent is the program %s (see %s(8)), installed as $OCF_ROOT/%s.",
		prog.Name, prog.Name, installPath(agent)), ".PP")

	pg.section("SUPPORTED PARAMETERS")
	for _, p := range d.Parameters {
		pg.tagged(bold(p.Name))
		pg.text(sentence(p.ShortDesc), ".IP")
		pg.raw(".IP")
		pg.text(p.LongDesc, ".IP")
		pg.raw(".IP")
		pg.text(paramFacts(p), ".IP")
	}

	pg.section("SUPPORTED ACTIONS")
	pg.text("The suggested timeouts and intervals, as the meta-data advertises them:", ".PP")
	for _, a := range d.meta.Actions {
		pg.tagged(bold(a.Name))
		var facts []string
		if a.Timeout != "" {
			facts = append(facts, "timeout "+a.Timeout)
		}
		if a.Interval != "" {
			facts = append(facts, "interval "+a.Interval)
		}
		if a.Depth != "" {
			facts = append(facts, "depth "+a.Depth+" (OCF_CHECK_LEVEL)")
		}
		if len(facts) == 0 {
			facts = append(facts, "no suggested timeout")
		}
		pg.text(strings.Join(facts, ", "), ".IP")
	}

	depths := d.meta.MonitorDepths()
	if len(depths) > 1 {
		pg.section("MONITOR DEPTHS")
		ds := make([]string, len(depths))
		for i, x := range depths {
			ds[i] = fmt.Sprint(x)
		}
		pg.text("monitor checks at depth "+strings.Join(ds, ", ")+", chosen by OCF_CHECK_LEVEL "+
			"(in pcs, OCF_CHECK_LEVEL=N on the monitor operation); a deeper check includes the shallower ones. "+
			"The description above says what each depth proves.", ".PP")
	}

	pg.section("EXIT STATUS")
	pg.text(ocfCodes()+". A failure prints an ocf-exit-reason line on standard error, "+
		"which Pacemaker shows as the reason.", ".PP")

	pg.section("EXAMPLE")
	pg.text("A resource with the parameters the agent requires and one monitor operation per advertised depth:", ".PP")
	pg.example(pcsExample(agent, d)...)

	pg.section("SEE ALSO")
	pg.raw(bold(prog.Name) + "(8),\n" + bold("pcs") + "(8),\n" + bold("crm_resource") + "(8)")
	return pg.String(), nil
}

// paramFacts says whether a parameter is required or unique, its type and
// default.
func paramFacts(p paramDoc) string {
	facts := []string{"optional"}
	if p.Required {
		facts[0] = "required"
	}
	if p.Unique {
		facts = append(facts, "unique")
	}
	facts = append(facts, p.Content.Type)
	if p.Content.Default != "" {
		facts = append(facts, fmt.Sprintf("default %q", p.Content.Default))
	} else {
		facts = append(facts, "no default")
	}
	return "(" + strings.Join(facts, ", ") + ")"
}

// pcsExample returns a pcs command that creates a resource of the agent:
// its required parameters (with their names in capitals as values) and
// one monitor operation per advertised depth.
func pcsExample(agent string, d *agentDoc) []string {
	lines := []string{"pcs resource create " + agent + "1 " + ocfName(agent) + " \\"}
	var params []string
	for _, p := range d.Parameters {
		if p.Required {
			params = append(params, p.Name+"="+strings.ToUpper(p.Name))
		}
	}
	if len(params) > 0 {
		lines = append(lines, "    "+strings.Join(params, " ")+" \\")
	}
	first := true
	for _, a := range d.meta.Actions {
		if a.Name != "monitor" {
			continue
		}
		op := "    "
		if first {
			op += "op "
			first = false
		} else {
			op += "   "
		}
		op += "monitor interval=" + a.Interval + " timeout=" + a.Timeout
		if a.Depth != "" && a.Depth != "0" {
			op += " OCF_CHECK_LEVEL=" + a.Depth
		}
		lines = append(lines, op+" \\")
	}
	last := lines[len(lines)-1]
	lines[len(lines)-1] = strings.TrimSuffix(last, " \\")
	return lines
}
