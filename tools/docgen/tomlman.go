package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/ocfkit/ocfkit/agents/carphook/config"
)

// tomlKey documents one key of a configuration file. Every key a program
// reads must have one (TestTOMLKeysDocumented).
type tomlKey struct {
	Key, Value, Text string
}

// tomlTable documents one table of a configuration file: the keys of the
// Go struct the program decodes it into.
type tomlTable struct {
	// Title is the section heading, such as "GROUPS: [group.NAME]".
	Title string
	// Struct is a value of the struct the table decodes into; its toml
	// tags are the keys the page must document.
	Struct any
	// Tables are keys of Struct that are tables documented by a section
	// of their own rather than by a key here.
	Tables []string
	// Keys are the documented keys, in the order the page lists them.
	Keys []tomlKey
}

// tomlPage is the section 5 page of a program's TOML configuration file,
// generated from its key docs and its shipped example.
type tomlPage struct {
	// Program is the program reading the file, such as carp-hook.
	Program string
	// Config is the default path of the file.
	Config string
	// Example is the example configuration, relative to the repository;
	// it is shipped in the package's examples.
	Example string
	// Parse validates a file's bytes as the program does.
	Parse func(path string, data []byte) error
	// Description is the DESCRIPTION section's paragraphs.
	Description []string
	// Tables are the sections of keys; the first is the top of the file.
	Tables []tomlTable
	// Files are the FILES entries, the configuration file first; the
	// shipped example follows it.
	Files [][2]string
	// SeeAlso are the pages of SEE ALSO, such as "carp-hook(8)".
	SeeAlso []string
}

// tomlPages are every program's configuration file pages.
var tomlPages = []*tomlPage{carpHookTOML, anycastProbeTOML, dnsFailoverTOML}

// name returns the page's file name, such as carp-hook.toml.5.
func (t *tomlPage) name() string { return t.Program + ".toml.5" }

// page returns the name and text of the page.
func (t *tomlPage) page(g *gen) (string, string) {
	var pg page
	pg.header(t.Program+".toml", 5, g.Date, g.source(), "File Formats Manual", "configuration file of "+t.Program)
	pg.section("SYNOPSIS")
	pg.raw(italic(t.Config))
	pg.section("DESCRIPTION")
	for i, p := range t.Description {
		if i > 0 {
			pg.raw(".PP")
		}
		pg.text(p, ".PP")
	}
	for _, tb := range t.Tables {
		pg.section(tb.Title)
		for _, k := range tb.Keys {
			tag := bold(k.Key)
			if k.Value != "" {
				tag += " = " + italic(k.Value)
			}
			pg.tagged(tag)
			pg.text(k.Text, ".IP")
		}
	}
	pg.section("EXAMPLE")
	if ex, err := os.ReadFile(filepath.Join(g.Root, t.Example)); err == nil {
		pg.example(strings.Split(strings.TrimRight(string(ex), "\n"), "\n")...)
	}
	pg.section("FILES")
	files := append(t.Files[:1:1], [2]string{"/usr/share/doc/ocfkit/examples/" + filepath.Base(t.Example), "The example above."})
	for _, f := range append(files, t.Files[1:]...) {
		pg.tagged(italic(f[0]))
		pg.text(f[1], ".IP")
	}
	pg.section("SEE ALSO")
	var see []string
	for _, s := range t.SeeAlso {
		i := strings.IndexByte(s, '(')
		see = append(see, bold(s[:i])+s[i:])
	}
	pg.raw(strings.Join(see, ",\n"))
	return t.name(), pg.String()
}

// tomlKeys returns the keys of a struct's toml tags, less those named
// "-" or untagged.
func tomlKeys(rt reflect.Type) []string {
	var keys []string
	for i := 0; i < rt.NumField(); i++ {
		k := strings.Split(rt.Field(i).Tag.Get("toml"), ",")[0]
		if k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return keys
}

// tomlTables returns every struct type a file decodes into, from the top
// struct down through its tagged fields (pointers, slices and maps of
// structs).
func tomlTables(rt reflect.Type) []reflect.Type {
	var out []reflect.Type
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		out = append(out, t)
		for i := 0; i < t.NumField(); i++ {
			if k := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]; k != "" && k != "-" {
				walk(t.Field(i).Type)
			}
		}
	}
	walk(rt)
	return out
}

// durationText is how the pages explain a DURATION.
const durationText = "A DURATION is a string such as \"30s\", \"500ms\" or \"1m30s\", or a plain number of seconds."

// rootOnlyText says who may have written a file that names commands run
// as root.
func rootOnlyText(prog string) string {
	return "The file names commands run as root, so " + prog + " reads it only when root alone can have written it: " +
		"a regular file of at most 1 MiB, owned by root (or the user running " + prog + "), not writable by group " +
		"or others, in directories that are not either. Install it with `install -o root -g root -m 0644`."
}

// carpHookTOML is carp-hook.toml(5).
var carpHookTOML = &tomlPage{
	Program: "carp-hook",
	Config:  carphookDefaultConfig,
	Example: "dist/examples/carp-hook.toml",
	Parse: func(path string, data []byte) error {
		_, err := config.Parse(path, data)
		return err
	},
	Description: []string{
		"carp-hook(8) reads a TOML file that names groups: an address (or set of addresses) and what moves with it. " +
			"On MASTER it runs a group's actions in order; on every other state (BACKUP, FAULT, INIT, STOP) it " +
			"runs them in reverse order, each taking down what it brought up. An event selects a group by its name " +
			"or by a key of its match list.",
		"The actions run as root, so carp-hook reads the file only when root alone can have written it: " +
			"a regular file of at most 1 MiB, owned by root (or the user running carp-hook), not writable by group " +
			"or others, in directories that are not either. Install it with `install -o root -g root -m 0644`.",
		"Unknown keys, and keys that do not belong to an action's type, are errors that name the line. " +
			"A DURATION is a string such as \"30s\" or \"1m30s\", or a plain number of seconds. " +
			"`carp-hook check-config FILE` checks a file without acting.",
	},
	Tables: []tomlTable{
		{Title: "TOP-LEVEL KEYS", Struct: config.File{}, Tables: []string{"group"}, Keys: []tomlKey{
			{"state_dir", "PATH", "Absolute path of the directory that holds the lock files, the last event and the outcome of each group. " +
				"Default: /var/run/carp-hook. It is created if missing; it, and every directory above it, must be writable by root (or the user running carp-hook) alone."},
			{"ocf_root", "PATH", "OCF_ROOT given to ocf actions. Default: " + config.DefaultOCFRoot + "."},
		}},
		{Title: "GROUPS: [group.NAME]", Struct: config.Group{}, Keys: []tomlKey{
			{"match", "[KEY, ...]", "Further event keys that select this group, besides its name: a VIP (ucarp without -x), " +
				"a keepalived instance or sync group name, VHID@IFACE (devd), an interface (ifstated). " +
				"A key selects one group only. Keys and group names use letters, digits and . _ - @ : only."},
			{"on_error", "continue|stop|revert", "What happens when an action fails on MASTER: continue with the remaining actions " +
				"and report the failure (the default), stop (skip the remaining actions), or revert (take down what was " +
				"brought up, in reverse order). Going down always runs every action."},
			{"timeout", "DURATION", "Bound of one whole transition. Default: 120s."},
			{"action", "", "The group's actions, each an [[group.NAME.action]] table, in the order they run on MASTER."},
		}},
		{Title: "ACTIONS: [[group.NAME.action]]", Struct: config.Action{}, Keys: []tomlKey{
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
		}},
	},
	Files: [][2]string{{carphookDefaultConfig,
		"The default configuration file; carp-hook --config (or $CARP_HOOK_CONFIG) names another."}},
	SeeAlso: []string{"carp-hook(8)", "ocf-vipcheck(8)"},
}
