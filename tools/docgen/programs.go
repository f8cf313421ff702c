package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/anycastprobe"
	"github.com/ocfkit/ocfkit/agents/carphook"
	"github.com/ocfkit/ocfkit/agents/dnsfailover"
	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/agents/realserver"
	"github.com/ocfkit/ocfkit/agents/sockd"
	"github.com/ocfkit/ocfkit/agents/vipcheck"
	"github.com/ocfkit/ocfkit/checkstyle"
	"github.com/ocfkit/ocfkit/internal/clikit"
	"github.com/ocfkit/ocfkit/metadata"
)

// program is one command under cmd/: its command tree, and what the page
// says beyond it. Every directory under cmd/ must have an entry (see
// TestEveryCommandRegistered): a new program adds one line here.
type program struct {
	Name string
	// Agent is set for OCF agent programs (cmd/ocf-*): their command tree
	// is built as agents/ocf builds it, and their meta-data gives a
	// section 7 page.
	Agent *ocf.Agent
	// App returns the command tree of any other program.
	App func() *cli.App
	// Daemon marks a program that runs on its own, under systemd: it must
	// have dist/systemd/NAME.service (see dist/systemd/README.md).
	Daemon bool
	// Summary is the NAME line where the app's Usage is not one.
	Summary string
	// Exit is the EXIT STATUS section, plain text.
	Exit string
	// Files lists FILE: what it is, for the FILES section.
	Files [][2]string
	// Env lists VARIABLE: what it does, for the ENVIRONMENT section,
	// besides the flags' own variables.
	Env [][2]string
	// SeeAlso names other pages, as "name(section)".
	SeeAlso []string
	// Pages are extra man pages that belong to the program (section 5).
	Pages []func(g *gen) (string, string)
}

// programs lists every program under cmd/.
var programs = []program{
	{
		Name:  "ocf-sockd",
		Agent: sockd.Agent(),
	},
	{
		Name:  "ocf-vipcheck",
		Agent: vipcheck.Agent(),
	},
	// A oneshot unit (up/down) rather than a daemon, but it has one.
	{Name: "ocf-realserver", Agent: realserver.Agent(), Daemon: true},
	{
		Name:    "carp-hook",
		App:     carphook.App,
		Summary: "one state-change hook for CARP and VRRP (ucarp, keepalived, devd, ifstated)",
		Exit: "0 done (front-ends: the event is recorded and handed to the worker).\n\n" +
			"1 failure: a configuration error, an immediate removal failed; for status, the last transition failed.\n\n" +
			"2 usage error: the message names the expected form.\n\n" +
			"3 (status only) the last event is still being applied.",
		Files: [][2]string{
			{carphookDefaultConfig, "the configuration file (see carp-hook.toml(5)); it must be a regular file only root can have written"},
			{"/var/run/carp-hook", "the default state directory: lock files, the last event and the outcome of each group"},
		},
		SeeAlso: []string{"carp-hook.toml(5)", "ucarp(8)", "keepalived(8)", "ocf-vipcheck(8)"},
		Pages:   []func(g *gen) (string, string){carpHookTOML.page},
	},
	{
		Name: "anycast-probe", App: anycastprobe.App, Daemon: true,
		Exit: "0 done (run: stopped by SIGTERM; check: every service healthy).\n\n" +
			"1 failure: a configuration or host error, another daemon holds the file's lock; for check, a service is unhealthy.\n\n" +
			"2 usage error.",
		Files: [][2]string{
			{anycastprobe.DefaultConfig, "the configuration file (see anycast-probe.toml(5)); it must be a regular file only root can have written"},
			{anycastprobe.DefaultSocket, "the status socket `anycast-probe status` reads"},
		},
		SeeAlso: []string{"anycast-probe.toml(5)", "unbound(8)", "ospfd(8)", "bird(8)"},
		Pages:   []func(g *gen) (string, string){anycastProbeTOML.page},
	},
	{Name: "dns-failover", App: dnsfailover.App, Daemon: true,
		Exit: "0 done. 1 a primary could not be read or updated (the others were), a configuration or key file refused; " +
			"for status, a primary is not in line or no round ran yet. 2 usage error.",
		Files: [][2]string{{dnsfailover.DefaultConfig, "the configuration (see dns-failover.toml(5)); it must be a regular file only root can have written"},
			{dnsfailover.DefaultStateFile, "rise/fall state between rounds and runs of once"}},
		SeeAlso: []string{"dns-failover.toml(5)", "named(8)", "nsupdate(1)", "tsig-keygen(8)"},
		Pages:   []func(g *gen) (string, string){dnsFailoverTOML.page}},
}

// carphookDefaultConfig is carp-hook's configuration without --config.
const carphookDefaultConfig = "/etc/carp-hook.toml"

// agentExit is the EXIT STATUS of an OCF agent program.
var agentExit = "OCF actions exit with the OCF codes: " + ocfCodes() +
	"; a failure also prints an ocf-exit-reason line on standard error.\n\n" +
	"A check command exits as its exit style says (--exit-style, $" + checkstyle.EnvVar + ", or the name the program runs under):\n\n" +
	"  style                    up  down  unknown  usage error\n" +
	"  ocf (default)            0   1     1        2\n" +
	"  relayd                   1   0     0        0\n" +
	"  keepalived, ldirectord   0   1     1        1\n" +
	"  nagios                   0   2     3        3\n\n" +
	"A usage error never exits with a status its caller reads as up."

// agentEnv is the ENVIRONMENT of an OCF agent program.
var agentEnv = [][2]string{
	{"OCF_RESKEY_name", "the value of the instance parameter name (see the section 7 page)"},
	{"OCF_RESKEY_CRM_meta_timeout", "the operation's timeout in milliseconds; the action ends before it"},
	{"OCF_CHECK_LEVEL", "the monitor depth"},
	{"OCF_RESOURCE_INSTANCE", "the instance name, in logs and state files"},
	{"HA_LOGFILE", "a file every message is appended to"},
	{"HA_LOGFACILITY", "the syslog facility of the system log (journald or syslog); none turns it off"},
	{"HA_debug", "1 logs debug messages too, as --debug does"},
	{checkstyle.EnvVar, "the exit style of check commands when --exit-style is not given"},
}

// name returns the program's name.
func (p program) name() string { return p.Name }

// tree returns the program's command tree as it runs.
func (p program) tree() command {
	if p.Agent == nil {
		return fromApp(p.App())
	}
	a := p.Agent
	app := &cli.App{
		Name:  a.Program,
		Usage: "OCF resource agent " + ocfName(a.Name) + " (ocfkit)",
		Commands: append([]*cli.Command{{Name: "version", Usage: "print the version"}},
			a.Commands...),
		HideHelpCommand: true,
	}
	clikit.Prepare(app)
	return fromApp(app)
}

// actions returns the OCF actions an agent program serves.
func (p program) actions() []string {
	if p.Agent == nil {
		return nil
	}
	names := []string{"meta-data", "status", "usage"}
	for n := range p.Agent.Actions {
		names = append(names, n)
	}
	return sorted(names)
}

// ocfName returns an agent's class:provider:type name.
func ocfName(agent string) string { return "ocf:" + metadata.Provider(agent) + ":" + agent }

// agentPage returns the name of an agent's section 7 page, as
// resource-agents names them.
func agentPage(agent string) string {
	return "ocf_" + metadata.Provider(agent) + "_" + agent
}

// programOf returns the program of an agent.
func programOf(agent string) (program, bool) {
	for _, p := range programs {
		if p.Agent != nil && p.Agent.Name == agent {
			return p, true
		}
	}
	return program{}, false
}

// installPath returns where an agent is installed under OCF_ROOT.
func installPath(agent string) string {
	return "resource.d/" + metadata.Provider(agent) + "/" + agent
}

// ocfCodes lists the OCF exit codes an agent uses, with their names.
func ocfCodes() string {
	var s []string
	for c := ocf.Success; c <= ocf.NotRunning; c++ {
		s = append(s, fmt.Sprintf("%d %s", int(c), c))
	}
	return strings.Join(s, ", ")
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}
