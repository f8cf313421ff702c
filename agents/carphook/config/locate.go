package config

import (
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// locator maps dotted key paths to the line they appear on. Elements of
// arrays of tables get their 1-based index as a path part:
// "group.dante.action.2.unit".
type locator map[string]int

func (l locator) line(path string) int { return l[path] }

// nearest returns the line of path or of its closest ancestor that has one.
func (l locator) nearest(path string) int {
	for path != "" {
		if n := l[path]; n > 0 {
			return n
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// locate records the line of every table header and key in data. Inline
// table contents are not descended into (their key gets the line).
func locate(data []byte) (locator, error) {
	loc := locator{}
	counts := map[string]int{} // array-table path (with indexes) -> elements so far
	var current []string
	p := &unstable.Parser{}
	p.Reset(data)
	// resolve turns key parts into a path, inserting the current index of
	// every array of tables along the way.
	resolve := func(parts []string) []string {
		var out []string
		for _, part := range parts {
			out = append(out, part)
			if n, ok := counts[strings.Join(out, ".")]; ok {
				out = append(out, strconv.Itoa(n))
			}
		}
		return out
	}
	keyParts := func(it unstable.Iterator) []string {
		var parts []string
		for it.Next() {
			parts = append(parts, string(it.Node().Data))
		}
		return parts
	}
	for p.NextExpression() {
		n := p.Expression()
		switch n.Kind {
		case unstable.Table:
			current = resolve(keyParts(n.Key()))
			mark(loc, current, keyLine(p, n))
		case unstable.ArrayTable:
			parts := keyParts(n.Key())
			base := resolve(parts[:len(parts)-1])
			base = append(base, parts[len(parts)-1])
			k := strings.Join(base, ".")
			counts[k]++
			current = append(base, strconv.Itoa(counts[k]))
			mark(loc, current, keyLine(p, n))
		case unstable.KeyValue:
			full := append(append([]string{}, current...), keyParts(n.Key())...)
			mark(loc, full, keyLine(p, n))
		}
	}
	return loc, p.Error()
}

// keyLine returns the line of a node's first key part.
func keyLine(p *unstable.Parser, n *unstable.Node) int {
	it := n.Key()
	if !it.Next() {
		return 0
	}
	return p.Shape(it.Node().Raw).Start.Line
}

// mark records line for path and, if not yet known, for each of its
// prefixes.
func mark(loc locator, path []string, line int) {
	for i := 1; i <= len(path); i++ {
		k := strings.Join(path[:i], ".")
		if _, ok := loc[k]; !ok || i == len(path) {
			if i == len(path) || loc[k] == 0 {
				loc[k] = line
			}
		}
	}
}
