package metadata

import (
	"io/fs"
	"sort"
	"strings"
)

// DefaultProvider is the OCF provider of an ocfkit agent, as in
// ocf:ocfkit:vipcheck.
const DefaultProvider = "ocfkit"

// providers lists the agents whose provider is not DefaultProvider: a
// drop-in for a vendor's agent keeps the vendor's name (ocf:dante:sockd),
// so existing resource definitions keep working.
var providers = map[string]string{
	"sockd": "dante",
}

// Provider returns the OCF provider of the named agent: the directory under
// $OCF_ROOT/resource.d/ it is installed in.
func Provider(agent string) string {
	if p, ok := providers[agent]; ok {
		return p
	}
	return DefaultProvider
}

// Names returns the names of every agent that has a meta-data document,
// sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".xml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
