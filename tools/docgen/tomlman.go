package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/ocfkit/ocfkit/agents/carphook/config"
)

// tomlKey documents one key of carp-hook's configuration file. Every key
// config reads must have one (TestTOMLKeysDocumented).
type tomlKey struct {
	Key, Value, Text string
}

// carpHookTopKeys are the keys at the top of the file.
var carpHookTopKeys = []tomlKey{
	{"state_dir", "PATH", "Absolute path of the directory that holds the lock files, the last event and the outcome of each group. " +
		"Default: /var/run/carp-hook. It is created if missing; it, and every directory above it, must be writable by root (or the user running carp-hook) alone."},
	{"ocf_root", "PATH", "OCF_ROOT given to ocf actions. Default: " + config.DefaultOCFRoot + "."},
}

// carpHookGroupKeys are the keys of a [group.NAME] table.
var carpHookGroupKeys = []tomlKey{
	{"match", "[KEY, ...]", "Further event keys that select this group, besides its name: a VIP (ucarp without -x), " +
		"a keepalived instance or sync group name, VHID@IFACE (devd), an interface (ifstated). " +
		"A key selects one group only. Keys and group names use letters, digits and . _ - @ : only."},
	{"on_error", "continue|stop|revert", "What happens when an action fails on MASTER: continue with the remaining actions " +
		"and report the failure (the default), stop (skip the remaining actions), or revert (take down what was " +
		"brought up, in reverse order). Going down always runs every action."},
	{"timeout", "DURATION", "Bound of one whole transition. Default: 120s."},
	{"action", "", "The group's actions, each an [[group.NAME.action]] table, in the order they run on MASTER."},
}

// carpHookActionKeys are the keys of an [[group.NAME.action]] table, with
// the action types they apply to.
var carpHookActionKeys = []tomlKey{
	{"type", "TYPE", "The action's type, one of " + strings.Join(config.Types(), ", ") + ". Required."},
	{"interface", "IFACE", "address, announce: the interface."},
	{"addresses", "[ADDRESS, ...]", "address: the addresses with their prefix length (10.0.0.50/24, fd00::50/64), " +
		"added on MASTER and removed otherwise (Linux; on BSD carp(4) owns them and the action does nothing). " +
		"announce: the addresses to announce, without prefix."},
	{"count", "N", "announce: how many gratuitous ARP request and reply pairs (IPv4) or unsolicited " +
		"neighbour advertisements with the override flag (IPv6) to send, 1 to 100. Default: 3."},
	{"interval", "DURATION", "announce: the gap between announcements. Default: 1s."},
	{"unit", "UNIT", "systemd: the unit to start (or restart) on MASTER and stop otherwise, over D-Bus; " +
		"the action waits until the unit is active (or inactive or failed) within its timeout."},
	{"verb", "start|restart", "systemd: what to do on MASTER. Default: start. Stop is the reverse."},
	{"agent", "PATH", "ocf: absolute path of the OCF resource agent, such as /usr/lib/ocf/resource.d/dante/sockd. " +
		"It is started on MASTER (0 is success) and stopped otherwise (0 or 7 is success). " +
		"The agent must not be writable by anyone but root."},
	{"instance", "NAME", "ocf: OCF_RESOURCE_INSTANCE. Default: the group name."},
	{"params", "{ name = \"value\", ... }", "ocf: the instance parameters, passed as OCF_RESKEY_name. " +
		"Names use letters, digits and _ only."},
	{"path", "PATH", "role-file: absolute path of the role file, written atomically: 1 on MASTER, 0 otherwise " +
		"(as ocf-vipcheck -r and check_tcp_raw read it). It must be a regular file or not exist."},
	{"up", "[PROGRAM, ARG, ...]", "exec: the command run on MASTER: an absolute program path and its arguments, " +
		"no shell, no PATH search; CARP_GROUP and CARP_STATE are in its environment. The program must not be " +
		"writable by anyone but root."},
	{"down", "[PROGRAM, ARG, ...]", "exec: the command run on any other state, as up."},
	{"timeout", "DURATION", "systemd, ocf, exec: bound of the action; for ocf also OCF_RESKEY_CRM_meta_timeout. Default: 30s."},
}

// carpHookTOML returns the name and text of carp-hook.toml(5).
func carpHookTOML(g *gen) (string, string) {
	var pg page
	pg.header("carp-hook.toml", 5, g.Date, g.source(), "File Formats Manual", "configuration file of carp-hook")
	pg.section("SYNOPSIS")
	pg.raw(italic(carphookDefaultConfig))
	pg.section("DESCRIPTION")
	pg.text("carp-hook(8) reads a TOML file that names groups: an address (or set of addresses) and what moves with it. "+
		"On MASTER it runs a group's actions in order; on every other state (BACKUP, FAULT, INIT, STOP) it "+
		"runs them in reverse order, each taking down what it brought up. An event selects a group by its name "+
		"or by a key of its match list.", ".PP")
	pg.raw(".PP")
	pg.text("The actions run as root, so carp-hook reads the file only when root alone can have written it: "+
		"a regular file of at most 1 MiB, owned by root (or the user running carp-hook), not writable by group "+
		"or others, in directories that are not either. Install it with `install -o root -g root -m 0644`.", ".PP")
	pg.raw(".PP")
	pg.text("Unknown keys, and keys that do not belong to an action's type, are errors that name the line. "+
		"A DURATION is a string such as \"30s\" or \"1m30s\", or a plain number of seconds. "+
		"`carp-hook check-config FILE` checks a file without acting.", ".PP")
	keys := func(title string, ks []tomlKey) {
		pg.section(title)
		for _, k := range ks {
			tag := bold(k.Key)
			if k.Value != "" {
				tag += " = " + italic(k.Value)
			}
			pg.tagged(tag)
			pg.text(k.Text, ".IP")
		}
	}
	keys("TOP-LEVEL KEYS", carpHookTopKeys)
	keys("GROUPS: [group.NAME]", carpHookGroupKeys)
	keys("ACTIONS: [[group.NAME.action]]", carpHookActionKeys)
	pg.section("EXAMPLE")
	if ex, err := os.ReadFile(filepath.Join(g.Root, carpHookExample)); err == nil {
		pg.example(strings.Split(strings.TrimRight(string(ex), "\n"), "\n")...)
	}
	pg.section("FILES")
	pg.tagged(italic(carphookDefaultConfig))
	pg.text("The default configuration file; carp-hook --config (or $CARP_HOOK_CONFIG) names another.", ".IP")
	pg.tagged(italic("/usr/share/doc/ocfkit/examples/carp-hook.toml"))
	pg.text("The example above.", ".IP")
	pg.section("SEE ALSO")
	pg.raw(bold("carp-hook") + "(8),\n" + bold("ocf-vipcheck") + "(8)")
	return "carp-hook.toml.5", pg.String()
}

// carpHookExample is the example configuration, relative to the
// repository, shipped in the package's examples.
const carpHookExample = "dist/examples/carp-hook.toml"
